"""Show that the search learns from clicks: simulated shoppers search with real photos, click with a position
bias and noise, the retrain learns from the log, and protocol A's Recall@1 is measured before and after.

    manage.py evaluate_click_learning                       # grocery: train photos as shoppers, val measured
    manage.py evaluate_click_learning --sample 3 --json out.json
    manage.py evaluate_click_learning --manifest m.csv --gallery-split iconic --train-split train --query-split val

Runs in a database of its own (dropped afterwards) unless --in-place is given (tests).
"""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from visualsearch.evaluation import manifest_read, throwaway_database, throwaway_media
from visualsearch.management.commands.evaluate_retrieval import EVAL_DIR, _every_nth, _Progress

from ...simulation import ClickModel, click_learning_simulate


class Command(BaseCommand):
    help = "Recall@1/5/10 and mAP of search by photo before and after learning from simulated shoppers' clicks."

    def add_arguments(self, parser):
        parser.add_argument("--manifest", type=Path, default=EVAL_DIR / "grocery" / "manifest.csv")
        parser.add_argument("--label", default="product_id", help="label column: a right click shares it")
        parser.add_argument("--group", default=None, help="unused here; accepted like evaluate_retrieval")
        parser.add_argument("--gallery-split", action="append", help="split(s) indexed as the catalogue (iconic)")
        parser.add_argument("--train-split", action="append", help="split(s) whose photos are the shoppers (train)")
        parser.add_argument("--query-split", action="append", help="split(s) measured before and after (val)")
        parser.add_argument("--model", default=None, help="plain model key (default: the shop's)")
        parser.add_argument("--rounds", type=int, default=3, help="waves of shoppers, a retrain after each")
        parser.add_argument("--no-click", type=float, default=ClickModel.no_click)
        parser.add_argument("--wrong", type=float, default=ClickModel.wrong)
        parser.add_argument("--eta", type=float, default=ClickModel.eta, help="position bias exponent")
        parser.add_argument("--shown", type=int, default=ClickModel.shown, help="results a shopper sees")
        parser.add_argument("--margin", type=float, default=0.0,
                            help="Recall@1 margin a retrain must beat (the shop's default is a setting)")
        parser.add_argument("--traffic-count", type=int, default=300, help="earlier searches before a measurement")
        parser.add_argument("--sample", type=int, help="keep every N-th product (all its photos): quick runs")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--json", type=Path, help="write the figures here: before, after, rounds")
        parser.add_argument("--in-place", action="store_true", help="use the current database (tests only)")
        parser.add_argument("--quiet", action="store_true")

    def handle(self, *args, **options):
        manifest: Path = options["manifest"]
        if not manifest.exists():
            raise CommandError(f"{manifest} does not exist (the eval data lives in ../shared/eval)")
        try:
            photos = manifest_read(manifest=manifest, label_column=options["label"], group_column=options["group"])
        except ValueError as error:
            raise CommandError(str(error)) from error
        if options["sample"]:
            photos = _every_nth(photos, options["sample"], by_label=True)
        splits = {name: set(options[f"{name}_split"] or [default]) for name, default in
                  (("gallery", "iconic"), ("train", "train"), ("query", "val"))}
        gallery, shoppers, measured = ([p for p in photos if p.split in splits[name]] for name in ("gallery", "train", "query"))
        if not gallery or not shoppers or not measured:
            raise CommandError(f"empty split: {len(gallery)} gallery, {len(shoppers)} shopper, {len(measured)} "
                               f"measured photos for {splits}")
        if options["rounds"] < 1:
            raise CommandError("--rounds must be at least 1")
        click_model = ClickModel(no_click=options["no_click"], wrong=options["wrong"], eta=options["eta"],
                                 shown=options["shown"])
        progress = (lambda *a: None) if options["quiet"] else _Progress(self.stderr)

        def run():
            with throwaway_media():
                return click_learning_simulate(
                    gallery=gallery, shoppers=shoppers, measured=measured,
                    base_key=options["model"] or settings.VISUALSEARCH_MODEL, rounds=options["rounds"],
                    click_model=click_model, traffic_count=options["traffic_count"], seed=options["seed"],
                    margin=options["margin"], progress=progress,
                )

        if options["in_place"]:
            report = run()
        else:
            with throwaway_database(suffix="clicks"):
                report = run()
        for line in _table(report):
            self.stdout.write(line)
        if options["json"]:
            options["json"].write_text(json.dumps(report.as_dict(), indent=1))


def _table(report) -> list[str]:
    def row(name, key, scores):
        return (f"{name:<8}{scores.queries:>8}" + "".join(f"{scores.recall[k]:>8.3f}" for k in (1, 5, 10))
                + f"{scores.mean_ap:>8.3f}  {key}")

    lines = [f"{'':<8}{'queries':>8}{'R@1':>8}{'R@5':>8}{'R@10':>8}{'mAP':>8}  model key",
             row("before", report.before_key, report.before), row("after", report.after_key, report.after)]
    for r in report.rounds:
        lines.append(f"round {r.round}: {r.searches} searches with {r.model_key}, {r.clicks} clicks "
                     f"({r.wrong_clicks} on a wrong product); retrain: {r.retrain['status']} — {r.retrain['message']}")
    lines.append(f"{report.seconds:.0f} s")
    return lines
