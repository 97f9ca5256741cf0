import csv
import json
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from catalog.models import ProductImage, ProductImageKind
from visualsearch.evaluation import (
    EvalPhoto,
    RankedQuery,
    catalogue_build,
    catalogue_embed,
    manifest_read,
    queries_rank,
    scores_compute,
)

pytestmark = pytest.mark.django_db
GROCERY = Path(settings.BASE_DIR).parent / "shared" / "eval" / "grocery"
# Three packaged products and two of each one's shopper photos: a sample small enough for the suite.
PRODUCTS = ["Arla-Standard-Milk", "God-Morgon-Apple-Juice", "Oatly-Natural-Oatghurt"]


def _sample_manifest(tmp_path: Path) -> Path:
    if not (GROCERY / "manifest.csv").exists():
        pytest.skip("the eval photos live in ../shared/eval, beside the project")
    rows = list(csv.DictReader((GROCERY / "manifest.csv").open()))
    chosen = [r for r in rows if r["product_id"] in PRODUCTS and r["split"] == "iconic"]
    for product in PRODUCTS:
        chosen += [r for r in rows if r["product_id"] == product and r["split"] == "val"][:2]
    path = tmp_path / "manifest.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in chosen:
            writer.writerow({**row, "path": str(GROCERY / row["path"])})
    return path


def test_scores_count_recall_precision_and_average_precision_exactly():
    queries = [
        RankedQuery(label="a", group="x", ranked=["a", "b", "c"], relevant=1),
        RankedQuery(label="b", group="x", ranked=["a", "b", "c"], relevant=1),
        RankedQuery(label="c", group="y", ranked=["a", "b"], relevant=1),  # its product is not in the list
    ]

    scores = scores_compute(queries, ks=(1, 2))

    assert scores.queries == 3
    assert scores.recall == {1: pytest.approx(1 / 3), 2: pytest.approx(2 / 3)}
    assert scores.precision == {1: pytest.approx(1 / 3), 2: pytest.approx(1 / 3)}
    assert scores.mean_ap == pytest.approx((1 + 0.5 + 0) / 3)


def test_leave_one_out_average_precision_counts_every_relevant_item():
    # relevant at ranks 1 and 3 out of 2 relevant: AP = (1/1 + 2/3) / 2
    scores = scores_compute([RankedQuery(label="a", group="", ranked=["a", "b", "a"], relevant=2)], ks=(1, 10))

    assert scores.mean_ap == pytest.approx((1 + 2 / 3) / 2)
    assert scores.precision[10] == pytest.approx(0.2)


def test_evaluation_ranking_is_the_live_search_ranking(client, tmp_path):
    # given the sample indexed as a catalogue through the shop's intake and the worker's embedding function
    photos = manifest_read(manifest=_sample_manifest(tmp_path), label_column="product_id", group_column="top_level")
    gallery = [p for p in photos if p.split == "iconic"]
    queries = [p for p in photos if p.split == "val"]
    label_of = catalogue_build(gallery=gallery)
    catalogue_embed(model_key=settings.VISUALSEARCH_MODEL)

    # when the evaluation ranks the queries, and the shop's API is asked the same photos
    ranked = queries_rank(queries=queries, model_key=settings.VISUALSEARCH_MODEL, label_of=label_of)
    live = []
    for photo in queries:
        upload = SimpleUploadedFile("q.jpg", photo.path.read_bytes(), content_type="image/jpeg")
        body = client.post("/api/v1/search/image", {"image": upload, "limit": len(label_of)}).json()
        live.append([label_of[r["product_id"]] for r in body["results"]])

    # then both give the same products in the same order
    assert [q.ranked for q in ranked] == live
    assert all(sorted(r) == sorted(PRODUCTS) for r in live)


def test_command_prints_the_table_and_writes_json(tmp_path, capsys):
    manifest = _sample_manifest(tmp_path)
    out = tmp_path / "figures.json"

    call_command(
        "evaluate_retrieval", "--manifest", str(manifest), "--gallery-split", "iconic", "--query-split", "val",
        "--group", "top_level", "--in-place", "--quiet", "--json", str(out),
    )

    printed = capsys.readouterr().out
    assert "R@1" in printed and "mAP" in printed
    (report,) = json.loads(out.read_text())
    assert report["gallery_products"] == 3 and report["gallery_images"] == 3
    assert report["overall"]["queries"] == 6
    assert set(report["overall"]["recall"]) == {"1", "5", "10"}
    assert report["overall"]["recall"]["10"] == 1.0  # three products: every query's product is in the list
    assert ProductImage.objects.filter(kind=ProductImageKind.CATALOGUE).count() == 3


def test_command_refuses_a_missing_manifest(tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="does not exist"):
        call_command("evaluate_retrieval", "--manifest", str(tmp_path / "nope.csv"), "--in-place")
    assert ProductImage.objects.count() == 0


def test_manifest_without_the_label_column_is_refused(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("path,split\na.jpg,val\n")

    with pytest.raises(ValueError, match="no column product_id"):
        manifest_read(manifest=path, label_column="product_id")


@pytest.mark.parametrize("traffic", [True, False])
def test_rooms_count_every_list_and_each_half_is_searched_after_the_other_halfs_photos(tmp_path, traffic):
    from conftest import demo_asset_bytes
    from visualsearch.evaluation import evaluate_rooms
    from visualsearch.models import VectorStatistics, VectorStatisticsKind
    from visualsearch.selectors import photo_query

    from .fixtures import two_things_photo

    assets = sorted(p.name for p in settings.DEMO_ASSETS_DIR.glob("*.webp"))[:14] + ["1f3b8.webp", "1fad6.webp"]
    gallery = []
    for name in dict.fromkeys(assets):
        (tmp_path / name).write_bytes(demo_asset_bytes(name))
        gallery.append(EvalPhoto(path=tmp_path / name, label=name, split="gallery"))
    rooms = {}
    for size in [(900, 450), (800, 420)]:  # the guitar and the teapot on a table, twice
        path = tmp_path / f"room-{size[0]}.jpg"
        path.write_bytes(two_things_photo(size=size)[0])
        rooms[path] = {"1f3b8.webp", "1fad6.webp"}

    report = evaluate_rooms(name="rooms", gallery=gallery, rooms=rooms, model_key=settings.VISUALSEARCH_MODEL,
                            traffic=traffic)

    assert report.gallery_products == 16
    assert (report.extra["recall_at_10"], report.extra["rooms_with_hit_at_10"]) == (1.0, 1.0)
    # The first results and one list per object the search returns (each thing, and any recognised region).
    objects = [len(photo_query(path.read_bytes()).objects) for path in rooms]
    assert min(objects) >= 2 and report.extra["lists_per_room"] == sum(1 + n for n in objects) / 2
    query_means = VectorStatistics.objects.filter(kind=VectorStatisticsKind.QUERY)
    # With traffic, the second half (one room) was searched after the first half's one photo only.
    assert list(query_means.values_list("count", flat=True)) == ([1] if traffic else [])
