"""LoopTurns: at most `per_turn` handlers start per loop turn, in arrival order."""

from __future__ import annotations

import asyncio

from flamenco_gui.api.turns import LoopTurns


class TurnCounter:
    """Counts the loop's turns: a callback that puts itself back for the next turn."""

    def __init__(self) -> None:
        self.turn = 0
        self._running = True
        asyncio.get_running_loop().call_soon(self._tick)

    def _tick(self) -> None:
        self.turn += 1
        if self._running:
            asyncio.get_running_loop().call_soon(self._tick)

    def stop(self) -> None:
        self._running = False


async def _flood(turns: LoopTurns, n: int, counter: TurnCounter) -> list[tuple[int, int]]:
    entered: list[tuple[int, int]] = []

    async def handler(i: int) -> None:
        await turns.enter()
        entered.append((i, counter.turn))

    await asyncio.gather(*(handler(i) for i in range(n)))
    return entered


async def test_a_flood_is_admitted_a_few_per_turn_in_arrival_order() -> None:
    counter = TurnCounter()
    entered = await _flood(LoopTurns(per_turn=3), 10, counter)
    counter.stop()
    assert [i for i, _ in entered] == list(range(10))
    per_turn: dict[int, int] = {}
    for _, turn in entered:
        per_turn[turn] = per_turn.get(turn, 0) + 1
    assert max(per_turn.values()) == 3
    assert len(per_turn) == 4  # 3 + 3 + 3 + 1


async def test_without_a_flood_handlers_pass_at_once() -> None:
    turns = LoopTurns(per_turn=3)
    loop = asyncio.get_running_loop()
    for _ in range(3):
        # enter() must not suspend: a coroutine that finishes on its first step.
        coro = turns.enter()
        try:
            coro.send(None)
        except StopIteration:
            pass
        else:  # pragma: no cover - the failure case
            raise AssertionError("enter() waited although the turn had room")
    await asyncio.sleep(0)  # the next turn starts empty
    fut = loop.create_task(turns.enter())
    await asyncio.sleep(0)
    assert fut.done()


async def test_a_cancelled_waiter_gives_its_place_to_the_next() -> None:
    turns = LoopTurns(per_turn=1)
    done: list[int] = []

    async def handler(i: int) -> None:
        await turns.enter()
        done.append(i)

    tasks = [asyncio.create_task(handler(i)) for i in range(4)]
    await asyncio.sleep(0)  # all four ran their first step: 0 entered, 1-3 wait
    assert done == [0]
    tasks[1].cancel()
    await asyncio.wait_for(asyncio.gather(tasks[2], tasks[3]), 1.0)
    assert tasks[1].cancelled()
    assert done == [0, 2, 3]
