# Two commands for a newcomer: `make run` and `make test`. Everything they need is installed here.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_PKG := @lobehub/fluent-emoji-3d@1.1.0
DEMO_DIR := var/demo/package/assets

.PHONY: install run test bench eval demo-assets browser stop clean

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch first, pinned, so no other package can pull a different build
	$(PY) -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install --quiet -r requirements.txt
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

# The import contracts first (.importlinter: layers, no cycles): a broken architecture fails in seconds.
test: install demo-assets browser
	$(VENV)/bin/lint-imports --config .importlinter --no-cache
	$(PY) -m pytest

bench: install demo-assets
	$(PY) -m pip install --quiet -r bench/requirements.txt
	$(PY) bench/ingest_search.py

# Protocols A and C with the default key, then with the stronger offline key effnet-lite1-avg-240 (~5 min).
eval: install
	$(PY) manage.py evaluate_retrieval --protocol A
	$(PY) manage.py evaluate_retrieval --protocol A --model effnet-lite1-avg-240
	$(PY) manage.py evaluate_retrieval --protocol C
	$(PY) manage.py evaluate_retrieval --protocol C --model effnet-lite1-avg-240

stop:
	$(PY) -m shop.embedded stop

clean: stop
	rm -rf var
