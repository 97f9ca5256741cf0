"""Train an adapter on the catalogue's labelled images and register it as a new model version.

    manage.py train_adapter                      # over the active key; backfill starts on the workers
    manage.py train_adapter --base effnet-lite0-avg-224 --epochs 40 --no-backfill

Search keeps using the active version; switch in the admin (Visual search > Model versions) or with
``manage.py model_version activate KEY`` once the backfill is complete.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from visualsearch.selectors import active_model_key
from visualsearch.training import AdapterSettings, TrainingError, adapter_train_and_register
from visualsearch.versions import VersionError, model_version_backfill


class Command(BaseCommand):
    help = "Train a linear adapter from labelled catalogue images; register it as a new model version."

    def add_arguments(self, parser):
        parser.add_argument("--base", help="frozen model key to adapt (default: the active one)")
        parser.add_argument("--epochs", type=int, default=AdapterSettings.epochs)
        parser.add_argument("--holdout", type=float, default=AdapterSettings.holdout_fraction,
                            help="share of each product's labelled photos held out to report Recall@1")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--no-backfill", action="store_true", help="do not queue the new key's backfill")

    def handle(self, *args, base, epochs, holdout, seed, no_backfill, **options):
        base = base or active_model_key()
        settings = AdapterSettings(epochs=epochs, holdout_fraction=holdout, seed=seed)
        last = [-1]

        def progress(fraction: float, message: str) -> None:
            if int(fraction * 10) != last[0]:
                last[0] = int(fraction * 10)
                self.stderr.write(f"{fraction:4.0%} {message}")

        try:
            version = adapter_train_and_register(base_key=base, settings=settings, progress=progress)
        except (TrainingError, VersionError) as error:
            raise CommandError(error.message) from error
        self.stdout.write(f"registered {version.key} ({version.training_images} training images)")
        self.stdout.write(json.dumps(version.metrics, indent=1))
        if not no_backfill:
            sent = model_version_backfill(key=version.key)
            self.stdout.write(f"backfill queued: {sent} images; switch when it is complete")
