from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from shop.backoffice.importing import CatalogFileError, catalog_import, rows_from_csv, rows_from_folder
from shop.backoffice.progress import progress_for


class Command(BaseCommand):
    help = "Import a folder of product images, with an optional CSV (sku,name,category,price,description,image)."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, help="folder of images")
        parser.add_argument("--csv", type=Path, help="CSV file; image paths in it are relative to PATH")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, path: Path, csv: Path | None, no_progress: bool, **options):
        if not path.is_dir():
            raise CommandError(f"{path} is not a folder")
        if csv is None and (path / "catalog.csv").exists():
            csv = path / "catalog.csv"
        try:
            total = sum(1 for _ in (rows_from_csv(csv, path) if csv else rows_from_folder(path)))
        except (CatalogFileError, OSError) as error:
            raise CommandError(str(error)) from error
        # A bar on a terminal; in a log, a line every few seconds (no carriage returns).
        with progress_for(total=total, stream=self.stderr._out, disable=no_progress) as bar:
            report = catalog_import(folder=path, csv_path=csv, on_progress=bar.update)
        for message in report.errors:
            self.stderr.write(self.style.WARNING(message))
        self.stdout.write(
            self.style.SUCCESS(
                f"products: {report.products_created} created, {report.products_updated} updated; "
                f"variants: {report.variants_created} created, {report.variants_updated} updated; "
                f"images: {report.images_added} added, {report.images_unchanged} unchanged; "
                f"{len(report.errors)} skipped; {len(report.embedding_ids)} queued for embedding"
            )
        )
