import csv
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from catalog.models import Category, Product, ProductImage
from conftest import photo_bytes
from visualsearch.models import ImageEmbedding

pytestmark = pytest.mark.django_db


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "red.jpg").write_bytes(photo_bytes(colour=(200, 0, 0)))
    (tmp_path / "red-back.png").write_bytes(photo_bytes(colour=(150, 0, 0), fmt="PNG", shape="rect"))
    (tmp_path / "blue.webp").write_bytes(photo_bytes(colour=(0, 0, 200), fmt="WEBP"))
    (tmp_path / "broken.jpg").write_bytes(photo_bytes()[:300])
    rows = [
        ("R1", "Red Mug", "Home/Kitchen", "12.50", "A red mug", "red.jpg"),
        ("R1", "Red Mug", "Home/Kitchen", "12.50", "A red mug", "red-back.png"),
        ("B1", "Blue Bowl", "Home/Kitchen", "8.00", "", "blue.webp"),
        ("X1", "Broken", "Home", "1.00", "", "broken.jpg"),
        ("X2", "Missing", "Home", "1.00", "", "nope.jpg"),
        ("X3", "Bad price", "Home", "cheap", "", "red.jpg"),
    ]
    with (tmp_path / "products.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sku", "name", "category", "price", "description", "image"])
        writer.writerows(rows)
    return tmp_path


def _run(folder, **kwargs):
    out, err = StringIO(), StringIO()
    call_command("import_catalog", str(folder), csv=folder / "products.csv", no_progress=True, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_creates_products_images_and_pending_embeddings(folder):
    out, err = _run(folder)

    assert "products: 2 created, 0 updated; variants: 0 created, 0 updated; images: 3 added, 0 unchanged; 3 skipped; 3 queued" in out
    assert "line 5: broken.jpg: The picture is damaged" in err
    assert "line 6: cannot read" in err and "line 7: price 'cheap' is not a price" in err
    mug = Product.objects.get(sku="R1")
    assert (mug.name, mug.price, mug.category.name, mug.category.parent.name) == ("Red Mug", Decimal("12.50"), "Kitchen", "Home")
    assert list(mug.images.values_list("position", flat=True)) == [0, 1]
    assert ImageEmbedding.objects.filter(status="pending").count() == 3


def test_import_twice_creates_nothing_new(folder):
    _run(folder)
    counts = (Product.objects.count(), ProductImage.objects.count(), ImageEmbedding.objects.count(), Category.objects.count())

    out, _ = _run(folder)

    assert "products: 0 created, 2 updated; variants: 0 created, 0 updated; images: 0 added, 3 unchanged" in out
    assert (Product.objects.count(), ProductImage.objects.count(), ImageEmbedding.objects.count(), Category.objects.count()) == counts


def test_import_without_csv_uses_file_and_folder_names(tmp_path):
    (tmp_path / "lamps").mkdir()
    (tmp_path / "lamps" / "desk_lamp.jpg").write_bytes(photo_bytes())
    call_command("import_catalog", str(tmp_path), no_progress=True, stdout=StringIO(), stderr=StringIO())
    product = Product.objects.get()
    assert (product.sku, product.name, product.category.name) == ("lamps-desk_lamp", "Desk Lamp", "Lamps")


def test_csv_without_required_columns_is_refused_before_anything_is_written(tmp_path):
    (tmp_path / "products.csv").write_text("sku,name\nA,B\n")
    with pytest.raises(CommandError, match="price"):
        _run(tmp_path)
    assert Product.objects.count() == 0


def test_import_into_a_log_writes_plain_lines_not_carriage_returns(folder):
    out, err = StringIO(), StringIO()  # not a terminal, as a log file or a pipe

    call_command("import_catalog", str(folder), csv=folder / "products.csv", stdout=out, stderr=err)

    assert "\r" not in err.getvalue()
    lines = [line for line in err.getvalue().splitlines() if line.startswith("import: ")]
    assert len(lines) == 1 and lines[0].startswith("import: 6/6 img (100 %), ")  # a short import: the final line


def test_progress_lines_come_every_few_seconds_and_once_at_the_end():
    from shop.backoffice.progress import ProgressLines

    now = [0.0]
    stream = StringIO()
    with ProgressLines(total=10, stream=stream, every=5.0, clock=lambda: now[0]) as progress:
        for _ in range(10):
            now[0] += 1.5  # one picture every 1.5 s: a line at 6 s (4 done) and at 12 s (8 done)
            progress.update()

    assert stream.getvalue().splitlines() == [
        "import: 4/10 img (40 %), 0.7 img/s",
        "import: 8/10 img (80 %), 0.7 img/s",
        "import: 10/10 img (100 %), 0.7 img/s",
    ]


def test_import_takes_the_chinese_text_and_the_chinese_shop_shows_it(tmp_path, client):
    (tmp_path / "mug.jpg").write_bytes(photo_bytes(colour=(200, 0, 0)))
    with (tmp_path / "products.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sku", "name", "category", "price", "image", "name_zh", "description_zh", "category_zh"])
        writer.writerow(["M1", "Red Mug", "Home/Kitchen", "12.50", "mug.jpg", "红色马克杯", "陶瓷杯，可用洗碗机清洗。", "家居/厨房"])
    _run(tmp_path)

    mug = Product.objects.select_related("category__parent").get(sku="M1")
    assert (mug.name_zh, mug.description_zh) == ("红色马克杯", "陶瓷杯，可用洗碗机清洗。")
    assert (mug.category.name_zh, mug.category.parent.name_zh) == ("厨房", "家居")

    english = client.get(mug.get_absolute_url()).content.decode()
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    chinese = client.get(mug.get_absolute_url()).content.decode()
    assert "<h1>Red Mug</h1>" in english and "红色马克杯" not in english
    assert "<h1>红色马克杯</h1>" in chinese and "陶瓷杯，可用洗碗机清洗。" in chinese
    assert ">家居</a> / <a" in chinese and ">厨房</a>" in chinese
    # and the words find it in either language
    from visualsearch.textsearch import products_for_text

    assert [h.product_id for h in products_for_text(text="马克杯").hits][:1] == [mug.id]
    assert [h.product_id for h in products_for_text(text="mugs").hits][:1] == [mug.id]


def test_import_adds_variants_with_their_pictures_and_sizes_without(tmp_path):
    (tmp_path / "red.jpg").write_bytes(photo_bytes(colour=(200, 0, 0)))
    (tmp_path / "blue.jpg").write_bytes(photo_bytes(colour=(0, 0, 200)))
    header = ["sku", "name", "category", "price", "image", "stock", "variant_sku", "variant", "variant_zh",
              "variant_price", "variant_stock"]
    rows = [
        ("TEE", "T-Shirt", "Clothing", "14.90", "red.jpg", "", "TEE-RED", "Red", "红色", "", "4"),
        ("TEE", "T-Shirt", "Clothing", "14.90", "blue.jpg", "", "TEE-BLUE", "Blue", "蓝色", "", "2"),
        ("TEE", "T-Shirt", "Clothing", "14.90", "", "", "TEE-BLUE-XL", "Blue / XL", "", "16.90", "1"),
        ("TEE", "T-Shirt", "Clothing", "14.90", "", "", "TEE-BAD", "Bad", "", "lots", "1"),
        ("TEE", "T-Shirt", "Clothing", "14.90", "", "", "", "", "", "", ""),
        ("TEE", "T-Shirt", "Clothing", "14.90", "", "", "TEE-ONLY-SKU", "", "", "", ""),
    ]
    with (tmp_path / "products.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)

    out, err = _run(tmp_path)
    again, _ = _run(tmp_path)

    assert "products: 1 created, 0 updated; variants: 3 created, 0 updated; images: 2 added, 0 unchanged; 3 skipped" in out
    assert "line 5: variant_price 'lots' is not a price" in err
    assert "line 6: image is required (except on a variant's row)" in err
    assert "line 7: a variant needs both variant_sku and variant (its name)" in err
    assert "variants: 0 created, 3 updated; images: 0 added, 2 unchanged" in again
    tee = Product.objects.get(sku="TEE")
    assert [(v.sku, v.name, v.name_zh, v.price, v.stock_quantity) for v in tee.variants.all()] == [
        ("TEE-RED", "Red", "红色", None, 4), ("TEE-BLUE", "Blue", "蓝色", None, 2),
        ("TEE-BLUE-XL", "Blue / XL", "", Decimal("16.90"), 1),
    ]
    assert tee.stock_quantity == 7
    assert sorted(tee.images.values_list("variant__sku", flat=True)) == ["TEE-BLUE", "TEE-RED"]


def test_pictures_are_prepared_on_the_intake_threads_and_rows_written_in_file_order(folder, monkeypatch):
    import threading

    from shop.backoffice import importing

    real_intake, threads_seen = importing.image_intake, []

    def intake_watched(data, **kwargs):
        threads_seen.append(threading.current_thread().name)
        return real_intake(data, **kwargs)

    monkeypatch.setattr(importing, "image_intake", intake_watched)
    monkeypatch.setattr(importing, "INTAKE_THREADS", 2)
    monkeypatch.setattr(importing, "INTAKE_AHEAD", 1)  # the pool at most one row ahead of the writer

    out, err = _run(folder)

    assert "images: 3 added, 0 unchanged" in out
    # red, red-back, blue and broken; the missing file fails its read, the bad price is refused before
    assert len(threads_seen) == 4
    assert all(name.startswith("intake") for name in threads_seen)  # never the writer's thread
    mug = Product.objects.get(sku="R1")
    assert list(mug.images.order_by("position").values_list("content_hash", flat=True)) == [
        real_intake((folder / name).read_bytes()).content_hash for name in ("red.jpg", "red-back.png")
    ]
    assert err.index("line 5:") < err.index("line 6:") < err.index("line 7:")  # errors in file order
