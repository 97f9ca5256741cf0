"""Feature extractors: each maps a (B, 3, H, W) batch to (B, D) features."""

from __future__ import annotations

import torch


class EfficientNetLiteFeatures(torch.nn.Module):
    """EfficientNet-Lite trunk with global pooling; the 1000-class head is not used.

    The package's own ``forward`` pools and classifies (and prints on one code path), so features are
    taken from ``extract_features``: the 1280-channel map before pooling.

    ``gem_p``: generalised-mean pooling (Radenović et al., 2018) with a fixed exponent. p=1 is average pooling;
    a larger p leans toward the strongest activations, i.e. toward the object rather than the background or
    the shelf around it. Measured on the eval photos (see evaluation.md in the report): p=3 lifts instance
    retrieval, the usual value in the literature too.
    """

    def __init__(self, net: torch.nn.Module, *, gem_p: float = 1.0) -> None:
        super().__init__()
        self.net = net
        self.gem_p = float(gem_p)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        features = self.net.extract_features(batch)
        if self.gem_p == 1.0:
            return features.mean(dim=(2, 3))
        # The map ends in a swish, which dips slightly below zero; GeM needs non-negative inputs.
        return features.clamp(min=1e-6).pow(self.gem_p).mean(dim=(2, 3)).pow(1.0 / self.gem_p)
