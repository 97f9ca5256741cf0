"""The embedder: loads a spec's network once per process and turns PIL images into unit vectors."""

from __future__ import annotations

import threading
from collections.abc import Sequence
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
        network = self.network
        torch = self._torch
        with torch.inference_mode():
            batch = batch.to(self.device, non_blocking=True)
            features = network(batch)
            if self.spec.flip_average:
                features = features + network(torch.flip(batch, dims=[3]))
            features = torch.nn.functional.normalize(features.float(), dim=1)
        return features.cpu().numpy()

    def embed(self, images: Sequence[Image.Image]) -> np.ndarray:
        if not images:
            return np.zeros((0, self.spec.dimension), dtype=np.float32)
        return self.embed_batch(self.preprocess(images))


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

    def embed_batch(self, batch) -> np.ndarray:
        return self.spec.adapter.apply(self.base.embed_batch(batch))


@lru_cache(maxsize=16)
def embedder_for(key: str, device: str = "cpu") -> Embedder:
    """One embedder per (model key, device) per process."""
    spec = spec_for(key)
    if spec.adapter is not None:
        return AdapterEmbedder(spec, device=device)
    return Embedder(spec, device=device)
