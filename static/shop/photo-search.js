// Search by photo: pick, drop, paste or shoot a picture; it is shown at once, shrunk in the browser and sent.
// The shopper can draw or adjust a crop box on it: the browser cuts that part out on a canvas and searches again,
// and the results are swapped in place. No library. Without JavaScript the plain form still works.
(function () {
  "use strict";
  const form = document.getElementById("photo-form");
  if (!form) return;
  document.documentElement.classList.add("js"); // the styled drop zone takes over from the bare file input
  const input = document.getElementById("id_image");
  const camera = document.getElementById("camera-input"); // phones: straight to the camera
  const zone = document.getElementById("dropzone");
  const cropper = document.getElementById("cropper");
  const stage = document.getElementById("crop-stage");
  const preview = document.getElementById("query-preview");
  const box = document.getElementById("crop-box");
  const shade = document.getElementById("crop-shade");
  const status = document.getElementById("status");
  const queryInput = document.getElementById("query-id");
  const resultsArea = document.getElementById("results-area");
  const reset = document.getElementById("crop-reset");
  // The types the server's intake accepts (visualsearch/intake.py ALLOWED_MEDIA_TYPES): only these are shrunk
  // to a JPEG here; any other picture (a GIF) goes to the server as it is, and the server refuses it with its
  // own message, so the page and the API follow one rule.
  const accepted = (form.dataset.acceptedTypes || "").split(" ").filter(Boolean);
  const PHOTOS_KEPT = 4; // earlier photos this tab keeps for Back (a 1024 px JPEG is ~150 KB of the ~5 MB allowed)
  const MAX_SIDE = 1024; // kept in the tab: the model sees 224 px, 1024 leaves room to crop
  const SEND_SIDE = 640; // what is uploaded for one search (whole photo or crop): small and fast on phones
  const MIN_FRACTION = 0.06; // a smaller box has too few pixels to say anything
  const FULL = { x: 0, y: 0, w: 1, h: 1 };

  // Only this tab remembers the photo (sessionStorage); the server keeps the query vector, never the photo.
  let photo = null; // { pid, src, img }
  let crop = FULL;
  let searchTimer = null;
  let inFlight = null;

  function store(key, value) {
    try { sessionStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* full or private mode */ }
  }
  function load(key) {
    try { return JSON.parse(sessionStorage.getItem(key) || "null"); } catch (e) { return null; }
  }
  function say(text) { status.textContent = text || ""; }

  // Each photo under its own key, so Back to an earlier search finds its own photo, not the latest one.
  function storePhoto(pid, src) {
    let pids = (load("photo-pids") || []).filter(function (p) { return p !== pid; });
    pids.push(pid);
    while (pids.length > PHOTOS_KEPT) sessionStorage.removeItem("photo-img:" + pids.shift());
    for (;;) {
      try { sessionStorage.setItem("photo-img:" + pid, JSON.stringify({ pid: pid, src: src })); break; } catch (e) {
        if (pids.length <= 1) break; // it does not fit even alone (private mode): Back shows the results only
        sessionStorage.removeItem("photo-img:" + pids.shift()); // storage full: the oldest photo goes first
      }
    }
    store("photo-pids", pids);
  }

  function loadImage(src) {
    return new Promise(function (resolve, reject) {
      const img = new Image();
      img.onload = function () { resolve(img); };
      img.onerror = function () { reject(new Error("unreadable")); };
      img.src = src;
    });
  }

  // Draw a region of the image (fractions) onto a canvas whose longer side is at most `side`.
  function canvasOf(img, region, side) {
    const sx = region.x * img.naturalWidth, sy = region.y * img.naturalHeight;
    const sw = region.w * img.naturalWidth, sh = region.h * img.naturalHeight;
    const scale = Math.min(1, side / Math.max(sw, sh));
    const canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round(sw * scale));
    canvas.height = Math.max(1, Math.round(sh * scale));
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff"; // transparent PNGs become white, as the catalogue pictures do
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(img, sx, sy, sw, sh, 0, 0, canvas.width, canvas.height);
    return canvas;
  }

  function blobOf(canvas, quality) {
    return new Promise(function (resolve) { canvas.toBlob(resolve, "image/jpeg", quality); });
  }

  function showPhoto() {
    preview.src = photo.src;
    cropper.hidden = false;
    zone.classList.add("compact");
    form.classList.add("has-photo"); // the large "Take a picture" button gives way to a small one by the photo
    drawBox();
  }

  function drawBox() {
    box.style.left = crop.x * 100 + "%";
    box.style.top = crop.y * 100 + "%";
    box.style.width = crop.w * 100 + "%";
    box.style.height = crop.h * 100 + "%";
    const whole = isWhole(crop);
    box.classList.toggle("whole", whole);
    shade.hidden = whole;
    reset.hidden = whole; // "Search the whole photo" only when a part of it is being searched
    // Everything outside the box is dimmed: four shadows would need four divs, one clip-path does it.
    const l = crop.x * 100, t = crop.y * 100, r = (crop.x + crop.w) * 100, b = (crop.y + crop.h) * 100;
    shade.style.clipPath = "polygon(evenodd, 0 0, 100% 0, 100% 100%, 0 100%, 0 0, " +
      l + "% " + t + "%, " + r + "% " + t + "%, " + r + "% " + b + "%, " + l + "% " + b + "%, " + l + "% " + t + "%)";
  }

  function isWhole(c) { return c.x <= 0.001 && c.y <= 0.001 && c.w >= 0.999 && c.h >= 0.999; }

  function clampCrop(c) {
    let w = Math.min(1, Math.max(MIN_FRACTION, c.w)), h = Math.min(1, Math.max(MIN_FRACTION, c.h));
    let x = Math.min(1 - w, Math.max(0, c.x)), y = Math.min(1 - h, Math.max(0, c.y));
    return { x: x, y: y, w: w, h: h };
  }

  async function useFile(file) {
    if (!file) return;
    if (file.type && !file.type.startsWith("image/")) { say(form.dataset.notImage); return; }
    if (file.type && accepted.length && accepted.indexOf(file.type.toLowerCase()) < 0) {
      submitPlain(file); // a GIF, say: the server looks at the file itself and answers why it is refused
      return;
    }
    say(form.dataset.searching);
    const url = URL.createObjectURL(file);
    let img;
    try {
      img = await loadImage(url);
    } catch (e) {
      // The browser cannot decode it (HEIC on some desktops): send it as it is, the server decides.
      URL.revokeObjectURL(url);
      submitPlain(file);
      return;
    }
    const small = canvasOf(img, FULL, MAX_SIDE);
    URL.revokeObjectURL(url);
    const src = small.toDataURL("image/jpeg", 0.88);
    photo = { pid: Math.random().toString(36).slice(2), src: src, img: await loadImage(src) };
    storePhoto(photo.pid, src);
    crop = FULL;
    showPhoto();
    search({ newPhoto: true });
  }

  function submitPlain(file) {
    const transfer = new DataTransfer();
    transfer.items.add(file);
    input.files = transfer.files;
    if (camera) camera.value = ""; // one photo per search
    queryInput.value = "";
    form.classList.add("busy");
    form.submit();
  }

  function filterParams() {
    const data = new FormData(form);
    const params = new URLSearchParams();
    ["category", "min_price", "max_price", "color", "words"].forEach(function (k) {
      const v = (data.get(k) || "").toString().trim();
      if (v) params.set(k, v);
    });
    return params;
  }

  // One search: a new photo or a new crop uploads the (cropped) picture; new filters reuse the query id.
  async function search(opts) {
    opts = opts || {};
    if (inFlight) inFlight.abort();
    const controller = new AbortController();
    inFlight = controller;
    say(form.dataset.searching);
    resultsArea.classList.add("busy");
    let response;
    try {
      if (photo && !opts.filtersOnly) {
        const blob = await blobOf(canvasOf(photo.img, crop, SEND_SIDE), 0.9);
        const data = new FormData(form);
        data.delete("q");
        data.delete("object");
        data.set("cropped", isWhole(crop) ? "" : "1"); // the shopper's box wins: no object step on it
        data.set("image", new File([blob], "photo.jpg", { type: "image/jpeg" }));
        response = await fetch(form.action, { method: "POST", body: data, signal: controller.signal, credentials: "same-origin" });
      } else if (queryInput.value) {
        const params = filterParams();
        params.set("q", queryInput.value);
        if (opts.object !== undefined) params.set("object", String(opts.object));
        response = await fetch(form.action + "?" + params.toString(), { signal: controller.signal, credentials: "same-origin" });
      } else {
        return;
      }
      const html = await response.text();
      if (controller.signal.aborted) return;
      swapResults(html, response.url, opts.newPhoto);
      say("");
      if (opts.newPhoto) revealResults();
    } catch (e) {
      if (e.name !== "AbortError") say(form.dataset.failed);
    } finally {
      if (inFlight === controller) { inFlight = null; resultsArea.classList.remove("busy"); }
    }
  }

  function swapResults(html, url, newEntry) {
    const doc = new DOMParser().parseFromString(html, "text/html");
    const fresh = doc.getElementById("results-area");
    if (fresh) resultsArea.innerHTML = fresh.innerHTML;
    drawObjects();
    showWhyButtons();
    const q = new URL(url, location.href).searchParams.get("q") || "";
    queryInput.value = q;
    if (q) {
      if (photo) store("photo:" + q, { pid: photo.pid, crop: crop });
      // A new photo is a new entry in the history (newest search first); a new crop or filter replaces it.
      if (newEntry) history.pushState({ q: q }, "", url); else history.replaceState({ q: q }, "", url);
    }
  }

  // On a phone the photo, its buttons and the filters fill the first screen and more: bring the results up
  // under the sticky header. On a wide screen the photo stays in view for framing; scroll only when not even
  // the top of the first row of results shows.
  function revealResults() {
    const top = resultsArea.getBoundingClientRect().top;
    const header = document.querySelector(".topbar");
    const headerHeight = header ? header.getBoundingClientRect().height : 0;
    let target;
    if (window.matchMedia("(max-width: 820px)").matches) target = window.scrollY + top - headerHeight - 8;
    else if (top > window.innerHeight - 160) target = window.scrollY + top - (window.innerHeight - 380);
    else return;
    const calm = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    window.scrollTo({ top: Math.max(0, target), behavior: calm ? "auto" : "smooth" });
  }

  function scheduleSearch(opts) {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(function () { search(opts); }, 250);
  }

  // --- the crop box: draw, move, resize with the pointer; move and resize with the keyboard ---
  let drag = null;

  function pointFrom(e) {
    const r = preview.getBoundingClientRect();
    return {
      x: Math.min(1, Math.max(0, (e.clientX - r.left) / r.width)),
      y: Math.min(1, Math.max(0, (e.clientY - r.top) / r.height)),
    };
  }

  stage.addEventListener("pointerdown", function (e) {
    if (!photo || e.button > 0) return;
    e.preventDefault();
    const p = pointFrom(e);
    const handle = e.target.dataset && e.target.dataset.handle;
    const inside = p.x > crop.x && p.x < crop.x + crop.w && p.y > crop.y && p.y < crop.y + crop.h;
    if (handle) drag = { mode: "resize", handle: handle, start: p, from: crop };
    else if (inside && !isWhole(crop)) drag = { mode: "move", start: p, from: crop };
    else drag = { mode: "draw", start: p, from: crop };
    stage.setPointerCapture(e.pointerId);
  });

  stage.addEventListener("pointermove", function (e) {
    if (!drag) return;
    const p = pointFrom(e), s = drag.start, f = drag.from;
    if (drag.mode === "draw") {
      const w = Math.abs(p.x - s.x), h = Math.abs(p.y - s.y);
      if (w < 0.01 && h < 0.01) return;
      crop = clampCrop({ x: Math.min(p.x, s.x), y: Math.min(p.y, s.y), w: w, h: h });
    } else if (drag.mode === "move") {
      crop = clampCrop({ x: f.x + p.x - s.x, y: f.y + p.y - s.y, w: f.w, h: f.h });
    } else {
      let left = f.x, top = f.y, right = f.x + f.w, bottom = f.y + f.h;
      if (drag.handle.includes("w")) left = Math.min(p.x, right - MIN_FRACTION);
      if (drag.handle.includes("e")) right = Math.max(p.x, left + MIN_FRACTION);
      if (drag.handle.includes("n")) top = Math.min(p.y, bottom - MIN_FRACTION);
      if (drag.handle.includes("s")) bottom = Math.max(p.y, top + MIN_FRACTION);
      crop = clampCrop({ x: left, y: top, w: right - left, h: bottom - top });
    }
    drawBox();
  });

  function endDrag() {
    if (!drag) return;
    const changed = JSON.stringify(drag.from) !== JSON.stringify(crop);
    drag = null;
    if (changed) scheduleSearch();
  }
  stage.addEventListener("pointerup", endDrag);
  stage.addEventListener("pointercancel", endDrag);

  box.addEventListener("keydown", function (e) {
    const step = e.altKey ? 0.01 : 0.04;
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (!moves[e.key] || !photo) return;
    e.preventDefault();
    const d = moves[e.key];
    let next = e.shiftKey
      ? { x: crop.x, y: crop.y, w: crop.w + d[0], h: crop.h + d[1] }
      : { x: crop.x + d[0], y: crop.y + d[1], w: crop.w, h: crop.h };
    if (isWhole(crop) && !e.shiftKey) next = { x: 0.2, y: 0.2, w: 0.6, h: 0.6 }; // first key press: a box to move
    crop = clampCrop(next);
    drawBox();
    scheduleSearch();
  });

  reset.addEventListener("click", function () {
    if (!photo || isWhole(crop)) return;
    crop = FULL;
    drawBox();
    search();
  });

  // --- objects found in the photo ("shop the look"): a box on the photo for each; a tap searches that one ---
  function foundObjects() {
    const nav = resultsArea.querySelector(".found-objects");
    try { return nav ? JSON.parse(nav.dataset.objects || "[]") : []; } catch (e) { return []; }
  }

  function drawObjects() {
    stage.querySelectorAll(".object-box").forEach(function (el) { el.remove(); });
    if (!photo) return;
    foundObjects().forEach(function (o, n) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "object-box" + (o.active ? " active" : "");
      button.style.left = o.x * 100 + "%";
      button.style.top = o.y * 100 + "%";
      button.style.width = o.w * 100 + "%";
      button.style.height = o.h * 100 + "%";
      button.textContent = String(n + 1);
      button.setAttribute("aria-label", (form.dataset.objectLabel || "Item") + " " + (n + 1));
      button.addEventListener("pointerdown", function (e) { e.stopPropagation(); });
      button.addEventListener("click", function () { pickObject(o.index); });
      stage.appendChild(button);
    });
  }

  // The crop box moves to the object; its vector is on the server already, so nothing is uploaded.
  function pickObject(index) {
    const o = foundObjects().find(function (item) { return item.index === index; });
    if (!o) return;
    crop = clampCrop({ x: o.x, y: o.y, w: o.w, h: o.h });
    drawBox();
    search({ filtersOnly: true, object: index });
  }

  resultsArea.addEventListener("click", function (e) {
    const chip = e.target.closest && e.target.closest(".found-objects .chip");
    if (!chip || !photo) return;
    e.preventDefault();
    pickObject(Number(chip.dataset.index));
  });

  // --- "Why this?": only for the shopper who asks. The server keeps no photo, so the one this tab holds (as
  // searched: the crop) goes with the result's picture id; the answer is a small panel under the card. ---
  function showWhyButtons() {
    resultsArea.querySelectorAll(".why-this").forEach(function (b) { b.hidden = !photo; });
  }

  function closeWhy() {
    resultsArea.querySelectorAll(".why-panel").forEach(function (el) { el.remove(); });
    resultsArea.querySelectorAll(".why-this[aria-expanded=true]").forEach(function (b) {
      b.setAttribute("aria-expanded", "false");
    });
  }

  resultsArea.addEventListener("click", async function (e) {
    const button = e.target.closest && e.target.closest(".why-this");
    if (!button || !photo) return;
    e.preventDefault();
    const open = resultsArea.querySelector(".why-panel");
    const wasThis = open && open.dataset.for === button.dataset.image;
    closeWhy();
    if (wasThis) return; // a second press closes it
    const holder = document.createElement("div");
    holder.className = "why-panel loading";
    holder.dataset.for = button.dataset.image;
    holder.setAttribute("role", "status");
    holder.textContent = form.dataset.whyBusy;
    button.closest(".card").after(holder);
    button.setAttribute("aria-expanded", "true");
    const data = new FormData();
    data.set("csrfmiddlewaretoken", form.querySelector("[name=csrfmiddlewaretoken]").value);
    data.set("image_id", button.dataset.image);
    data.set("image", new File([await blobOf(canvasOf(photo.img, crop, SEND_SIDE), 0.9)], "photo.jpg", { type: "image/jpeg" }));
    try {
      const response = await fetch(form.dataset.whyUrl, { method: "POST", body: data, credentials: "same-origin" });
      const panel = new DOMParser().parseFromString(await response.text(), "text/html").querySelector(".why-panel");
      if (!holder.isConnected) return; // closed, or new results, meanwhile
      if (!panel) { holder.textContent = form.dataset.failed; return; }
      panel.dataset.for = button.dataset.image;
      holder.replaceWith(panel);
    } catch (err) {
      if (holder.isConnected) holder.textContent = form.dataset.failed;
    }
  });

  // --- picking the photo ---
  input.addEventListener("change", function () { useFile(input.files[0]); });
  if (camera) camera.addEventListener("change", function () { useFile(camera.files[0]); });
  ["dragenter", "dragover"].forEach(function (name) {
    form.addEventListener(name, function (e) { e.preventDefault(); zone.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (name) {
    form.addEventListener(name, function (e) { e.preventDefault(); zone.classList.remove("over"); });
  });
  form.addEventListener("drop", function (e) { useFile(e.dataTransfer.files[0]); });
  zone.addEventListener("keydown", function (e) {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); }
  });
  document.addEventListener("paste", function (e) {
    const items = Array.from((e.clipboardData && e.clipboardData.items) || []);
    const item = items.find(function (i) { return i.type.startsWith("image/"); });
    if (item) { e.preventDefault(); useFile(item.getAsFile()); }
  });

  // New filters: search again with the remembered query, no upload.
  form.addEventListener("submit", function (e) {
    if ((input.files.length || (camera && camera.files.length)) && !photo) return; // unreadable here: plain way
    if (!queryInput.value && !photo) return; // nothing searched yet: let the server say what is missing
    e.preventDefault();
    search({ filtersOnly: !!queryInput.value });
  });
  form.querySelectorAll("#photo-filters select").forEach(function (el) {
    el.addEventListener("change", function () { if (queryInput.value) scheduleSearch({ filtersOnly: true }); });
  });

  // Back to an earlier search: the server renders its results; this tab still has its photo and crop.
  function restore() {
    const q = new URLSearchParams(location.search).get("q");
    const saved = q && load("photo:" + q);
    const image = saved && load("photo-img:" + saved.pid); // the photo of this search, not the latest one
    if (!saved || !image || image.pid !== saved.pid) return;
    loadImage(image.src).then(function (img) {
      photo = { pid: image.pid, src: image.src, img: img };
      crop = saved.crop || FULL;
      showPhoto();
      drawObjects();
      showWhyButtons();
    });
  }
  window.addEventListener("popstate", function () { location.reload(); });
  restore();
})();
