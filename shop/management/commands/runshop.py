"""`make run`: database and Redis (embedded unless configured), migrations, demo catalogue, worker, beat, web.

Ctrl-C stops the web server, beat and worker, then the embedded PostgreSQL and Redis.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from shop import embedded


class Command(BaseCommand):
    help = __doc__.splitlines()[0]

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")
        parser.add_argument("--no-demo", action="store_true", help="do not load the demo catalogue")

    def handle(self, *args, addr: str, no_demo: bool, **options):
        # Ctrl-C and `kill` both end in the cleanup below, even where a parent shell ignored SIGINT.
        def stop(signum, frame):
            raise KeyboardInterrupt

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("database ready")
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "shop.settings.dev")}
        celery = [sys.executable, "-m", "celery", "-A", "shop"]
        # Each child in a process group of its own: Ctrl-C (sent to the terminal's whole group) reaches only this
        # command, which then stops each child once. A child that also got the terminal's signal would get a
        # second one mid-shutdown, and beat printed a 200-line traceback from its exit handlers.
        children = [
            subprocess.Popen([*celery, "worker", "--loglevel", "INFO", "--concurrency", "1",
                              "-Q", settings.CELERY_TASK_DEFAULT_QUEUE], env=env, process_group=0),
            subprocess.Popen([*celery, "beat", "--loglevel", "INFO",
                              "--schedule", str(settings.VAR_DIR / "celerybeat-schedule")], env=env, process_group=0),
            subprocess.Popen([sys.executable, "manage.py", "runserver", addr, "--noreload"],
                             env={**env, "VISUALSEARCH_PRELOAD_MODEL": "1"}, process_group=0),
        ]
        try:
            if not no_demo:
                call_command("load_demo_catalog")
            self.stdout.write(self.style.SUCCESS(f"The shop is open on http://{addr}/ (admin: /admin/). Ctrl-C stops it."))
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
            self.stderr.write("a process stopped; shutting down")
        except KeyboardInterrupt:
            self.stdout.write("\nstopping…")
        finally:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            for child in children:
                try:
                    child.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    child.kill()
            if not os.environ.get("REDIS_URL"):
                embedded.redis_stop(settings.VAR_DIR)
            if not os.environ.get("DATABASE_URL"):
                from django.db import connections

                connections.close_all()
                embedded.postgres_stop(settings.VAR_DIR)
            self.stdout.write("stopped")
