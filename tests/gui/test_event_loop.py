"""The batched loop keeps asyncio's contract and Qt's: call order, timers, cancellation,
errors, threads, and Qt events delivered while callbacks stream."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer

from flamenco_gui.gui.event_loop import FarmEventLoop


def test_call_soon_runs_in_call_order_with_its_context(qloop: FarmEventLoop) -> None:
    seen: list[Any] = []

    async def main() -> None:
        for i in range(50):
            qloop.call_soon(seen.append, i)
        qloop.call_soon(lambda: qloop.call_soon(seen.append, "scheduled by a callback"))
        qloop.call_soon(seen.append, "last of the first batch")
        await asyncio.sleep(0.05)

    qloop.run_until_complete(main())
    assert seen == [*range(50), "last of the first batch", "scheduled by a callback"]


def test_a_canceled_callback_does_not_run(qloop: FarmEventLoop) -> None:
    seen: list[str] = []

    async def main() -> None:
        qloop.call_soon(seen.append, "a")
        qloop.call_soon(seen.append, "b").cancel()
        qloop.call_soon(seen.append, "c")
        await asyncio.sleep(0.05)

    qloop.run_until_complete(main())
    assert seen == ["a", "c"]


def test_timers_fire_in_time_order_and_cancel(qloop: FarmEventLoop) -> None:
    seen: list[str] = []

    async def main() -> None:
        t0 = time.monotonic()
        qloop.call_later(0.06, seen.append, "60 ms")
        qloop.call_later(0.02, seen.append, "20 ms")
        qloop.call_later(0.04, seen.append, "40 ms").cancel()
        await asyncio.sleep(0.1)
        # Qt's coarse timers (qasync's, unchanged here) may fire up to 5 % early.
        assert time.monotonic() - t0 >= 0.09

    qloop.run_until_complete(main())
    assert seen == ["20 ms", "60 ms"]


def test_an_exception_in_a_callback_reaches_the_handler_and_the_next_still_runs(
    qloop: FarmEventLoop,
) -> None:
    errors: list[BaseException] = []
    seen: list[str] = []
    qloop.set_exception_handler(lambda loop, ctx: errors.append(ctx["exception"]))

    def boom() -> None:
        raise ValueError("boom")

    async def main() -> None:
        qloop.call_soon(boom)
        qloop.call_soon(seen.append, "after")
        await asyncio.sleep(0.05)

    qloop.run_until_complete(main())
    assert seen == ["after"]
    assert [str(e) for e in errors] == ["boom"]


def test_call_soon_threadsafe_from_another_thread(qloop: FarmEventLoop) -> None:
    async def main() -> str:
        fut: asyncio.Future[str] = qloop.create_future()
        threading.Thread(
            target=lambda: qloop.call_soon_threadsafe(
                fut.set_result, threading.current_thread().name
            ),
            name="other",
        ).start()
        return await asyncio.wait_for(fut, 5)

    assert qloop.run_until_complete(main()) == "other"


class _Catcher(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.at: list[float] = []

    def event(self, ev: QEvent) -> bool:
        if ev.type() == QEvent.Type.User:
            self.at.append(time.monotonic())
            return True
        return super().event(ev)


def test_qt_events_and_timers_are_delivered_while_callbacks_stream(qloop: FarmEventLoop) -> None:
    """A callback that schedules itself forever (a busy server) must not starve Qt:
    posted events, Qt timers and asyncio timers all get through."""
    catcher = _Catcher()
    qt_timer_at: list[float] = []
    spins = [0]

    def spin() -> None:
        spins[0] += 1
        qloop.call_soon(spin)

    async def main() -> tuple[float, float]:
        qloop.call_soon(spin)
        t0 = time.monotonic()
        QCoreApplication.postEvent(catcher, QEvent(QEvent.Type.User))
        QTimer.singleShot(20, lambda: qt_timer_at.append(time.monotonic()))
        await asyncio.sleep(0.1)  # an asyncio timer, through the stream
        return t0, time.monotonic()

    t0, woke = qloop.run_until_complete(main())
    assert spins[0] > 100, "the callback stream ran"
    assert catcher.at and catcher.at[0] - t0 < 0.1, "a posted Qt event waited behind callbacks"
    assert qt_timer_at and qt_timer_at[0] - t0 < 0.2, "a Qt timer was starved"
    assert woke - t0 < 0.5, "asyncio's own timer was starved"
