"""Who listens to which topic. Higher apps subscribe in their ``AppConfig.ready``; the writer never knows them.

A handler receives the event and runs inside the dispatcher's transaction, together with the row that marks
the event handled for it: it must only write to the database (work rows such as webhook deliveries) and leave
anything that leaves the process (HTTP, mail) to its own work rows, sent after commit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .models import Event

Handler = Callable[[Event], None]


@dataclass(frozen=True)
class Subscriber:
    name: str
    topics: frozenset[str]
    handler: Handler


_SUBSCRIBERS: dict[str, Subscriber] = {}


def subscribe(*, name: str, topics: list[str], handler: Handler) -> None:
    """Register (or replace, so a reload is harmless) the subscriber called ``name``."""
    _SUBSCRIBERS[name] = Subscriber(name=name, topics=frozenset(topics), handler=handler)


def unsubscribe(*, name: str) -> None:
    _SUBSCRIBERS.pop(name, None)


def subscribers_for(topic: str) -> list[Subscriber]:
    return [s for _, s in sorted(_SUBSCRIBERS.items()) if topic in s.topics]
