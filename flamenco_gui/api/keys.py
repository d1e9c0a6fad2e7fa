"""Typed keys for what the aiohttp app carries."""

from __future__ import annotations

from aiohttp import web

from flamenco_gui.api.auth import FarmToken
from flamenco_gui.api.turns import LoopTurns
from flamenco_gui.farm.service import FarmService
from flamenco_gui.loop_lag import LoopLagMonitor

SERVICE = web.AppKey("service", FarmService)
TOKEN = web.AppKey("token", FarmToken)
VIEWER_TOKEN = web.AppKey("viewer_token", FarmToken)  # the status page's read-only token
LOOP_LAG = web.AppKey("loop_lag", LoopLagMonitor)
TURNS = web.AppKey("turns", LoopTurns)
