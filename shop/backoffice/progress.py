"""Progress of a long command: tqdm's bar on a terminal, a plain line every few seconds anywhere else.

tqdm redraws its bar with carriage returns and has no line mode: sent to a log (make run, cron, CI) an import of
370 pictures left about a thousand "\\r" redraws in one line. Off a terminal this writes one short line every
``every`` seconds and one at the end instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import IO

from tqdm import tqdm

LOG_EVERY_SECONDS = 5.0


class ProgressLines:
    """``update()`` as tqdm's, printing ``import: 120/369 img (32 %), 24.1 img/s`` at most every ``every`` s."""

    def __init__(
        self, *, total: int, stream: IO[str], label: str = "import", unit: str = "img",
        every: float = LOG_EVERY_SECONDS, clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total, self.stream, self.label, self.unit, self.every, self.clock = total, stream, label, unit, every, clock
        self.done = 0
        self.started = self.last = clock()
        self.written_at_done: int | None = None

    def update(self, n: int = 1) -> None:
        self.done += n
        if self.clock() - self.last >= self.every:
            self._write()

    def close(self) -> None:
        if self.written_at_done != self.done:
            self._write()

    def _write(self) -> None:
        now = self.clock()
        elapsed = max(now - self.started, 1e-9)
        share = f" ({100 * self.done // self.total} %)" if self.total else ""
        self.stream.write(f"{self.label}: {self.done}/{self.total} {self.unit}{share}, "
                          f"{self.done / elapsed:.1f} {self.unit}/s\n")
        self.stream.flush()
        self.last, self.written_at_done = now, self.done

    def __enter__(self) -> "ProgressLines":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress_for(*, total: int, stream: IO[str], disable: bool = False, label: str = "import", unit: str = "img"):
    """A tqdm bar when ``stream`` is a terminal, else ProgressLines; both are context managers with update()."""
    if disable:
        return tqdm(total=total, disable=True)
    if getattr(stream, "isatty", lambda: False)():
        return tqdm(total=total, unit=unit, file=stream)
    return ProgressLines(total=total, stream=stream, label=label, unit=unit)
