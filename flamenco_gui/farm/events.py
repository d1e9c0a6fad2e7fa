"""The in-process event bus: every change to a job, task or worker is published here.

Subscribers (the window's table models, the SSE stream) get the changed row; they must
be quick, as they run on the loop thread inside the change that published.

A change the farm made to a few columns it has in hand (a worker's progress report, a
claim) is published as those columns alone (`partial`), so a busy farm's commits are not
each followed by re-reading every row they touched. A subscriber that takes partial
changes says so; the others get the whole row, read once for all of them.
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
    partial: bool = False  # row holds only the columns that changed


Subscriber = Callable[[Change], None]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[tuple[Subscriber, bool]] = []

    def subscribe(self, fn: Subscriber, *, partial: bool = False) -> Callable[[], None]:
        """`partial`: `fn` takes changes that carry only the changed columns."""
        entry = (fn, partial)
        self._subscribers.append(entry)
        return lambda: self._subscribers.remove(entry)

    @property
    def active(self) -> bool:
        """Whether anyone listens: with nobody, a change's row need not even be read."""
        return bool(self._subscribers)

    def publish(self, change: Change, whole: Callable[[], Change] | None = None) -> None:
        """`whole` gives a partial change's full row for the subscribers that need it
        (called once, only if there is one)."""
        full: Change | None = None
        for fn, takes_partial in list(self._subscribers):
            try:
                if change.partial and not takes_partial:
                    if full is None:
                        full = whole() if whole is not None else change
                    fn(full)
                else:
                    fn(change)
            except Exception:
                # One broken subscriber must not undo or block a committed change.
                log.exception("event subscriber failed on %s %s", change.kind, change.id)
