"""The object step: U²-Net-p masks turned into one box per object, on real 3D product renders of the demo catalogue."""

import io

import numpy as np
import pytest
from PIL import Image, ImageFilter

from conftest import demo_asset_bytes
from visualsearch.embedding.objects import (
    MAX_OBJECTS,
    ObjectBox,
    ObjectFinder,
    ObjectFinderUnavailable,
    UnavailableReason,
    boxes_from_mask,
    main_object_box,
    salient_objects,
)


def _render(name: str, *, size: int | None = None) -> Image.Image:
    image = Image.open(io.BytesIO(demo_asset_bytes(name))).convert("RGBA")
    return image.resize((size, size), Image.Resampling.LANCZOS) if size else image


def _paste(background: Image.Image, render: Image.Image, at: tuple[int, int]) -> ObjectBox:
    """Paste a render with its alpha; return the object's true box (alpha > 50 %) in fractions."""
    background.paste(render.convert("RGB"), at, render.getchannel("A"))
    left, top, right, bottom = render.getchannel("A").point(lambda v: 255 if v > 127 else 0).getbbox()
    width, height = background.size
    return ObjectBox(
        (at[0] + left) / width, (at[1] + top) / height, (at[0] + right) / width, (at[1] + bottom) / height, 1.0
    )


def _textured(size: tuple[int, int]) -> Image.Image:
    """A wooden-table-like background: smooth low-contrast noise, not a plain colour."""
    rng = np.random.default_rng(7)
    noise = rng.normal(0, 18, (size[1] // 8, size[0] // 8, 1)) + np.array([190, 160, 120])
    small = Image.fromarray(np.clip(noise, 0, 255).astype(np.uint8))
    return small.resize(size, Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(2))


def test_packshot_gives_one_box_around_the_object():
    # given a guitar render on a white packshot background, off centre
    photo = Image.new("RGB", (640, 480), (255, 255, 255))
    truth = _paste(photo, _render("1f3b8.webp"), (300, 150))

    # when
    found = salient_objects(photo)

    # then exactly one object, its padded box contains the true box and fits it closely
    assert len(found.boxes) == 1
    box = found.boxes[0]
    assert box.x0 <= truth.x0 and box.y0 <= truth.y0 and box.x1 >= truth.x1 and box.y1 >= truth.y1
    assert box.iou(truth) >= 0.7
    assert box.score == 1.0
    assert main_object_box(photo) == box


@pytest.mark.parametrize("background", ["plain", "textured"])
def test_two_objects_apart_give_two_boxes(background):
    # given a teapot and a shoe apart, on a plain grey or a textured table
    size = (800, 450)
    photo = Image.new("RGB", size, (200, 200, 200)) if background == "plain" else _textured(size)
    teapot = _paste(photo, _render("1fad6.webp", size=300), (40, 80))
    shoe = _paste(photo, _render("1f45f.webp", size=260), (480, 120))

    # when
    boxes = salient_objects(photo).boxes

    # then one box per object, each on its own object
    assert len(boxes) == 2
    left, right = sorted(boxes, key=lambda box: box.x0)
    assert left.iou(teapot) >= 0.5
    assert right.iou(shoe) >= 0.5
    assert sum(box.score for box in boxes) == pytest.approx(1.0, abs=1e-3)
    assert boxes[0].score >= boxes[1].score  # most prominent first


@pytest.mark.parametrize("colour", [(255, 255, 255), (128, 128, 128), (0, 0, 0)])
def test_blank_photo_has_no_object(colour):
    found = salient_objects(Image.new("RGB", (400, 300), colour))

    assert found.boxes == ()
    assert found.main is None
    assert float(found.mask.max()) == 0.0
    assert main_object_box(Image.new("RGB", (400, 300), colour)) is None


def test_mask_keeps_the_aspect_ratio_at_the_chosen_side():
    # the shipped graph is fixed at 320 x 320; the finder frees height and width
    photo = Image.new("RGB", (640, 480), (255, 255, 255))
    _paste(photo, _render("1f3b8.webp"), (200, 100))

    mask = salient_objects(photo, side=224).mask
    small = salient_objects(photo, side=128).mask

    assert mask.shape == (160, 224)  # 224 x 168 rounded to multiples of 32
    assert small.shape == (96, 128)
    assert mask.dtype == np.float32
    assert float(mask.min()) == 0.0 and float(mask.max()) == 1.0


def test_boxes_from_mask_separates_drops_specks_merges_and_pads():
    # given a 100 x 200 mask: a big blob, a smaller blob, a speck (< 2 % of the area), and a blob touching the
    # big one only diagonally (8-connected: the same object)
    mask = np.zeros((100, 200), dtype=np.float32)
    mask[10:50, 10:90] = 1.0  # 3,200 px
    mask[50:60, 90:100] = 1.0  # diagonal neighbour of the big blob: joins it
    mask[60:90, 140:180] = 0.8  # 1,200 px
    mask[5:8, 150:153] = 1.0  # 9 px speck

    boxes = boxes_from_mask(mask)

    assert len(boxes) == 2
    big, small = boxes
    big_mass, small_mass = 3200 + 100, 1200 * 0.8
    assert big.score == pytest.approx(round(big_mass / (big_mass + small_mass), 4))
    assert small.score == pytest.approx(round(small_mass / (big_mass + small_mass), 4))
    # unpadded big: x 10..100, y 10..60 of 200 x 100; padded by 5 % of its size on each side
    assert (big.x0, big.y0, big.x1, big.y1) == pytest.approx((0.05 - 0.0225, 0.1 - 0.025, 0.5 + 0.0225, 0.6 + 0.025))
    assert (small.x0, small.y0, small.x1, small.y1) == pytest.approx((0.7 - 0.01, 0.6 - 0.015, 0.9 + 0.01, 0.9 + 0.015))


def test_boxes_inside_another_merge_and_at_most_five_objects_stay():
    nested = np.zeros((100, 100), dtype=np.float32)
    nested[10:90, 10:90] = 1.0
    nested[25:75, 25:75] = 0.0  # a ring ...
    nested[35:65, 35:65] = 1.0  # ... around a separate blob inside it (a label in its bottle): one object
    assert len(boxes_from_mask(nested)) == 1

    grid = np.zeros((100, 300), dtype=np.float32)
    for i in range(7):
        grid[30:70, 10 + 40 * i: 40 + 40 * i] = 1.0 - 0.05 * i  # seven separate equal-sized blobs
    boxes = boxes_from_mask(grid)
    assert len(boxes) == MAX_OBJECTS
    assert [round(box.x0 * 300 + 0.05 * 30) for box in boxes] == [10, 50, 90, 130, 170]  # the heaviest five


def test_box_pixels_for_crop():
    box = ObjectBox(0.25, 0.1, 0.755, 1.0, 1.0)

    assert box.pixels(200, 100) == (50, 10, 151, 100)
    assert ObjectBox(0.999, 0.999, 1.0, 1.0, 1.0).pixels(10, 10) == (9, 9, 10, 10)  # never empty


def test_missing_model_file_is_a_typed_error(tmp_path):
    finder = ObjectFinder(path=tmp_path / "absent.onnx")

    with pytest.raises(ObjectFinderUnavailable) as raised:
        finder.salient_objects(Image.new("RGB", (64, 64)))

    assert raised.value.reason is UnavailableReason.MODEL_MISSING
    assert finder._session is None
