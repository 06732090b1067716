"""Composition root of the triage service (分类领办)."""

from __future__ import annotations

from pathlib import Path

from services.runtime.consumer import Subscription, subscribe
from services.runtime.service import Context, ServiceSpec, create_app
from services.runtime.settings import Settings
from services.triage import grader, handlers, similar
from services.triage.api import router
from services.triage.models import metadata

NAME = "triage"


def subscriptions(settings: Settings) -> list[Subscription]:
    """Triage's queues: reports to grade, and closed matters."""
    return [
        subscribe("triage.reports", {"report.received.v1": handlers.on_report_received}, settings),
        subscribe("triage.matters", {"matter.closed.v1": handlers.on_matter_closed}, settings),
    ]


async def load_model(ctx: Context) -> None:
    """Load var/triage-model.pkl if present (else grade with the rules alone, logged); build clustering's IDF."""
    grader.load_active(ctx.settings.var_dir)
    similar.warm()


def spec() -> ServiceSpec:
    """Everything that makes the triage service."""
    return ServiceSpec(
        name=NAME,
        title="Triage 分类领办",
        metadata=metadata,
        migrations=Path(__file__).parent / "migrations",
        routers=[router],
        subscriptions=subscriptions,
        on_start=load_model,
    )


def create() -> object:
    """The ASGI app (for uvicorn --factory and tests)."""
    return create_app(spec())
