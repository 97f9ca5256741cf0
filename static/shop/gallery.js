// Product gallery: a thumbnail shows its picture in the main frame (without JavaScript, it opens the picture).
(function () {
  "use strict";
  const gallery = document.querySelector("[data-gallery]");
  if (!gallery) return;
  const main = gallery.querySelector("[data-gallery-main]");
  gallery.querySelectorAll("a[data-full]").forEach(function (link) {
    link.addEventListener("click", function (e) {
      e.preventDefault();
      main.src = link.dataset.full;
      main.alt = link.dataset.alt;
      gallery.querySelectorAll("a[aria-current]").forEach(function (a) { a.removeAttribute("aria-current"); });
      link.setAttribute("aria-current", "true");
    });
  });
})();

// Variant choice: the chosen variant's picture, price, stock and SKU, and its id in the address (a shared link or
// Back opens the same one). Without JavaScript the radio buttons still choose what goes into the cart.
(function () {
  "use strict";
  const form = document.querySelector("[data-variant-form]");
  if (!form) return;
  const main = document.querySelector("[data-gallery-main]");
  const price = document.querySelector("[data-variant-price]");
  const stock = document.querySelector("[data-variant-stock]");
  const sku = document.querySelector("[data-variant-sku]");
  const name = form.querySelector("[data-variant-name]");
  const quantity = form.querySelector("[data-variant-quantity]");
  form.querySelectorAll("input[name=variant]").forEach(function (radio) {
    radio.addEventListener("change", function () {
      if (!radio.checked) return;
      const d = radio.dataset;
      if (main && d.full) {
        main.src = d.full; main.alt = d.alt;
        document.querySelectorAll("[data-gallery] a[data-full]").forEach(function (a) {
          if (a.dataset.full === d.full) a.setAttribute("aria-current", "true"); else a.removeAttribute("aria-current");
        });
      }
      if (price) price.textContent = d.price;
      if (stock) { stock.textContent = d.stockText; stock.className = "stock in"; }
      if (sku) sku.textContent = d.sku;
      if (name) name.textContent = d.name;
      if (quantity) quantity.max = Math.min(99, parseInt(d.stock, 10) || 1);
      const url = new URL(window.location.href);
      url.searchParams.set("variant", radio.value);
      window.history.replaceState(window.history.state, "", url);
    });
  });
})();
