"""Test settings: the same real PostgreSQL and Redis, on their own Redis databases and Celery queue."""

import os

os.environ.setdefault("SHOP_REDIS_DB", "4")
os.environ.setdefault("CELERY_QUEUE", "shop-test")

from .base import *  # noqa: E402,F401,F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
