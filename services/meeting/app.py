"""Composition root of the meeting service (议事有平台)."""

from __future__ import annotations

from pathlib import Path

from services.meeting import agenda, calendars, changes, halls, handlers, notices, planner, workdays
from services.meeting.api import router
from services.meeting.models import metadata
from services.runtime.consumer import Subscription, subscribe
from services.runtime.locks import Periodic
from services.runtime.service import Context, ServiceSpec, create_app
from services.runtime.settings import Settings

NAME = "meeting"
PLAN_INTERVAL_S = 60
NOTICE_INTERVAL_S = 15


def subscriptions(settings: Settings) -> list[Subscription]:
    """Meeting's one queue: graded, reopened and crossed-off matters."""
    matters = {
        "matter.triaged.v1": handlers.on_matter_triaged,
        "matter.regraded.v1": handlers.on_matter_regraded,
        "matter.reopened.v1": handlers.on_matter_reopened,
        "matter.closed.v1": handlers.on_matter_closed,
    }
    return [subscribe("meeting.matters", matters, settings)]


def periodic(ctx: Context) -> list[Periodic]:
    """The fixed-day planner every minute and notice delivery every 15 s, each by one replica at a time."""

    async def plan() -> None:
        await planner.plan_all(ctx.bus.uow)

    async def deliver() -> None:
        await notices.run(ctx.bus.uow, ctx.db)

    return [Periodic("plan", PLAN_INTERVAL_S, plan), Periodic("notices", NOTICE_INTERVAL_S, deliver)]


def spec() -> ServiceSpec:
    """Everything that makes the meeting service."""
    return ServiceSpec(
        name=NAME,
        title="Meeting 议事会",
        metadata=metadata,
        migrations=Path(__file__).parent / "migrations",
        routers=[router, agenda.router, changes.router, halls.router, calendars.router, workdays.router],
        subscriptions=subscriptions,
        periodic=periodic,
    )


def create() -> object:
    """The ASGI app (for uvicorn --factory and tests)."""
    return create_app(spec())
