"""What the network recognises in a photo, and where: regions of its class activation maps. No Django here.

    from visualsearch.embedding.regions import recognised_regions
    for region in recognised_regions(embedder, pil_image):
        region.box, region.concept, region.vector     # fractions of the photo, ImageNet class, unit vector

A room photo holds a dozen products, and U²-Net (``objects.py``) finds about one salient thing in it. The key's own
network knows more: its ImageNet head, applied to each cell of the feature map before pooling, is a class
activation map (CAM; Zhou et al., "Learning Deep Features for Discriminative Localization", CVPR 2016) for each of
the photo's likeliest concepts: where the "table lamp", the "studio couch" and the "bookcase" are. Each concept's
map gives one box; the box's vector is the mean of the same feature map over its cells, which is how the key
pools a whole picture, so it lies in the key's space and is searched like any object's crop.

The photo is run once more for this, whole (aspect ratio kept, no centre crop) and at a larger size than the
key's own: a product in a room is a small part of the photo, and the catalogue's packshots show it filling the
frame. Measured on protocol D (103 IKEA room photos against 2,166 packshots, Lite1, the shop's objects kept and
at most 5 objects in all, regions dropped only when they repeat a salient box; cached features, plain cosine for
the regions, scripts outside the repository, 2026-12-04): recall@10 of every list 0.043 without regions; with
regions at 320 px 0.087, 400 px 0.086, **480 px 0.111**, 560 px 0.106-0.111; rooms with a right product in the
top 10 0.340 -> 0.689 at 480 px. Four fixed corner crops, embedded, give 0.099 / 0.699 at four forwards (68 ms
here) against this one forward (56 ms at 480 x 352), and boxes nobody would call an object. Pooling the region
from the map did as well as cropping and embedding it (480 px, no cap on objects: 0.119 vs 0.114) at no forward
per region. On the shop's own path, with the rules that keep a packshot one object (``selectors._regions_beyond``):
0.038 -> 0.089 for a fresh shop, 0.062 -> 0.111 (rooms with a hit 0.515 -> 0.718) with earlier shoppers' room
photos.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from .backbones import spatial_features
from .objects import ObjectBox, mask_components

DEFAULT_SIDE = 480
"""The longer side of the photo as the network reads it for regions (a multiple of 32); see the module's figures."""

CONCEPTS = 10
"""The photo's likeliest concepts that each get a map (by the head's logits on the whole photo's pooled map)."""

THRESHOLD = 0.7
"""A cell belongs to a concept's region when its min-max normalised activation is at least this. Protocol D's
recall@10 at 480 px: 0.6 -> 0.097, 0.7 -> 0.111, 0.8 -> 0.103 (CAM's paper draws boxes at 0.2 for one object that
fills an ImageNet photo; in a room the maps of several concepts overlap, and only their peaks tell them apart)."""

MIN_LIKELIHOOD = 0.05
"""A concept under 5 % of the likeliest concept's probability gets no region: when the network is
sure of one thing, its other concepts only light up parts of that thing. A guard, not a measured gain: at the
480 px view few photos are that sure (20 grocery packshots: the likeliest concept at a median 0.022, none with
its tenth concept under 5 % of it; rooms: a median 0.036), and protocol D's recall@10 is the same with it (0.097
both on cached features; 0.092 at 20 %). The rules that keep a packshot one object are in
``selectors._regions_beyond``."""

MIN_AREA = 0.02
"""Regions under 2 % of the photo are specks (as for salient objects)."""

MAX_AREA = 0.85
"""A region over 85 % of the photo is the photo, which is searched already."""

SAME_IOU = 0.5
SAME_CONTAINED = 0.8
"""Two concepts' boxes are one thing when their IoU is at least 0.5 or 80 % of the smaller lies in the larger
("studio couch" and "quilt" on the same sofa): the likelier concept keeps it."""


@dataclass(frozen=True)
class RecognisedRegion:
    box: ObjectBox
    """Fractions of the photo's width and height; its ``score`` is the concept's probability for the photo."""
    concept: int
    """The ImageNet class whose activation map gave the box (``visualsearch.concepts`` names it)."""
    vector: np.ndarray
    """(D,) unit vector: the feature map's mean over the box's cells."""


def _network_input(embedder, image: Image.Image, side: int):
    import torch

    width, height = image.size
    scale = side / max(width, height)
    size = (max(32, round(width * scale / 32) * 32), max(32, round(height * scale / 32) * 32))
    resized = image.convert("RGB").resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0)
    preprocessing = embedder.spec.preprocessing
    array = np.asarray(resized, dtype=np.float32) / 255.0
    array = (array - np.asarray(preprocessing.mean, np.float32)) / np.asarray(preprocessing.std, np.float32)
    return torch.from_numpy(array.transpose(2, 0, 1)[None].copy())


def regions_from_map(features: np.ndarray, *, weights: np.ndarray, bias: np.ndarray, concepts: int = CONCEPTS,
                     threshold: float = THRESHOLD, limit: int = 5) -> list[RecognisedRegion]:
    """Regions of a (C, h, w) feature map under a linear head (``weights`` (K, C), ``bias`` (K,)), likeliest first."""
    channels, height, width = features.shape
    probabilities = _probabilities(features.mean(axis=(1, 2)), weights, bias)
    found: list[RecognisedRegion] = []
    likeliest = float(probabilities.max())
    for concept in np.argsort(-probabilities)[:concepts].tolist():
        if probabilities[concept] < MIN_LIKELIHOOD * likeliest:
            break
        activation = np.tensordot(weights[concept], features, axes=1)  # (h, w): the concept's map
        low, high = float(activation.min()), float(activation.max())
        if high - low < 1e-6:
            continue
        normalised = (activation - low) / (high - low)
        components = mask_components(normalised >= threshold, normalised)
        x0, y0, x1, y1, _, _ = max(components, key=lambda c: c[5])
        box = ObjectBox(x0 / width, y0 / height, x1 / width, y1 / height, round(float(probabilities[concept]), 4))
        if not MIN_AREA <= box.area <= MAX_AREA:
            continue
        if any(box.same_thing_as(other.box, iou=SAME_IOU, contained=SAME_CONTAINED) for other in found):
            continue
        vector = features[:, y0:y1, x0:x1].mean(axis=(1, 2))
        found.append(RecognisedRegion(box=box, concept=concept, vector=vector / np.linalg.norm(vector)))
        if len(found) >= limit:
            break
    return found


def _probabilities(pooled: np.ndarray, weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
    logits = weights @ pooled + bias
    probabilities = np.exp(logits - logits.max())
    return probabilities / probabilities.sum()


@dataclass(frozen=True)
class PhotoMap:
    """One forward of the whole photo at ``side`` px: its feature map and the head that reads concepts from it."""

    features: np.ndarray
    """(C, h, w) float32."""
    weights: np.ndarray
    bias: np.ndarray

    def pooled(self, box: ObjectBox) -> np.ndarray:
        """(D,) unit vector: the map's mean over the cells a box touches (at least one), the key's own pooling.

        The salient objects after the main one get their vectors here too, not by embedding each crop: one
        forward for every box. Protocol D with the regions, cached features: recall@10 0.119 either way (scripts
        outside the repository). The main object, which leads the first results, stays an embedded crop: pooled,
        protocol A on the shop's path lost R@1 0.389 -> 0.375 and R@10 0.797 -> 0.787 (cached features had shown
        0.358 -> 0.368: the shop's own intake differs)."""
        vector = self._mean(box)
        return vector / max(float(np.linalg.norm(vector)), 1e-12)

    def concepts(self, box: ObjectBox, *, count: int = CONCEPTS) -> dict[int, float]:
        """The ``count`` likeliest concepts of what lies in the box, with their probabilities."""
        probabilities = _probabilities(self._mean(box), self.weights, self.bias)
        return {int(i): float(probabilities[i]) for i in np.argsort(-probabilities)[:count]}

    def _mean(self, box: ObjectBox) -> np.ndarray:
        channels, height, width = self.features.shape
        left, top = min(width - 1, int(np.floor(box.x0 * width))), min(height - 1, int(np.floor(box.y0 * height)))
        right, bottom = max(left + 1, int(np.ceil(box.x1 * width))), max(top + 1, int(np.ceil(box.y1 * height)))
        return self.features[:, top:bottom, left:right].mean(axis=(1, 2))

    def regions(self, *, limit: int = 5) -> list[RecognisedRegion]:
        return regions_from_map(self.features, weights=self.weights, bias=self.bias, limit=limit)


def photo_map(embedder, image: Image.Image, *, side: int = DEFAULT_SIDE) -> PhotoMap | None:
    """The photo's feature map at ``side``, or None for a key whose network has no classifier head or feature map
    to read (downloaded torchvision models)."""
    network = embedder.network
    head = getattr(network, "head_parameters", None)
    if head is None:
        return None
    import torch

    with torch.inference_mode():
        features = spatial_features(network, _network_input(embedder, image, side).to(embedder.device))
        if features is None:
            return None
        weights, bias = (tensor.float().cpu().numpy() for tensor in head())
    return PhotoMap(features=features[0].float().cpu().numpy(), weights=weights, bias=bias)


def recognised_regions(
    embedder, image: Image.Image, *, side: int = DEFAULT_SIDE, limit: int = 5
) -> list[RecognisedRegion]:
    """The regions of the photo's likeliest concepts (at most ``limit``); [] for a key without a head to read."""
    found = photo_map(embedder, image, side=side)
    return [] if found is None or limit <= 0 else found.regions(limit=limit)
