"""Test settings: the same real PostgreSQL and Redis, on their own Redis databases and Celery queue."""

import os

os.environ.setdefault("SHOP_REDIS_DB", "4")
os.environ.setdefault("CELERY_QUEUE", "shop-test")
os.environ.setdefault("SHOP_WEBHOOK_BACKOFF_SECONDS", "1")  # webhook retries in seconds, for the worker too
# Suites send many API requests a minute from one IP; the throttle tests set their own low rates.
for _scope in ("ANON", "KEY", "IP"):
    os.environ.setdefault(f"SHOP_API_RATE_{_scope}", "100000/minute")

os.environ.setdefault("OUTBOX_SEND_ON_COMMIT", "0")  # see base.py; conftest's worker and faultkit set "1"
os.environ.setdefault("SHOP_MAIL_SEND_ON_COMMIT", "0")  # order mails: the tests send them themselves

from .base import *  # noqa: E402,F401,F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
