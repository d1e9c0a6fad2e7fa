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
