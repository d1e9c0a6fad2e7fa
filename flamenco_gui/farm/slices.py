"""How big the next slice of a job action is: sized by how long the last one took.

A slice's cost per task varies fourfold with what it writes (a cancel adds an error
text to every row, and the rows grow; a pause only flips the status) and with the
machine's load. A fixed size is then either too small for the cheap moves (many
transactions, slow on the whole) or too big for the dear ones (a slice that holds the
loop past the lag budget). Each slice is timed, and the next one sized to take about
`TARGET` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

TARGET = 0.005  # seconds a slice should hold the loop
LOWEST, HIGHEST = 50, 4000


class SliceSize:
    def __init__(self, start: int) -> None:
        self.value = start

    @contextmanager
    def timed(self) -> Iterator[None]:
        began = time.perf_counter()
        yield
        took = max(time.perf_counter() - began, 1e-4)
        # Halfway to the size that would have taken TARGET: steady under noise.
        wanted = self.value * TARGET / took
        self.value = int(min(HIGHEST, max(LOWEST, (self.value + wanted) / 2)))
