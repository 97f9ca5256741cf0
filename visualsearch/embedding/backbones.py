"""Feature extractors: each maps a (B, 3, H, W) batch to (B, D) features."""

from __future__ import annotations

import torch


class EfficientNetLiteFeatures(torch.nn.Module):
    """EfficientNet-Lite trunk with global average pooling; the 1000-class head is not used.

    The package's own ``forward`` pools and classifies (and prints on one code path), so features are
    taken from ``extract_features``: the 1280-channel map before pooling.
    """

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.net.extract_features(batch).mean(dim=(2, 3))
