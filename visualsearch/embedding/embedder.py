"""The embedder: loads a spec's network once per process and turns PIL images into unit vectors."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

from .specs import EmbeddingSpec, spec_for


def resolve_device(name: str) -> str:
    """"auto" picks CUDA when present; anything else is passed to torch as it is ("cpu", "cuda:1")."""
    if name != "auto":
        return name
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


CONCEPTS_KEPT = 32
"""Concepts kept per picture: its 32 most likely ImageNet classes. Ranking products by one concept needs the
concept's probability on pictures where it is not the top class (a stylised shoe's top class may be
"corkscrew" with "running shoe" fifth), so a top-1 label would not do; 32 of 1,000 keep over 95 % of the mass."""


@dataclass(frozen=True)
class EmbeddedBatch:
    vectors: np.ndarray
    """(B, D) float32 unit vectors."""
    concepts: list[dict[int, float]] | None
    """Per picture: ImageNet class index -> probability for its ``CONCEPTS_KEPT`` likeliest classes; None when
    the key's network has no classifier head (downloaded torchvision models, whose heads are cut off)."""


class Embedder:
    def __init__(self, spec: EmbeddingSpec, *, device: str = "cpu", pretrained: bool = True) -> None:
        self.spec = spec
        self.device = resolve_device(device)
        self._pretrained = pretrained
        self._network = None
        self._lock = threading.Lock()

    @property
    def network(self):
        # Lazy: importing this module costs nothing; the first embed loads torch and the weights.
        if self._network is None:
            with self._lock:
                if self._network is None:
                    import torch

                    network = self.spec.build(self._pretrained).eval().to(self.device)
                    for parameter in network.parameters():
                        parameter.requires_grad_(False)
                    self._torch = torch
                    self._network = network
        return self._network

    def preprocess(self, images: Sequence[Image.Image]):
        import torch

        return torch.stack([self.spec.preprocessing(image) for image in images])

    def embed_batch(self, batch) -> np.ndarray:
        """Embed an already preprocessed (B, 3, H, W) tensor; returns (B, D) float32 unit vectors."""
        return self.embed_batch_with_concepts(batch, concepts=False).vectors

    CPU_CHUNK = 4
    """On a CPU the network runs a batch in chunks of this many pictures. EfficientNet-Lite's depthwise
    convolutions thrash the cache with 32 pictures in flight: on this 2-core machine Lite1 embedded 14-17 img/s
    in batches of 32 and 43-51 img/s in chunks of 4 (same tensors, alternating runs, /tmp/chunks.py in the issue
    note). A GPU keeps the whole batch."""

    def embed_batch_with_concepts(self, batch, *, concepts: bool = True) -> EmbeddedBatch:
        """The vectors and, from the same forward pass, each picture's likeliest ImageNet concepts."""
        self.network  # loads torch and the weights
        if self.device == "cpu" and len(batch) > self.CPU_CHUNK:
            parts = [self._embed_chunk(batch[start:start + self.CPU_CHUNK], concepts=concepts)
                     for start in range(0, len(batch), self.CPU_CHUNK)]
            found = None if parts[0].concepts is None else [c for part in parts for c in part.concepts]
            return EmbeddedBatch(vectors=np.concatenate([part.vectors for part in parts]), concepts=found)
        return self._embed_chunk(batch, concepts=concepts)

    def _embed_chunk(self, batch, *, concepts: bool) -> EmbeddedBatch:
        network = self.network
        torch = self._torch
        with torch.inference_mode():
            batch = batch.to(self.device, non_blocking=True)
            features = network(batch)
            if self.spec.flip_average:
                features = (features + network(torch.flip(batch, dims=[3]))) / 2
            found = None
            head = getattr(network, "classifier_head", None)
            if concepts and head is not None:
                probabilities = head(features).float().softmax(dim=1)
                values, indices = probabilities.topk(CONCEPTS_KEPT, dim=1)
                found = [
                    {int(i): round(float(v), 5) for i, v in zip(row_i.tolist(), row_v.tolist(), strict=True)}
                    for row_i, row_v in zip(indices.cpu(), values.cpu(), strict=True)
                ]
            vectors = torch.nn.functional.normalize(features.float(), dim=1)
        return EmbeddedBatch(vectors=vectors.cpu().numpy(), concepts=found)

    def embed(self, images: Sequence[Image.Image]) -> np.ndarray:
        if not images:
            return np.zeros((0, self.spec.dimension), dtype=np.float32)
        return self.embed_batch(self.preprocess(images))

    def embed_with_concepts(self, images: Sequence[Image.Image]) -> EmbeddedBatch:
        if not images:
            return EmbeddedBatch(vectors=np.zeros((0, self.spec.dimension), dtype=np.float32), concepts=[])
        return self.embed_batch_with_concepts(self.preprocess(images))

    def concept_directions(self) -> np.ndarray | None:
        """(1000, D) unit rows: each ImageNet concept's direction in this key's space, or None without a head."""
        directions = getattr(self.network, "concept_directions", None)
        if directions is None:
            return None
        with self._torch.inference_mode():
            rows = self._torch.nn.functional.normalize(directions().float(), dim=1)
        return rows.cpu().numpy()


class AdapterEmbedder(Embedder):
    """A trained adapter's key: the base key's embedder (shared, loaded once) followed by the adapter."""

    def __init__(self, spec: EmbeddingSpec, *, device: str = "cpu", pretrained: bool = True) -> None:
        super().__init__(spec, device=device, pretrained=pretrained)
        self.base = embedder_for(spec.base_key, device) if pretrained else Embedder(
            spec_for(spec.base_key), device=device, pretrained=False
        )

    @property
    def network(self):
        return self.base.network

    def embed_batch_with_concepts(self, batch, *, concepts: bool = True) -> EmbeddedBatch:
        # The concepts read the base network's features: the adapter changes the space, not what is pictured.
        base = self.base.embed_batch_with_concepts(batch, concepts=concepts)
        return EmbeddedBatch(vectors=self.spec.adapter.apply(base.vectors), concepts=base.concepts)

    def concept_directions(self) -> np.ndarray | None:
        return None  # the head's rows live in the base space, not in the adapter's


@lru_cache(maxsize=16)
def embedder_for(key: str, device: str = "cpu") -> Embedder:
    """One embedder per (model key, device) per process."""
    spec = spec_for(key)
    if spec.adapter is not None:
        return AdapterEmbedder(spec, device=device)
    return Embedder(spec, device=device)
