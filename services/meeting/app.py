"""Composition root of the meeting service (议事有平台)."""

from __future__ import annotations

from pathlib import Path

from services.meeting import (
    agenda_api,
    calendars_api,
    changes_api,
    foresight_api,
    halls_api,
    handlers,
    notices,
    service,
    tier_api,
    workdays_api,
)
from services.meeting.api import router
from services.meeting.conclusion_api import router as conclusion_router
from services.meeting.models import metadata, workcal_years
from services.runtime.consumer import Subscription, subscribe
from services.runtime.locks import Periodic
from services.runtime.service import Context, ServiceSpec, create_app
from services.runtime.settings import Settings

NAME = "meeting"
PLAN_INTERVAL_S = 60
NOTICE_INTERVAL_S = 15
FORESIGHT_INTERVAL_S = 3600  # 未诉先办: the history changes slowly; an hour keeps proposals fresh


def subscriptions(settings: Settings) -> list[Subscription]:
    """Meeting's one queue: graded, reopened and crossed-off matters."""
    matters = {
        "matter.triaged.v1": handlers.on_matter_triaged,
        "matter.regraded.v1": handlers.on_matter_regraded,
        "matter.reopened.v1": handlers.on_matter_reopened,
        "matter.closed.v1": handlers.on_matter_closed,
        "matter.merged.v1": handlers.on_matter_merged,
    }
    return [subscribe("meeting.matters", matters, settings)]


def periodic(ctx: Context) -> list[Periodic]:
    """The fixed-day planner, notice delivery and 未诉先办 proposals, each by one replica at a time."""

    async def plan() -> None:
        await service.plan_all(ctx.bus.uow)

    async def deliver() -> None:
        await notices.run(ctx.bus.uow, ctx.db)

    async def foresee() -> None:
        await foresight_api.run(ctx.bus.uow)

    return [
        Periodic("plan", PLAN_INTERVAL_S, plan),
        Periodic("notices", NOTICE_INTERVAL_S, deliver),
        Periodic("foresight", FORESIGHT_INTERVAL_S, foresee),
    ]


def spec() -> ServiceSpec:
    """Everything that makes the meeting service."""
    return ServiceSpec(
        name=NAME,
        title="Meeting 议事会",
        metadata=metadata,
        migrations=Path(__file__).parent / "migrations",
        routers=[
            router,
            conclusion_router,
            agenda_api.router,
            changes_api.router,
            halls_api.router,
            calendars_api.router,
            tier_api.router,
            foresight_api.router,
            workdays_api.router,
        ],
        subscriptions=subscriptions,
        periodic=periodic,
        workcal=workcal_years,  # the table of record: every replica reads it (no queue: meeting is the producer)
    )


def create() -> object:
    """The ASGI app (for uvicorn --factory and tests)."""
    return create_app(spec())
