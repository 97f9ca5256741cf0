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
