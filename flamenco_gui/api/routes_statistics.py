"""What the farm did, summed up (docs/statistics.md): the statistics window's tables."""

from __future__ import annotations

from flamenco_gui.api import schemas as s
from flamenco_gui.api.routing import Auth, Ctx, Json, route


@route(
    "GET", "/statistics/workers", auth=Auth.VIEWER, query=s.StatisticsQuery,
    response=list[s.WorkerDay],
)  # fmt: skip
async def worker_days(ctx: Ctx) -> Json:
    """Per day and worker: frames finished, busy hours, frames an hour, failed attempts."""
    q: s.StatisticsQuery = ctx.query
    return await ctx.service.worker_statistics(q.days)


@route(
    "GET", "/statistics/utilisation", auth=Auth.VIEWER, query=s.StatisticsQuery,
    response=list[s.UtilisationHour],
)  # fmt: skip
async def utilisation(ctx: Ctx) -> Json:
    """The farm's busy node-hours in each hour of the last `days`."""
    q: s.StatisticsQuery = ctx.query
    return await ctx.service.utilisation(q.days)


@route(
    "GET", "/statistics/history", auth=Auth.VIEWER, query=s.StatisticsQuery,
    response=list[s.HistoryDay],
)  # fmt: skip
async def history(ctx: Ctx) -> Json:
    """Jobs, frames rendered and node-hours a day, deleted jobs included."""
    q: s.StatisticsQuery = ctx.query
    return await ctx.service.history_by_day(q.days)
