"""The in-process event bus: every change to a job, task or worker is published here.

Subscribers (the window's table models, the SSE stream) get the changed row; they must
be quick, as they run on the loop thread inside the change that published.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

log = logging.getLogger(__name__)

# farm: the manager itself (storage, settings); preview: a job's new frame thumbnail
# tasks: a set of one job's tasks (id: the job's) now has the same fields, or is gone:
# row = {"ids": [...], "fields": {...} | None}
Kind = Literal["job", "task", "worker", "farm", "preview", "tasks"]


@dataclass(frozen=True, slots=True)
class Change:
    kind: Kind
    id: int
    row: dict[str, Any] | None  # None: the object was deleted


Subscriber = Callable[[Change], None]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        self._subscribers.append(fn)
        return lambda: self._subscribers.remove(fn)

    @property
    def active(self) -> bool:
        """Whether anyone listens: with nobody, a change's row need not even be read."""
        return bool(self._subscribers)

    def publish(self, change: Change) -> None:
        for fn in list(self._subscribers):
            try:
                fn(change)
            except Exception:
                # One broken subscriber must not undo or block a committed change.
                log.exception("event subscriber failed on %s %s", change.kind, change.id)
