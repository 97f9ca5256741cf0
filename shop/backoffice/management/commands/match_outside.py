"""Match outside listings (competitors' photos) against the shop's catalogue.

    manage.py match_outside PATH [--csv FILE] [--json OUT] [--limit 5]
    manage.py match_outside --evaluate [--json OUT]     # grocery val photos + clothing photos vs the grocery packshots

PATH is a folder or a zip of photos. The optional CSV has the columns ``file`` (the path inside PATH), ``title``,
``price``, ``url``. The JSON lists each outside photo as ``{"file", "close", "matches": [{"product_id", "sku",
"name", "similarity"}, ...]}`` (plus ``title``, ``price``, ``price_difference``, ``error`` where there are some).
A photo that is not an acceptable file is listed with the intake's message and no matches; nothing is stored.

``--evaluate`` builds the grocery packshots as a catalogue in a throwaway database and uses ``../shared/eval``'s
grocery ``val`` photos (the shop sells these: the share whose first match is the right product is protocol A's
R@1 through this path) mixed with the clothing photos (the shop sells none of these): it reports how often "not in
our assortment" (no close match) is right.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from shop.stafftools.batches import folder_or_zip_photos, listings_read
from shop.stafftools.errors import JobRejected
from shop.stafftools.identify import OutsideListing, OutsideMatch, outside_listing_match
from visualsearch.errors import ImageRejected

EVAL_DIR = Path(settings.BASE_DIR).parent / "shared" / "eval"


def match_as_dict(result: OutsideMatch) -> dict:
    out = {
        "file": result.listing.file,
        "close": result.close,
        "matches": [
            {"product_id": m.product.id, "sku": m.product.sku, "name": m.product.name, "similarity": round(m.similarity, 4)}
            for m in result.matches
        ],
    }
    if result.listing.title:
        out["title"] = result.listing.title
    if result.listing.price is not None:
        out["price"] = str(result.listing.price)
        difference = result.price_difference
        out["price_difference"] = str(difference) if difference is not None else None
    if result.error:
        out["error"] = result.error
    return out


class Command(BaseCommand):
    help = "Match a folder or zip of outside listings' photos against the catalogue; --evaluate measures it."

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", type=Path, help="a folder or a zip of photos")
        parser.add_argument("--csv", type=Path, help="file,title,price,url of the listings")
        parser.add_argument("--json", type=Path, help="write every listing's matches here")
        parser.add_argument("--limit", type=int, default=5, help="closest own products per listing (default 5)")
        parser.add_argument("--evaluate", action="store_true", help="measure on ../shared/eval (throwaway database)")
        parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
        parser.add_argument("--sample", type=int, default=1, help="--evaluate: every N-th photo (quick runs)")

    def handle(self, *args, path: Path | None, **options):
        if options["evaluate"]:
            figures = self._evaluate(options["eval_dir"], sample=options["sample"], limit=options["limit"])
            if options["json"]:
                options["json"].write_text(json.dumps(figures, indent=2))
            self.stdout.write(json.dumps({k: v for k, v in figures.items() if k != "listings"}, indent=2) + "\n")
            return
        if path is None:
            raise CommandError("give PATH (a folder or a zip of photos), or --evaluate")
        if not path.exists():
            raise CommandError(f"{path} does not exist")
        try:
            listings = listings_read(options["csv"].read_text(encoding="utf-8-sig")) if options["csv"] else {}
            photos = list(folder_or_zip_photos(path))
        except (JobRejected, ValueError) as error:
            raise CommandError(getattr(error, "message", str(error))) from None
        results = []
        for name, data in photos:
            listing = listings.get(name, OutsideListing(file=name))
            if isinstance(data, ImageRejected):  # a member too large to unpack, or damaged in the zip
                result = OutsideMatch(listing=listing, close=False, matches=[], error=data.message,
                                      error_code=data.code.value)
            else:
                result = outside_listing_match(listing=listing, data=data, limit=options["limit"])
            results.append(match_as_dict(result))
        if options["json"]:
            options["json"].write_text(json.dumps(results, indent=2, ensure_ascii=False))
        close = sum(r["close"] for r in results)
        failed = sum("error" in r for r in results)
        self.stdout.write(
            f"{len(results)} outside listings: {close} with a close match in the catalogue, "
            f"{len(results) - close - failed} not in our assortment, {failed} unreadable\n"
        )

    def _evaluate(self, eval_dir: Path, *, sample: int, limit: int) -> dict:
        from visualsearch.evaluation import (
            catalogue_build,
            catalogue_embed,
            manifest_read,
            throwaway_database,
            throwaway_media,
            traffic_replay,
        )
        from visualsearch.selectors import active_model_key

        grocery = manifest_read(manifest=eval_dir / "grocery" / "manifest.csv", label_column="product_id")
        clothing = manifest_read(manifest=eval_dir / "clothing" / "manifest.csv", label_column="category")
        gallery = [p for p in grocery if p.split == "iconic"]
        sold = [p for p in grocery if p.split == "val"][::sample]
        not_sold = clothing[::sample]
        with throwaway_database(suffix="outside"), throwaway_media():
            label_of = catalogue_build(gallery=gallery)
            model_key = active_model_key()
            catalogue_embed(model_key=model_key)
            # a live shop has seen shoppers' searches (its query mean): the same 300 earlier photos as protocol A
            traffic = [p for p in grocery if p.split == "train"]
            traffic_replay(photos=traffic[:: max(1, len(traffic) // 300)][:300], model_key=model_key)
            rows = []
            for photo, sells in [(p, True) for p in sold] + [(p, False) for p in not_sold]:
                result = outside_listing_match(
                    listing=OutsideListing(file=str(photo.path.relative_to(eval_dir))), data=photo.path.read_bytes(),
                    limit=limit,
                )
                first = label_of.get(result.matches[0].product.id) if result.matches else None
                rows.append({**match_as_dict(result), "sold": sells, "right_first": sells and first == photo.label})
        sold_rows = [r for r in rows if r["sold"]]
        unsold_rows = [r for r in rows if not r["sold"]]
        flagged = [r for r in rows if not r["close"]]  # "not in our assortment"
        true_flags = sum(1 for r in flagged if not r["sold"])
        return {
            "model_key": model_key,
            "catalogue": f"{len(label_of)} grocery products ({len(gallery)} packshots)",
            "outside": {"grocery val (sold)": len(sold_rows), "clothing (not sold)": len(unsold_rows)},
            "right_product_first": round(sum(r["right_first"] for r in sold_rows) / len(sold_rows), 3),
            "not_in_assortment": {
                "precision": round(true_flags / len(flagged), 3) if flagged else None,
                "recall": round(true_flags / len(unsold_rows), 3),
                "flagged": len(flagged),
            },
            "sold_told_close": round(sum(r["close"] for r in sold_rows) / len(sold_rows), 3),
            "listings": rows,
        }
