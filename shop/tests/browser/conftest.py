"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright against pytest-django's live server."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import PROJECT_DIR

CHROMIUM = os.environ.get("SHOP_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = PROJECT_DIR / "test-artifacts" / "screenshots"
# No network but loopback here and in CI: keep Chromium from phoning home or waiting for a GPU.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="module")
def chromium():
    """One browser per module; it (and the flag below) must not outlive the browser tests: later tests run
    `check --deploy` in subprocesses, which rightly refuse DJANGO_ALLOW_ASYNC_UNSAFE."""
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs it (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread; the test's own ORM calls are
    # plain synchronous ones, so Django's async-safety guard would refuse them without this.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()
    playwright.stop()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def screenshot():
    """screenshot(page, "name") saves a full-page PNG under test-artifacts/screenshots/ (git-ignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        # A full-page shot does not scroll, so lazy pictures below the fold would stay blank: load them now.
        page.evaluate("document.querySelectorAll('img[loading=lazy]').forEach(img => { img.loading = 'eager'; })")
        page.wait_for_function("Array.from(document.images).every(img => img.complete)")
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def desktop(chromium, live_server):
    context = chromium.new_context(viewport={"width": 1280, "height": 860}, locale="en-GB", base_url=live_server.url)
    context.set_default_timeout(20_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def phone(chromium, live_server):
    context = chromium.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True,
        locale="en-GB", base_url=live_server.url,
    )
    context.set_default_timeout(20_000)
    page = context.new_page()
    yield page
    context.close()
