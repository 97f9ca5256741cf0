"""List model versions with their backfill coverage, or switch search to one (and back).

    manage.py model_version                 # list
    manage.py model_version activate KEY    # refused until the key's backfill is complete
    manage.py model_version backfill KEY
"""

from django.core.management.base import BaseCommand, CommandError

from visualsearch.models import ModelVersion
from visualsearch.versions import VersionError, model_version_activate, model_version_backfill, model_version_coverage


class Command(BaseCommand):
    help = "List model versions, backfill one, or switch search to one."

    def add_arguments(self, parser):
        parser.add_argument("action", nargs="?", choices=["list", "activate", "backfill"], default="list")
        parser.add_argument("key", nargs="?")

    def handle(self, *args, action, key, **options):
        try:
            if action == "activate":
                model_version_activate(key=key or "")
                self.stdout.write(f"search now uses {key}")
            elif action == "backfill":
                self.stdout.write(f"queued {model_version_backfill(key=key or '')} images for {key}")
        except VersionError as error:
            raise CommandError(f"{error.code.value}: {error.message}") from error
        for version in ModelVersion.objects.order_by("created_at"):
            coverage = model_version_coverage(key=version.key)
            self.stdout.write(
                f"{'*' if version.is_active else ' '} {version.key:<50} {version.status:<10} "
                f"{coverage.ready}/{coverage.images} images {version.metrics or ''}"
            )
