"""Farm settings: the one definition of each (its limits, default, flag and help), the
running values, and the path variables.

The API's settings schema (api/schemas.py) and the manager's command-line flags
(cli.py) are generated from `SETTINGS`, so a limit is written once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Protocol

from flamenco_gui.farm import path_variables
from flamenco_gui.farm.changes import Changes
from flamenco_gui.farm.errors import Invalid
from flamenco_gui.farm.events import Change

PATH_VARIABLES = "path_variables"  # the settings key


@dataclass(frozen=True, slots=True)
class Setting:
    key: str
    low: float
    high: float
    kind: type[int] | type[float]
    default: float
    help: str

    @property
    def flag(self) -> str:
        return "--" + self.key.replace("_", "-")


# The settings a wrangler may change while the farm runs.
SETTINGS: tuple[Setting, ...] = (
    Setting("worker_timeout", 1, 86_400, float, 60.0,
            "seconds without a heartbeat before a worker is offline and its task requeued"),
    Setting("unresponsive_after", 0.5, 86_400, float, 15.0,
            "seconds without a heartbeat before a worker shows as unresponsive"
            " (at most half the worker timeout)"),
    Setting("task_timeout", 1, 7 * 86_400, float, 600.0,
            "seconds without output or progress before a task's attempt fails"),
    Setting("max_attempts", 1, 100, int, 3, "attempts of a task before it fails for good"),
    Setting("blocklist_threshold", 1, 1000, int, 3,
            "failed tasks of one job that keep a worker off that job"),
    Setting("wake_on_queue", 0, 1, int, 0,
            "1: a job naming tags wakes the offline workers that have them (Wake-on-LAN)"),
    Setting("unreferenced_files_grace", 0, 365 * 86_400, float, 86_400.0,
            "seconds a stored job file that no job uses is kept before it is removed"),
)  # fmt: skip
BY_KEY: Mapping[str, Setting] = {s.key: s for s in SETTINGS}


@dataclass(slots=True)
class FarmConfig:
    worker_timeout: float = 60.0
    task_timeout: float = 600.0
    max_attempts: int = 3
    blocklist_threshold: int = 3
    # No heartbeat for this long (three of a worker's default 5 s) and no held poll
    # open: `unresponsive`, shown at once; at most half of worker_timeout.
    unresponsive_after: float = 15.0
    unreferenced_files_grace: float = 86_400.0  # docs/storage.md: clean-up
    max_wait: float = 25.0  # longest a long poll is held (also capped at worker_timeout/2)
    wake_on_queue: int = 0
    # Where magic packets go (--wake-broadcast); None: each worker's own subnet broadcast.
    wake_broadcast: str | None = None

    def update(self, values: Mapping[str, Any]) -> None:
        """Apply settings, each checked against its definition."""
        for key, value in values.items():
            setting = BY_KEY[key]
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise Invalid(f"{key}: must be a number")
            if not setting.low <= value <= setting.high:
                raise Invalid(f"{key}: must be between {setting.low:g} and {setting.high:g}")
            setattr(self, key, setting.kind(value))

    def values(self) -> dict[str, Any]:
        return {s.key: getattr(self, s.key) for s in SETTINGS}


assert {f.name for f in fields(FarmConfig)} >= set(BY_KEY), "every setting has a field"


class SettingsStore(Protocol):
    def get_setting(self, key: str) -> Any: ...
    def set_setting(self, key: str, value: Any) -> None: ...


def stored_settings(store: SettingsStore) -> dict[str, Any]:
    """The settings saved by the window or the API, by key (unset ones left out)."""
    found = {s.key: store.get_setting(s.key) for s in SETTINGS}
    return {k: v for k, v in found.items() if v is not None}


class FarmSettings:
    """The running settings and path variables, changed at once and kept for the next
    start."""

    def __init__(self, store: SettingsStore, changes: Changes, config: FarmConfig) -> None:
        self._store = store
        self._changes = changes
        self.config = config
        self._path_vars: dict[str, dict[str, str]] = store.get_setting(PATH_VARIABLES) or {}

    def values(self) -> dict[str, Any]:
        return self.config.values()

    def update(self, values: dict[str, Any]) -> dict[str, Any]:
        unknown = set(values) - set(BY_KEY)
        if unknown:
            raise Invalid(f"{sorted(unknown)[0]}: unknown setting; known: {', '.join(BY_KEY)}")
        trial = FarmConfig(**{**self.values(), "max_wait": self.config.max_wait})
        trial.update(values)  # validates everything before anything changes
        with self._changes.change():
            for key, value in values.items():
                self._store.set_setting(key, value)
        self.config.update(values)
        self._changes.bus.publish(Change("farm", 0, {"settings": self.values()}))
        return self.values()

    # -- path variables --------------------------------------------------------------

    def path_variables(self) -> dict[str, dict[str, str]]:
        return self._path_vars

    def set_path_variables(self, variables: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        """Replace the farm's path variables; they apply to jobs submitted from now on."""
        try:
            path_variables.validate(variables)
        except ValueError as exc:
            raise Invalid(f"path variables: {exc}") from exc
        with self._changes.change():
            self._store.set_setting(PATH_VARIABLES, variables)
        self._path_vars = variables  # replaced whole: a job compiled on a thread may read it
        self._changes.bus.publish(Change("farm", 0, {"path_variables": variables}))
        return variables

    def with_variables(self, commands: list[list[str]]) -> list[list[str]]:
        """Commands as stored: paths under a variable's folder written with the variable."""
        if not self._path_vars:
            return commands
        return [
            [path_variables.to_variables(a, self._path_vars) for a in argv] for argv in commands
        ]

    def resolved(self, commands: list[list[str]], system: str | None) -> list[list[str]]:
        """Commands with their paths in the form a worker on `system` uses."""
        platform = path_variables.platform_of(system)
        return [
            [path_variables.resolve(a, self._path_vars, platform) for a in argv]
            for argv in commands
        ]
