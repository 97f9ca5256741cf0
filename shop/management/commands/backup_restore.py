"""`make restore BACKUP=...`: verify a backup, then replace the database and the media folder with it.

Refuses (exit status 1, nothing changed) a backup without its manifest or whose files do not match their
checksums. Stop the web processes and workers first.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from shop.backup import BackupError, backup_restore, backup_verify


class Command(BaseCommand):
    help = __doc__.splitlines()[0]

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, help="a backup folder (var/backups/lumen-...)")
        parser.add_argument("--noinput", "--no-input", action="store_false", dest="interactive",
                            help="do not ask for confirmation")
        parser.add_argument("--verify-only", action="store_true", help="check the backup, change nothing")

    def handle(self, *args, path: Path, interactive: bool, verify_only: bool, **options):
        try:
            manifest = backup_verify(path=path)
            self.stdout.write(f"backup of {manifest['created']} verified: {len(manifest['files'])} files, "
                              f"{manifest['media']['count']} media files, {sum(map(len, manifest['migrations'].values()))} migrations")
            if verify_only:
                return
            database = connections["default"].settings_dict["NAME"]
            if interactive:
                answer = input(f"This replaces the database {database!r} and the media folder {settings.MEDIA_ROOT} "
                               "with the backup's. Type 'yes' to continue: ")
                if answer != "yes":
                    raise CommandError("restore cancelled; nothing changed")
            # Verified again inside: the files could have changed while the question waited.
            result = backup_restore(path=path)
        except BackupError as error:
            raise CommandError(f"{error.code.value}: {error.message}; nothing was changed") from error
        self.stdout.write(self.style.SUCCESS(
            f"restored {result.path} into database {result.database!r} and {settings.MEDIA_ROOT} "
            f"({result.media_files} media files)"
        ))
        if result.pending_migrations:
            self.stdout.write(f"{len(result.pending_migrations)} migrations are newer than the backup: "
                              "run `python manage.py migrate`")
