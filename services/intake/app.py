"""Composition root of the intake service (报事有途径)."""

from __future__ import annotations

from pathlib import Path

from services.contracts import CHANNELS_EXCHANGE
from services.intake import (
    door_visits_api,
    handlers,
    hotline_api,
    hotline_replies,
    hotline_replies_api,
    open311_api,
    photos_api,
    reveal_api,
    visit_lists_api,
    visits_api,
)
from services.intake.api import router
from services.intake.models import metadata
from services.runtime.consumer import Subscription, subscribe
from services.runtime.service import ServiceSpec, create_app
from services.runtime.settings import Settings

NAME = "intake"


def _then(*steps):
    """One handler running several steps in the same unit of work (the tracking status, then the 12345 reply)."""

    async def run(uow, env, data) -> None:
        for step in steps:
            await step(uow, env, data)

    return run


def subscriptions(settings: Settings) -> list[Subscription]:
    """Intake's queues: channel messages in, and status updates for the tracking read model."""
    status = {
        "matter.triaged.v1": handlers.on_matter_triaged,
        "matter.regraded.v1": handlers.on_matter_regraded,
        "entry.assigned.v1": handlers.on_entry,
        "entry.progressed.v1": _then(handlers.on_entry, hotline_replies.on_entry),
        "entry.escalated.v1": handlers.on_entry,
        "entry.completed.v1": _then(handlers.on_entry, hotline_replies.on_entry),
        "matter.reopened.v1": _then(handlers.on_matter_reopened, hotline_replies.on_matter_reopened),
        "matter.closed.v1": _then(handlers.on_matter_closed, hotline_replies.on_matter_closed),
        "matter.merged.v1": handlers.on_matter_merged,
        "matter.split.v1": handlers.on_matter_split,
    }
    channels = {"channel.message.v1": handlers.on_channel_message}
    return [
        subscribe("intake.channels", channels, settings, exchange=CHANNELS_EXCHANGE),
        subscribe("intake.status", status, settings),
    ]


def spec() -> ServiceSpec:
    """Everything that makes the intake service."""
    return ServiceSpec(
        name=NAME,
        title="Intake 报事受理",
        metadata=metadata,
        migrations=Path(__file__).parent / "migrations",
        routers=[
            router,
            door_visits_api.router,
            hotline_api.router,
            hotline_replies_api.router,
            open311_api.router,
            photos_api.router,
            reveal_api.router,
            visits_api.router,
            visit_lists_api.router,
        ],
        upload_paths=(door_visits_api.PATH, photos_api.PATH),
        subscriptions=subscriptions,
    )


def create() -> object:
    """The ASGI app (for uvicorn --factory and tests)."""
    return create_app(spec())
