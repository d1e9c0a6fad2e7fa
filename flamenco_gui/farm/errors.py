"""Farm errors. Adapters map them: the API to 4xx/503 answers, the GUI to messages."""

from __future__ import annotations


class FarmError(Exception):
    """Base class; `status` is the HTTP status the API answers with."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Invalid(FarmError):
    status = 422


class NotFound(FarmError):
    status = 404


class Conflict(FarmError):
    """The request contradicts the farm's state: a lost lease, a forbidden transition."""

    status = 409


class Forbidden(FarmError):
    status = 403


class Unavailable(FarmError):
    """The data dir cannot be written (disk full, read-only): try again later."""

    status = 503


class BadRequest(FarmError):
    """A body that does not parse at all (malformed JSON, a broken form)."""

    status = 400


class TooLarge(FarmError):
    """Over a named limit on what the manager would build (docs/limits.md)."""

    status = 413


class TooMany(FarmError):
    """Over a named limit on what the manager holds at once: try again later."""

    status = 429
