"""gunicorn settings for the shop's web process: `gunicorn --config shop/gunicorn.conf.py shop.wsgi:application`.

Everything an operator tunes comes from the environment, like the Django settings (django-environ reads both):

    PORT / GUNICORN_BIND     where to listen: GUNICORN_BIND wins (e.g. unix:/run/shop.sock), else 0.0.0.0:$PORT
    WEB_CONCURRENCY          worker processes (default 2: one per core of the 2-core machines the README measured)
    GUNICORN_THREADS         threads per worker (default 4)
    GUNICORN_TIMEOUT         seconds before a silent worker is restarted (default 120)
    GUNICORN_MAX_REQUESTS    restart a worker after this many requests (default 0: never)
    GUNICORN_LOG_LEVEL       gunicorn's own log level (default info); access and error logs go to stdout
"""

import os

import environ

env = environ.Env()

# The production server runs the production settings unless the operator names others.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings.production")
# One torch thread per web worker: the model is loaded in each worker process after the fork, and torch would
# otherwise start one thread per core in every worker, so two searches at once fight over the same cores
# (bench/load.py measured this; README "Load").
os.environ.setdefault("OMP_NUM_THREADS", "1")

bind = [env("GUNICORN_BIND", default=f"0.0.0.0:{env.int('PORT', default=8000)}")]
workers = env.int("WEB_CONCURRENCY", default=2)
# gthread keeps connections alive and lets a worker answer product pages while one thread runs a photo search:
# bench/load.py, 2 workers x 4 threads on 2 cores (README "Load").
worker_class = "gthread"
threads = env.int("GUNICORN_THREADS", default=4)
# A photo search on a 12 MP phone photo takes ~1 s on a busy core; the first one in a worker also loads the model.
timeout = env.int("GUNICORN_TIMEOUT", default=120)
graceful_timeout = 30
max_requests = env.int("GUNICORN_MAX_REQUESTS", default=0)
max_requests_jitter = max_requests // 10
# Each worker imports Django itself (no preload): the embedded PostgreSQL and Redis are attached per process, and
# torch is never imported before the fork.
preload_app = False
accesslog = "-"
errorlog = "-"
loglevel = env("GUNICORN_LOG_LEVEL", default="info").lower()
# Behind a reverse proxy on another host, set FORWARDED_ALLOW_IPS to its address (gunicorn reads it itself).
