from shop.partners.tests.api.fixtures import webhook_receiver  # noqa: F401  (a real HTTP server on loopback)
