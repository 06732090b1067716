"""Composition root of the feedback service (以评促改)."""

from __future__ import annotations

import logging
from pathlib import Path

from services.feedback import handlers, ownervotes_api, questionnaire, questionnaire_api
from services.feedback.api import router
from services.feedback.models import metadata, notices, workcal_years
from services.feedback.service import vault
from services.runtime import workcal_store
from services.runtime.consumer import Subscription, subscribe
from services.runtime.locks import Periodic
from services.runtime.service import Context, ServiceSpec, create_app
from services.runtime.settings import Settings

NAME = "feedback"
OVERDUE_SWEEP_S = 300
REMIND_SWEEP_S = 300
NOTICE_POLL_S = 5  # delivery is woken after commit; the poll catches retries
log = logging.getLogger(__name__)


def subscriptions(settings: Settings) -> list[Subscription]:
    """Completions open revisits, crossing-off ends them; the county's holiday table (revisit dates) apart."""
    consumed = {
        "entry.completed.v1": handlers.on_entry_completed,
        "matter.closed.v1": handlers.on_matter_closed,
        "matter.triaged.v1": handlers.on_matter_triaged,
    }
    return [
        subscribe("feedback.events", consumed, settings),
        workcal_store.subscription(NAME, workcal_years, settings),
    ]


def periodic(ctx: Context) -> list[Periodic]:
    """The overdue sweep, revisit reminders to the people who revisit, and their delivery."""

    async def sweep() -> None:
        async with ctx.db.session() as s:
            changed = await handlers.mark_overdue(s)
        if changed:
            log.info("feedback.revisits_overdue count=%s", changed)

    async def remind() -> None:
        async with ctx.bus.uow(actor="feedback") as uow:
            changed = await handlers.remind_due(uow)
            await uow.commit()
        if changed:
            log.info("feedback.revisits_reminded count=%s", changed)

    async def deliver() -> None:
        await notices.deliver_due(ctx.db)

    return [
        Periodic("revisits-overdue", OVERDUE_SWEEP_S, sweep),
        Periodic("revisits-remind", REMIND_SWEEP_S, remind),
        Periodic("notices", NOTICE_POLL_S, deliver, wake=notices.wake_event()),
    ]


async def on_start(ctx: Context) -> None:
    """Load the link and PII keys before serving: a production process without them refuses to start."""
    questionnaire.signer()
    vault()


def spec() -> ServiceSpec:
    """Everything that makes the feedback service."""
    return ServiceSpec(
        name=NAME,
        title="Feedback 回访评价",
        metadata=metadata,
        migrations=Path(__file__).parent / "migrations",
        routers=[router, questionnaire_api.router, ownervotes_api.router],
        subscriptions=subscriptions,
        periodic=periodic,
        on_start=on_start,
        workcal=workcal_years,
        production_needs=("signing_secret", "link_key", "pii_key", "pseudonym_key"),
    )


def create() -> object:
    """The ASGI app (for uvicorn --factory and tests)."""
    return create_app(spec())
