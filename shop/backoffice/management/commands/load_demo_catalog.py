from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from shop.backoffice.demo import CREDIT, NPM_PACKAGE, demo_csv_write
from catalog.models import Product


class Command(BaseCommand):
    help = "Load the demo catalogue (Fluent Emoji 3D product pictures) unless products exist already."

    def add_arguments(self, parser):
        parser.add_argument("--assets", type=Path, default=settings.DEMO_ASSETS_DIR)
        parser.add_argument("--force", action="store_true", help="import even if the shop has products")

    def handle(self, *args, assets: Path, force: bool, **options):
        if Product.objects.exists() and not force:
            self.stdout.write("The shop already has products; demo catalogue not loaded.")
            return
        if not assets.is_dir():
            raise CommandError(f"{assets} is missing: fetch it with `npm pack {NPM_PACKAGE}` (make demo-assets)")
        csv_path = settings.VAR_DIR / "demo" / "catalog.csv"
        count = demo_csv_write(assets=assets, out=csv_path)
        self.stdout.write(f"Demo catalogue: {count} products. {CREDIT}")
        call_command("import_catalog", str(assets), csv=csv_path, stdout=self.stdout, stderr=self.stderr)
