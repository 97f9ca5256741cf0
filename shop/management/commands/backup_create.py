"""`make backup`: the database (pg_dump, vectors included) and the media folder, verified, into SHOP_BACKUP_DIR."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from shop.backup import BackupError, backup_create


class Command(BaseCommand):
    help = __doc__.splitlines()[0]

    def add_arguments(self, parser):
        parser.add_argument("--output-dir", type=Path, default=None,
                            help="folder for the backup (default: SHOP_BACKUP_DIR, var/backups)")

    def handle(self, *args, output_dir: Path | None, **options):
        try:
            backup = backup_create(output_dir=output_dir)
        except BackupError as error:
            raise CommandError(f"{error.code.value}: {error.message}") from error
        sizes = ", ".join(f"{f.name} {f.size:,} bytes" for f in backup.files)
        self.stdout.write(f"{sizes}; {backup.media_files} media files ({backup.media_bytes:,} bytes); "
                          f"{backup.migrations} migrations applied")
        self.stdout.write(self.style.SUCCESS(f"backup verified: {backup.path}"))
