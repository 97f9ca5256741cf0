"""Measure search-by-photo quality on a labelled photo set, through the shop's own search path.

    manage.py evaluate_retrieval --protocol A            # grocery: val photos against the 81 packshots
    manage.py evaluate_retrieval --protocol B            # same, after training an adapter on the train photos
    manage.py evaluate_retrieval --protocol C            # clothing: leave-one-out by category
    manage.py evaluate_retrieval --manifest m.csv --gallery-split iconic --query-split val --group top_level

It builds a throwaway catalogue in a database of its own (dropped afterwards) unless --in-place is given
(tests, which already run in a throwaway database).
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from visualsearch.embedding import REGISTRY
from visualsearch.evaluation import (
    EvalPhoto,
    evaluate_gallery_queries,
    evaluate_leave_one_out,
    evaluate_rooms,
    manifest_read,
    throwaway_database,
    throwaway_media,
)

EVAL_DIR = Path(settings.BASE_DIR).parent / "shared" / "eval"

PROTOCOLS = {
    # A: 300 earlier shoppers' photos (train, labels unused) are searched first, as a live shop has seen traffic.
    "A": dict(manifest="grocery/manifest.csv", label="product_id", gallery="iconic", query="val", group="top_level",
              traffic="train", traffic_count=300),
    "B": dict(manifest="grocery/manifest.csv", label="product_id", gallery="iconic", query="val", group="top_level",
              labelled="train", train_adapter=True, traffic="train", traffic_count=300),
    "C": dict(manifest="clothing/manifest.csv", leave_one_out="category", group="category"),
    # D: IKEA room photos against its 2,166 packshots, several right products per room (rooms.csv); E: similar
    # items over those packshots by fine type. The IKEA images are for evaluation only (non-commercial).
    "D": dict(manifest="ikea/manifest.csv", label="product_id", rooms="ikea/rooms.csv"),
    "E": dict(manifest="ikea/manifest.csv", leave_one_out="category"),
}


class Command(BaseCommand):
    help = "Recall@1/5/10 and mAP (and P@1/P@10 for leave-one-out) of search by photo on a labelled photo set."

    def add_arguments(self, parser):
        parser.add_argument("--protocol", choices=sorted(PROTOCOLS), help="a preset on ../shared/eval (see README)")
        parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR, help="where the protocols' data lives")
        parser.add_argument("--manifest", type=Path, help="CSV with path,<label>,split[,group] columns")
        parser.add_argument("--label", default="product_id", help="label column: a hit shares it with the query")
        parser.add_argument("--gallery-split", action="append", help="split(s) indexed as the catalogue")
        parser.add_argument("--query-split", action="append", help="split(s) used as query photos")
        parser.add_argument("--labelled-split", help="split attached to products as labelled shopper photos")
        parser.add_argument("--train-adapter", action="store_true", help="train an adapter on the labelled photos")
        parser.add_argument("--traffic-split", help="split searched first as earlier shoppers (labels unused)")
        parser.add_argument("--traffic-count", type=int, help="how many of its photos (evenly spread); default all")
        parser.add_argument("--no-traffic", action="store_true", help="a fresh shop: no earlier searches")
        parser.add_argument("--leave-one-out", metavar="COLUMN", help="each photo its own product; hit = same COLUMN")
        parser.add_argument("--group", help="also report per value of this column (e.g. top_level)")
        parser.add_argument("--model", default=None, help=f"model key (default: the shop's; one of {sorted(REGISTRY)})")
        parser.add_argument("--limit", type=int, help="use only the first N queries (and leave-one-out photos)")
        parser.add_argument("--sample", type=int, help="keep every N-th photo of each split (quick runs, tests)")
        parser.add_argument("--json", type=Path, help="write the figures to this file")
        parser.add_argument("--in-place", action="store_true", help="use the current database (tests only)")
        parser.add_argument("--quiet", action="store_true", help="no progress lines")

    def handle(self, *args, **options):
        preset = PROTOCOLS.get(options["protocol"]) if options["protocol"] else {}
        manifest = options["manifest"] or (options["eval_dir"] / preset["manifest"] if preset else None)
        if manifest is None:
            raise CommandError("give --manifest PATH or --protocol A|B|C|D|E")
        if not manifest.exists():
            raise CommandError(f"{manifest} does not exist (the eval data lives in ../shared/eval)")
        label = preset.get("label", options["label"])
        loo = options["leave_one_out"] or preset.get("leave_one_out")
        group = options["group"] or preset.get("group")
        model_key = options["model"] or settings.VISUALSEARCH_MODEL
        try:
            photos = manifest_read(manifest=manifest, label_column=loo or label, group_column=group)
        except ValueError as error:
            raise CommandError(str(error)) from error
        if options["sample"]:
            photos = _every_nth(photos, options["sample"], by_label=not loo)
        name = options["protocol"] and f"protocol {options['protocol']}" or manifest.name
        progress = (lambda *a: None) if options["quiet"] else _Progress(self.stderr)

        def run():
            with throwaway_media():
                if preset.get("rooms"):
                    return [_rooms_run(name=name, photos=photos, rooms_csv=options["eval_dir"] / preset["rooms"],
                                       model_key=model_key, limit=options["limit"], traffic=not options["no_traffic"],
                                       progress=progress)]
                if loo:
                    chosen = photos[: options["limit"]] if options["limit"] else photos
                    return [evaluate_leave_one_out(name=name, photos=chosen, model_key=model_key, progress=progress)]
                gallery_splits = set(options["gallery_split"] or [preset.get("gallery", "gallery")])
                query_splits = set(options["query_split"] or [preset.get("query", "query")])
                labelled_split = options["labelled_split"] or preset.get("labelled")
                gallery = [p for p in photos if p.split in gallery_splits]
                queries = [p for p in photos if p.split in query_splits]
                if options["limit"]:
                    queries = queries[: options["limit"]]
                if not gallery or not queries:
                    raise CommandError(f"no gallery ({sorted(gallery_splits)}) or query ({sorted(query_splits)}) rows")
                labelled = [p for p in photos if labelled_split and p.split == labelled_split]
                traffic_split = None if options["no_traffic"] else options["traffic_split"] or preset.get("traffic")
                traffic = [p for p in photos if traffic_split and p.split == traffic_split]
                count = options["traffic_count"] or preset.get("traffic_count")
                if count and len(traffic) > count:
                    traffic = traffic[:: len(traffic) // count][:count]
                return evaluate_gallery_queries(
                    name=name, gallery=gallery, queries=queries, model_key=model_key, labelled=labelled, traffic=traffic,
                    train_adapter=options["train_adapter"] or preset.get("train_adapter", False), progress=progress,
                )

        if options["in_place"]:
            reports = run()
        else:
            with throwaway_database():
                reports = run()
        for report in reports:
            self.stdout.write(report.table())
            if report.extra:
                self.stdout.write(json.dumps(report.extra, indent=1))
        if options["json"]:
            options["json"].write_text(json.dumps([r.as_dict() for r in reports], indent=1))


def _rooms_run(*, name, photos, rooms_csv: Path, model_key: str, limit: int | None, traffic: bool, progress):
    rooms: dict[Path, set[str]] = {}
    with rooms_csv.open(newline="") as handle:
        for row in csv.DictReader(handle):
            rooms.setdefault(rooms_csv.parent / row["room_path"], set()).add(row["product_id"])
    if limit:
        rooms = dict(sorted(rooms.items())[:limit])
    # one packshot per product id (the gallery); manifest rows carry the product id as the label
    seen, gallery = set(), []
    for photo in photos:
        if photo.label not in seen:
            seen.add(photo.label)
            gallery.append(photo)
    return evaluate_rooms(name=name, gallery=gallery, rooms=rooms, model_key=model_key, traffic=traffic,
                          progress=progress)


def _every_nth(photos: list[EvalPhoto], n: int, *, by_label: bool) -> list[EvalPhoto]:
    """Every n-th label (all its photos: a query's product stays in the gallery), or every n-th photo."""
    if by_label:
        labels = sorted({photo.label for photo in photos})
        kept_labels = set(labels[::n])
        return [photo for photo in photos if photo.label in kept_labels]
    return photos[::n]


class _Progress:
    """One line per stage and every 10 %, on stderr, so stdout holds only the table."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.last: tuple[str, int] = ("", -1)

    def __call__(self, stage: str, done: int, total: int) -> None:
        tenth = done * 10 // max(total, 1)
        if (stage, tenth) != self.last:
            self.last = (stage, tenth)
            self.stream.write(f"{stage}: {done}/{total}")
            if hasattr(self.stream, "flush"):
                self.stream.flush()
