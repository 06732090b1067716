"""Composition root of the ledger service (办事有回音)."""

from __future__ import annotations

from pathlib import Path

from services.ledger import alerts, handlers, ownervotes, publicity, regroup, reminders
from services.ledger.ack_api import router as ack_router
from services.ledger.api import router
from services.ledger.commitments_api import router as commitments_router
from services.ledger.disclosure_api import router as disclosure_router
from services.ledger.figures_api import router as figures_router
from services.ledger.handover_api import router as handover_router
from services.ledger.models import metadata, notices, workcal_years
from services.ledger.publicity_api import router as publicity_router
from services.ledger.replay import recorded
from services.ledger.supporting_api import router as supporting_router
from services.runtime import workcal_store
from services.runtime.consumer import Subscription, subscribe
from services.runtime.locks import Periodic
from services.runtime.service import Context, ServiceSpec, create_app
from services.runtime.settings import Settings

NAME = "ledger"
OVERDUE_SWEEP_SECONDS = 300
ALERT_TICK_SECONDS = 15  # re-pages are minutes apart; a quarter minute of slack is enough
PUBLICITY_SECONDS = 600  # the 1st's notices go up within ten minutes of 08:00
NOTICE_POLL_SECONDS = 5  # pages are delivered at once (woken after commit); the poll only catches retries

# Every consumed envelope is also recorded, so `rebuild` can replay the ledger from them.
HANDLERS = {
    "matter.triaged.v1": recorded(handlers.on_matter_triaged),
    "matter.regraded.v1": recorded(handlers.on_matter_regraded),
    "matter.foreseen.v1": recorded(handlers.on_matter_foreseen),
    "session.scheduled.v1": recorded(handlers.on_session_scheduled),
    "session.concluded.v1": recorded(handlers.on_session_concluded),
    "evaluation.recorded.v1": recorded(handlers.on_evaluation_recorded),
    "matter.reopened.v1": recorded(handlers.on_matter_reopened),
    "matter.merged.v1": recorded(regroup.on_matter_merged),
    "matter.split.v1": recorded(regroup.on_matter_split),
    "owner_vote.closed.v1": recorded(ownervotes.on_owner_vote_closed),
}
# The ledger's copy of the county's holiday table (deadlines count its workdays); recorded too, so a rebuild
# replays each year's arrangement where it was consumed, and recomputes deadlines with the days of that time.
WORKCAL = {workcal_store.EVENT: recorded(workcal_store.handler(workcal_years))}


def subscriptions(settings: Settings) -> list[Subscription]:
    """Matters, sessions and evaluations that create and move entries; the county's holiday table on its own queue."""
    return [subscribe("ledger.events", HANDLERS, settings), subscribe("ledger.workcal", WORKCAL, settings)]


def periodic(ctx: Context) -> list[Periodic]:
    """Overdue sweep with reminders, red alert re-paging, notice delivery, monthly board notices; one replica each."""

    async def sweep() -> None:
        await handlers.sweep_overdue(ctx.db)
        await reminders.sweep(lambda: ctx.bus.uow(actor=handlers.SYSTEM))

    async def tick() -> None:
        async with ctx.bus.uow(actor=handlers.SYSTEM) as uow:
            await alerts.tick(uow, handlers.utcnow())
            await uow.commit()

    async def deliver() -> None:
        await notices.deliver_due(ctx.db)

    async def publicise() -> None:
        await publicity.run_monthly(lambda: ctx.bus.uow(actor=publicity.MONTHLY))

    return [
        Periodic("overdue_sweep", OVERDUE_SWEEP_SECONDS, sweep),
        Periodic("alert_tick", ALERT_TICK_SECONDS, tick),
        Periodic("notices", NOTICE_POLL_SECONDS, deliver, wake=notices.wake_event()),
        Periodic("publicity", PUBLICITY_SECONDS, publicise),
    ]


def spec() -> ServiceSpec:
    """Everything that makes the ledger service."""
    return ServiceSpec(
        name=NAME,
        title="Ledger 办理台账",
        metadata=metadata,
        migrations=Path(__file__).parent / "migrations",
        routers=[
            router,
            commitments_router,
            handover_router,
            supporting_router,
            figures_router,
            disclosure_router,
            publicity_router,
            ack_router,
        ],
        subscriptions=subscriptions,
        periodic=periodic,
        workcal=workcal_years,
    )


def create() -> object:
    """The ASGI app (for uvicorn --factory and tests)."""
    return create_app(spec())
