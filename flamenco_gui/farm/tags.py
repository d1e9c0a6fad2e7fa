"""Tags: which work goes to which machine.

A worker has tags (the wrangler's, or while the wrangler has set none, those its
`--tags` offered); a job names the tags it needs, and only a worker with all of them
takes its tasks. Dispatch checks them in the pull's own SQL (store/scheduler.py); this
module holds the one spelling of a tag and the reason a job waits for want of one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

TAG = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")
MAX_TAGS = 16


def clean_tags(tags: Iterable[str]) -> list[str]:
    """Tags as stored: lower case, sorted, each once. Raises ValueError naming a bad one."""
    out = sorted({t.strip().lower() for t in tags if t.strip()})
    for tag in out:
        if not TAG.match(tag):
            raise ValueError(
                f"tag {tag!r}: 1-32 of a-z, 0-9, '_', '.', '-', starting with a letter or digit"
            )
    if len(out) > MAX_TAGS:
        raise ValueError(f"{len(out)} tags; at most {MAX_TAGS}")
    return out


def encode_tags(tags: Iterable[str] | None) -> str | None:
    """The workers' tag columns: `,a,b,` so that SQL can look one tag up with instr()."""
    if tags is None:
        return None
    return "," + ",".join(clean_tags(tags)) + ","


def decode_tags(column: str | None) -> list[str]:
    return [t for t in (column or "").split(",") if t]


def missing_tags_reason(needed: Iterable[str], worker_tags: Iterable[str]) -> str | None:
    """Why a job needing `needed` waits: no enabled worker has them all (None: one has).

    `worker_tags`: each enabled worker's tags, comma-framed. Names the tags that the
    closest worker (the one missing fewest) lacks."""
    need = set(needed)
    if not need:
        return None
    best: set[str] | None = None
    for column in worker_tags:
        lacking = need - set(decode_tags(column))
        if not lacking:
            return None
        if best is None or len(lacking) < len(best):
            best = lacking
    names = sorted(best if best is not None else need)
    noun = "tag" if len(names) == 1 else "tags"
    return f"no enabled worker has {noun} {', '.join(names)}"
