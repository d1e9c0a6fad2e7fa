"""An ordered, bounded, on-disk queue of the reports a worker owes its manager.

Everything a task run says (progress, log lines, the final status) goes through here,
so a manager that is restarting or unreachable loses nothing: the worker keeps
rendering, the outbox keeps the reports in order on disk, and they are delivered one
at a time, each acknowledged before the next, once the manager is back.

The file is a JSON-lines journal in the work dir. Each record is appended and fsync'd
before `put_*` returns, so a worker killed right after finishing a task still reports
it when restarted. Record kinds:

    {"seq": 7, "task_id": 3, "lease": 2, "kind": "log", "body": {"lines": [...]}}
    {"extend": 7, "lines": [...]}      more lines for the unsent log message 7
    {"del": 7}                         7 was delivered, dropped or superseded

Deletions are not fsync'd: losing one only means a message is delivered twice, which
the protocol makes harmless (a second `completed` under the same lease is a no-op).
The journal is rewritten to just the live messages when it is opened, when it has
grown to twice their size, and truncated whenever the queue drains.

Keeping it small while the manager is away: a progress report replaces the task's
older unsent one (each carries the full state), and log lines join the task's latest
unsent log message up to `max_log_lines`. Per task, log lines keep their order and the
final status comes last. Past `max_messages`, the oldest progress or log message is
dropped (with a warning); a final status is never dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

log = logging.getLogger(__name__)

Kind = Literal["progress", "log", "final"]

# Compact once the journal is this much bigger than the live messages (amortises the
# rewrite) and at least this big (no churn for a handful of records).
_COMPACT_RATIO = 2
_COMPACT_MIN_BYTES = 1 << 20


@dataclass(slots=True)
class Message:
    """One report for one task run (a task under one lease)."""

    seq: int
    task_id: int
    lease: int
    kind: Kind
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def method(self) -> str:
        return "POST" if self.kind == "log" else "PATCH"

    @property
    def path(self) -> str:
        return f"/tasks/{self.task_id}/log" if self.kind == "log" else f"/tasks/{self.task_id}"

    @property
    def payload(self) -> dict[str, Any]:
        """The JSON body to send: the lease proves the report comes from the task's holder;
        a log batch carries its number, so that its retry lands once on the manager."""
        if self.kind == "log":
            return {"lease": self.lease, "seq": self.seq, **self.body}
        return {"lease": self.lease, **self.body}

    def record(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "task_id": self.task_id,
            "lease": self.lease,
            "kind": self.kind,
            "body": self.body,
        }


class Outbox:
    """The queue. Synchronous file I/O: appends are small and the agent is not a GUI."""

    def __init__(self, path: Path, max_messages: int = 2000, max_log_lines: int = 500) -> None:
        self._path = path
        self._max_messages = max_messages
        self._max_log_lines = max_log_lines
        self._pending: dict[int, Message] = {}  # insertion order is delivery order
        self._next_seq = 1
        self._changed = asyncio.Event()
        self._load()
        self._file = self._rewrite()

    # -- reading the queue -------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._pending)

    def head(self) -> Message | None:
        """The next message to deliver. Nothing is ever merged into it, since it may be
        on the wire already."""
        return next(iter(self._pending.values()), None)

    async def next(self) -> Message:
        """Wait for a message to deliver."""
        while (message := self.head()) is None:
            await self._wait_change()
        return message

    async def drained(self) -> None:
        """Wait until everything has been delivered (or dropped)."""
        while self._pending:
            await self._wait_change()

    async def _wait_change(self) -> None:
        self._changed.clear()
        await self._changed.wait()

    # -- adding ------------------------------------------------------------------------

    def put_progress(self, task_id: int, lease: int, fields: dict[str, Any]) -> None:
        """Queue a progress report; it supersedes the task's older unsent one."""
        older = self._latest(task_id, lease, "progress")
        if older is not None:
            self._delete(older.seq)
            fields = {**older.body, **fields}
        self._append(task_id, lease, "progress", fields)

    def put_log(self, task_id: int, lease: int, lines: list[str]) -> None:
        """Queue log lines, joining the task's latest unsent log message when it has room."""
        if not lines:
            return
        older = self._latest(task_id, lease, "log")
        if older is not None and len(older.body["lines"]) + len(lines) <= self._max_log_lines:
            older.body["lines"].extend(lines)
            self._write({"extend": older.seq, "lines": lines}, sync=True)
            self._notify()
            return
        self._append(task_id, lease, "log", {"lines": list(lines)})

    def put_final(self, task_id: int, lease: int, fields: dict[str, Any]) -> None:
        """Queue the task's final status: after all its earlier reports, never dropped."""
        self._append(task_id, lease, "final", fields)

    def _latest(self, task_id: int, lease: int, kind: Kind) -> Message | None:
        """The task's newest unsent message of `kind`, if nothing final follows it."""
        head = self.head()
        for message in reversed(self._pending.values()):
            if message.task_id != task_id or message.lease != lease:
                continue
            if message.kind == "final":
                return None
            if message.kind == kind:
                return None if message is head else message
        return None

    def _append(self, task_id: int, lease: int, kind: Kind, body: dict[str, Any]) -> None:
        if len(self._pending) >= self._max_messages:
            self._evict_oldest()
        message = Message(self._next_seq, task_id, lease, kind, body)
        self._next_seq += 1
        self._pending[message.seq] = message
        self._write(message.record(), sync=True)
        self._notify()

    def _evict_oldest(self) -> None:
        head = self.head()
        for message in self._pending.values():
            if message.kind != "final" and message is not head:
                log.warning(
                    "outbox full (%d messages): dropping a %s report of task %d",
                    self._max_messages,
                    message.kind,
                    message.task_id,
                )
                self._delete(message.seq)
                return

    # -- removing ----------------------------------------------------------------------

    def ack(self, seq: int) -> None:
        """The manager accepted message `seq` (a no-op if it was dropped meanwhile)."""
        if seq in self._pending:
            self._delete(seq)

    def drop_task(self, task_id: int, lease: int) -> int:
        """Forget everything unsent for one task run (the manager no longer wants it).

        Returns how many messages were dropped.
        """
        doomed = [m.seq for m in self._pending.values() if (m.task_id, m.lease) == (task_id, lease)]
        for seq in doomed:
            self._delete(seq)
        return len(doomed)

    def _delete(self, seq: int) -> None:
        del self._pending[seq]
        if self._pending:
            self._write({"del": seq}, sync=False)
            self._maybe_compact()
        else:
            # Drained: the journal holds nothing worth keeping.
            self._file.truncate(0)
            self._file.seek(0)
            self._live_bytes = 0
        self._notify()

    def _notify(self) -> None:
        self._changed.set()

    # -- the journal -------------------------------------------------------------------

    def _write(self, record: dict[str, Any], *, sync: bool) -> None:
        self._file.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._file.flush()
        if sync:
            os.fsync(self._file.fileno())

    def _load(self) -> None:
        """Replay the journal. A torn last line (a crash mid-append) is skipped."""
        try:
            text = self._path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        for number, line in enumerate(text.splitlines(), 1):
            try:
                self._replay(json.loads(line))
            except (ValueError, KeyError, TypeError):
                log.warning("outbox %s: skipping unreadable record on line %d", self._path, number)
        if self._pending:
            self._next_seq = max(self._pending) + 1
            log.info("outbox: %d reports from before a restart still to deliver", len(self))

    def _replay(self, record: dict[str, Any]) -> None:
        if "del" in record:
            self._pending.pop(record["del"], None)
        elif "extend" in record:
            message = self._pending.get(record["extend"])
            if message is not None:
                message.body["lines"].extend(record["lines"])
        else:
            seq = int(record["seq"])
            self._pending[seq] = Message(
                seq, int(record["task_id"]), int(record["lease"]), record["kind"], record["body"]
            )
            self._next_seq = max(self._next_seq, seq + 1)

    def _rewrite(self) -> TextIO:
        """Write just the live messages to a fresh journal, atomically; return it open."""
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_name(self._path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as out:
            for message in self._pending.values():
                out.write(json.dumps(message.record(), separators=(",", ":")) + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self._path)
        _fsync_dir(self._path.parent)
        self._live_bytes = self._path.stat().st_size
        return self._path.open("a", encoding="utf-8")

    def _maybe_compact(self) -> None:
        """Rewrite once the journal doubled since the last rewrite: linear work overall."""
        size = self._file.tell()
        if size > _COMPACT_MIN_BYTES and size > _COMPACT_RATIO * self._live_bytes:
            self._file.close()
            self._file = self._rewrite()

    def close(self) -> None:
        self._file.close()


def _fsync_dir(path: Path) -> None:
    """Make a rename durable (POSIX; directories cannot be opened on Windows)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
