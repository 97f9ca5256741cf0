// Search by photo: pick, drop or paste a picture; it is shown at once, shrunk in the browser and sent.
// No library: a canvas does the resizing. Without JavaScript the plain form still works.
(function () {
  "use strict";
  const form = document.getElementById("photo-form");
  if (!form) return;
  const input = form.querySelector("input[type=file]");
  const zone = document.getElementById("dropzone");
  const preview = document.getElementById("query-preview");
  const status = document.getElementById("status");
  const MAX_SIDE = 1024; // the model sees 224 px; 1024 keeps room for a crop and uploads fast on phones

  // The results page shows the photo the shopper sent; it lives in this tab's sessionStorage only.
  const params = new URLSearchParams(location.search);
  const q = params.get("q");
  if (q) {
    const pending = sessionStorage.getItem("photo-pending");
    if (pending) { sessionStorage.setItem("photo:" + q, pending); sessionStorage.removeItem("photo-pending"); }
    const shown = sessionStorage.getItem("photo:" + q);
    if (shown) showPreview(shown);
  }

  function showPreview(url) {
    preview.src = url;
    preview.hidden = false;
    zone.classList.add("has-photo");
  }

  function loadImage(file) {
    return new Promise(function (resolve, reject) {
      const url = URL.createObjectURL(file);
      const img = new Image();
      img.onload = function () { resolve(img); };
      img.onerror = function () { URL.revokeObjectURL(url); reject(new Error("unreadable")); };
      img.src = url;
    });
  }

  function toBlob(img, side, quality) {
    const scale = Math.min(1, side / Math.max(img.naturalWidth, img.naturalHeight));
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(img.naturalWidth * scale);
    canvas.height = Math.round(img.naturalHeight * scale);
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
    return new Promise(function (resolve) {
      canvas.toBlob(function (blob) { resolve({ blob: blob, dataUrl: side <= 320 ? canvas.toDataURL("image/jpeg", 0.8) : null }); }, "image/jpeg", quality);
    });
  }

  async function useFile(file) {
    if (!file) return;
    if (!file.type.startsWith("image/")) {
      status.textContent = form.dataset.notImage || "This file is not a picture.";
      return;
    }
    status.textContent = "…";
    let img;
    try {
      img = await loadImage(file);
    } catch (e) {
      // The browser cannot decode it (HEIC on some desktops): send it as it is, the server decides.
      submitWith(file);
      return;
    }
    showPreview(img.src);
    const small = await toBlob(img, 320, 0.8);
    try { sessionStorage.setItem("photo-pending", small.dataUrl); } catch (e) { /* storage full: no preview */ }
    const sized = await toBlob(img, MAX_SIDE, 0.9);
    submitWith(new File([sized.blob], "photo.jpg", { type: "image/jpeg" }));
  }

  function submitWith(file) {
    const transfer = new DataTransfer();
    transfer.items.add(file);
    input.files = transfer.files;
    form.classList.add("busy");
    form.submit();
  }

  input.addEventListener("change", function () { useFile(input.files[0]); });
  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (e) { e.preventDefault(); zone.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (name) {
    zone.addEventListener(name, function (e) { e.preventDefault(); zone.classList.remove("over"); });
  });
  zone.addEventListener("drop", function (e) { useFile(e.dataTransfer.files[0]); });
  zone.addEventListener("keydown", function (e) {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); }
  });
  document.addEventListener("paste", function (e) {
    const item = Array.from(e.clipboardData.items).find(function (i) { return i.type.startsWith("image/"); });
    if (item) { e.preventDefault(); useFile(item.getAsFile()); }
  });
})();
