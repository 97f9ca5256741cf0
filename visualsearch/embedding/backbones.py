"""Feature extractors: each maps a (B, 3, H, W) batch to (B, D) features."""

from __future__ import annotations

import torch


class EfficientNetLiteFeatures(torch.nn.Module):
    """EfficientNet-Lite trunk with global average pooling; the 1000-class head is not used.

    The package's own ``forward`` pools and classifies (and prints on one code path), so features are
    taken from ``extract_features``: the 1280-channel map before pooling.

    Average pooling was measured against the alternatives on the eval photos (protocol A, Recall@1 with
    EfficientNet-Lite0 at 224 px): average 0.247, generalised mean p=2/3/4 0.223/0.216/0.203, max 0.172,
    activation-weighted (CroW) 0.250, masked to the salient region (SCDA) 0.257 (within noise, and C drops).
    """

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.net.extract_features(batch).mean(dim=(2, 3))

    def classifier_head(self, features: torch.Tensor) -> torch.Tensor:
        """The wheel's ImageNet head on the pooled features: (B, 1000) logits. Its rows are 1,000 concept
        directions in the embedding space (see ``visualsearch.concepts``)."""
        return self.net._fc(features)

    def concept_directions(self) -> torch.Tensor:
        """(1000, D) weight rows of the head: the direction each concept points to in the feature space."""
        return self.net._fc.weight

    def head_parameters(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The head's (1000, D) weights and (1000,) bias: applied to each cell of the feature map, the class
        activation maps that ``regions.py`` reads objects from."""
        return self.net._fc.weight, self.net._fc.bias


def spatial_features(network: torch.nn.Module, batch: torch.Tensor) -> torch.Tensor | None:
    """(B, C, h, w): the feature map before pooling (each cell a region of the picture), or None for a network
    that does not expose one. Its mean over h and w is exactly the pooled feature the vector is made from."""
    if isinstance(network, EfficientNetLiteFeatures):
        return network.net.extract_features(batch)
    return None
