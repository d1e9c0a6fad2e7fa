"""Every limit on what a request can make the manager build or hold, in one place.

A limit is checked before the work it guards (a job's commands are estimated before
they are expanded, a JSON body's depth while it is parsed, an image's pixels before
it is decoded), so the manager's memory stays bounded whatever a client sends.
docs/limits.md lists each with its default. Each can be changed with an environment
variable `FLAMENCO_LIMIT_<NAME>` (for example `FLAMENCO_LIMIT_MAX_COMPILED_BYTES`), read
once when the manager starts; a value that is not a positive number is ignored with a
warning rather than turning a limit off. Pure: no I/O but the environment.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, fields

log = logging.getLogger(__name__)

ENV_PREFIX = "FLAMENCO_LIMIT_"

# Nesting of a JSON body (and of the 2015 settings string): pydantic-core's parser stops
# at this depth by itself, before building anything, so it is fixed, not a setting.
MAX_JSON_DEPTH = 200


@dataclass(slots=True)
class Limits:
    # -- what one request may make the manager build --------------------------------
    max_compiled_bytes: int = 64 * 1024 * 1024  # a job's commands, estimated before expanding
    max_image_pixels: int = 1024 * 1024  # a preview header's claim, before decoding
    max_log_batch_lines: int = 10_000  # lines in one POST /tasks/{id}/log
    max_file_bytes: int = 64 * 1024**3  # one file in PUT /files/{sha256} (docs/storage.md)
    max_check_files: int = 10_000  # hashes asked about in one POST /files/check
    max_job_files: int = 10_000  # files in one job's manifest
    # -- what clients may make the manager hold --------------------------------------
    max_connections: int = 1024  # open HTTP connections in all (lowered to fit the fd limit)
    max_connections_per_address: int = 256  # open connections from one IP address
    max_held_polls: int = 1000  # PATCH /workers/{id} answers held open at once
    max_event_clients: int = 64  # GET /events streams at once
    max_event_buffer: int = 10_000  # events queued for one slow /events client
    # -- how long a connection may take (seconds) ------------------------------------
    header_timeout: float = 5.0  # from connect (or the end of an answer) to full headers
    keepalive_timeout: float = 75.0  # idle between two requests on one connection
    body_timeout: float = 30.0  # to read a JSON body once its headers are in
    event_write_timeout: float = 10.0  # one /events write may wait this long for the client

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Limits:
        env = os.environ if environ is None else environ
        limits = cls()
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is None:
                continue
            kind = float if isinstance(getattr(limits, f.name), float) else int
            try:
                value = kind(raw)
            except ValueError:
                value = 0
            if value <= 0:
                log.warning("ignored %s%s=%r: not a positive number", ENV_PREFIX, f.name, raw)
                continue
            setattr(limits, f.name, value)
        return limits


# The limits in force. Read once at import; tests replace fields and restore them.
LIMITS = Limits.from_env()
