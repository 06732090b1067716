"""Composition root of the ledger service (办事有回音)."""

from __future__ import annotations

from pathlib import Path

from services.contracts import EVENTS_EXCHANGE
from services.ledger import handlers
from services.ledger.api import router
from services.ledger.models import metadata
from services.runtime.consumer import Subscription
from services.runtime.locks import Periodic
from services.runtime.service import Context, ServiceSpec, create_app
from services.runtime.settings import Settings
from services.runtime.topology import QueueSpec

NAME = "ledger"
OVERDUE_SWEEP_SECONDS = 300

HANDLERS = {
    "matter.triaged.v1": handlers.on_matter_triaged,
    "matter.regraded.v1": handlers.on_matter_regraded,
    "session.scheduled.v1": handlers.on_session_scheduled,
    "session.concluded.v1": handlers.on_session_concluded,
    "evaluation.recorded.v1": handlers.on_evaluation_recorded,
    "matter.reopened.v1": handlers.on_matter_reopened,
}


def subscriptions(settings: Settings) -> list[Subscription]:
    """The ledger's one queue: matters, sessions and evaluations that create and move entries."""
    bindings = tuple((EVENTS_EXCHANGE, t) for t in HANDLERS)
    spec = QueueSpec("ledger.events", bindings, tuple(settings.retry_delays_ms), settings.delivery_limit)
    return [Subscription(spec, dict(HANDLERS))]


def periodic(ctx: Context) -> list[Periodic]:
    """The overdue sweep (超期预警), run by one replica at a time."""

    async def sweep() -> None:
        await handlers.sweep_overdue(ctx.db)

    return [Periodic("overdue_sweep", OVERDUE_SWEEP_SECONDS, sweep)]


def spec() -> ServiceSpec:
    """Everything that makes the ledger service."""
    return ServiceSpec(
        name=NAME,
        title="Ledger 办理台账",
        metadata=metadata,
        migrations=Path(__file__).parent / "migrations",
        routers=[router],
        subscriptions=subscriptions,
        periodic=periodic,
    )


def create() -> object:
    """The ASGI app (for uvicorn --factory and tests)."""
    return create_app(spec())
