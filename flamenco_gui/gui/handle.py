"""What the window may use of the manager: the farm's facade, the address workers use,
and the token actions. A Protocol, so gui/ depends on no part of the manager's
runtime (its store above all); `flamenco_gui.manager.Manager` satisfies it."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from flamenco_gui.farm.pairing import PairingCodes
from flamenco_gui.farm.service import FarmService


class Token(Protocol):
    @property
    def value(self) -> str: ...


class ManagerHandle(Protocol):
    service: FarmService
    pairing: PairingCodes
    farm_id: str
    data_dir: Path
    host: str
    port: int

    @property
    def token(self) -> Token: ...

    @property
    def viewer_token(self) -> Token: ...

    @property
    def url(self) -> str: ...

    def rotate_token(self) -> str: ...

    def rotate_viewer_token(self) -> str: ...
