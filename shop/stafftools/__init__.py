"""Staff tools on top of search by photo (identify goods, match outside listings), shared by the admin pages
(shop.backoffice) and the partner API (shop.partners)."""
