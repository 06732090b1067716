"""The event catalog: type -> payload model, exchange and producer; routing key = type."""

from __future__ import annotations

import builtins
from dataclasses import dataclass

from pydantic import BaseModel, ValidationError

from services.contracts import events as ev
from services.contracts.envelope import ContractError, Envelope

EVENTS_EXCHANGE = "hall.events"
CHANNELS_EXCHANGE = "hall.channels"
DEAD_LETTER_EXCHANGE = "hall.dlx"
RETRY_EXCHANGE = "hall.retry"


@dataclass(frozen=True)
class EventType:
    """One entry of the catalog."""

    type: str
    model: builtins.type[BaseModel]  # `type` is also this class's first field
    exchange: str
    producer: str
    consumers: tuple[str, ...]
    summary: str
    # Per-subject sequences are numbered per stream (default: the type's noun). A renamed event keeps the stream
    # of its old name, so consumers that keep the last sequence seen do not drop the new name's events as stale.
    stream: str = ""
    # Set on an old name kept for one release: consumers take both, producers emit only `replaced_by`.
    replaced_by: str = ""

    @property
    def sequence_stream(self) -> str:
        """The name this event's per-subject sequence is counted under."""
        return self.stream or self.type.rsplit(".", 2)[0]


CATALOG: dict[str, EventType] = {
    e.type: e
    for e in (
        EventType(
            "channel.message.v1",
            ev.ChannelMessage,
            CHANNELS_EXCHANGE,
            "channel adapters",
            ("intake",),
            "A raw message from a channel adapter (WeChat group, mini-program, hotline...).",
        ),
        EventType(
            "report.received.v1",
            ev.ReportReceived,
            EVENTS_EXCHANGE,
            "intake",
            ("triage",),
            "One normalised report; no personal data.",
        ),
        EventType(
            "matter.triaged.v1",
            ev.MatterTriaged,
            EVENTS_EXCHANGE,
            "triage",
            ("meeting", "ledger", "intake", "feedback"),
            "A matter was created or grew, with its grade.",
        ),
        EventType(
            "matter.regraded.v1",
            ev.MatterRegraded,
            EVENTS_EXCHANGE,
            "triage",
            ("meeting", "ledger", "intake"),
            "A matter's grade changed, with who and why.",
        ),
        EventType(
            "matter.merged.v1",
            ev.MatterMerged,
            EVENTS_EXCHANGE,
            "triage",
            ("ledger", "intake", "meeting"),
            "Staff merged a matter into another; its reports, ledger entry and agenda place follow the survivor.",
        ),
        EventType(
            "matter.split.v1",
            ev.MatterSplit,
            EVENTS_EXCHANGE,
            "triage",
            ("ledger", "intake"),
            "Staff split reports off a matter into a new matter (announced by its own matter.triaged.v1).",
        ),
        EventType(
            "session.scheduled.v1",
            ev.SessionScheduled,
            EVENTS_EXCHANGE,
            "meeting",
            ("ledger",),
            "A session was planned, rescheduled or cancelled.",
        ),
        EventType(
            "session.concluded.v1",
            ev.SessionConcluded,
            EVENTS_EXCHANGE,
            "meeting",
            ("ledger",),
            "A session concluded with attendance and one resolution per matter.",
        ),
        EventType(
            "entry.assigned.v1",
            ev.EntryEvent,
            EVENTS_EXCHANGE,
            "ledger",
            ("intake",),
            "A ledger entry got its measures, responsible unit and deadline.",
            stream="task",
        ),
        EventType(
            "entry.progressed.v1",
            ev.EntryEvent,
            EVENTS_EXCHANGE,
            "ledger",
            ("intake",),
            "Progress was recorded on a ledger entry.",
            stream="task",
        ),
        EventType(
            "entry.escalated.v1",
            ev.EntryEvent,
            EVENTS_EXCHANGE,
            "ledger",
            ("intake",),
            "A partner unit referred the matter to a functional department (转办).",
            stream="task",
        ),
        EventType(
            "entry.completed.v1",
            ev.EntryEvent,
            EVENTS_EXCHANGE,
            "ledger",
            ("feedback", "intake"),
            "The responsible unit completed the matter (办结); revisits follow.",
            stream="task",
        ),
        EventType(
            "task.assigned.v1",
            ev.EntryEvent,
            EVENTS_EXCHANGE,
            "ledger",
            ("intake",),
            "Old name of entry.assigned.v1: not emitted, consumed for one more release (architecture.md, Names).",
            replaced_by="entry.assigned.v1",
        ),
        EventType(
            "task.progressed.v1",
            ev.EntryEvent,
            EVENTS_EXCHANGE,
            "ledger",
            ("intake",),
            "Old name of entry.progressed.v1: not emitted, consumed for one more release (architecture.md, Names).",
            replaced_by="entry.progressed.v1",
        ),
        EventType(
            "task.escalated.v1",
            ev.EntryEvent,
            EVENTS_EXCHANGE,
            "ledger",
            ("intake",),
            "Old name of entry.escalated.v1: not emitted, consumed for one more release (architecture.md, Names).",
            replaced_by="entry.escalated.v1",
        ),
        EventType(
            "task.completed.v1",
            ev.EntryEvent,
            EVENTS_EXCHANGE,
            "ledger",
            ("feedback", "intake"),
            "Old name of entry.completed.v1: not emitted, consumed for one more release (architecture.md, Names).",
            replaced_by="entry.completed.v1",
        ),
        EventType(
            "evaluation.recorded.v1",
            ev.EvaluationRecorded,
            EVENTS_EXCHANGE,
            "feedback",
            ("ledger",),
            "A household evaluated a completed matter.",
        ),
        EventType(
            "owner_vote.closed.v1",
            ev.OwnerVoteClosed,
            EVENTS_EXCHANGE,
            "feedback",
            ("ledger",),
            "An owners' vote (Civil Code art. 278) was counted and closed; its result goes on the entry's timeline.",
        ),
        EventType(
            "matter.reopened.v1",
            ev.MatterReopened,
            EVENTS_EXCHANGE,
            "feedback",
            ("ledger", "meeting", "intake"),
            "Residents were not satisfied; the matter goes back.",
        ),
        EventType(
            "matter.foreseen.v1",
            ev.MatterForeseen,
            EVENTS_EXCHANGE,
            "meeting",
            ("ledger",),
            "未诉先办: a recurring problem became a topic before residents reported it again.",
        ),
        EventType(
            "matter.closed.v1",
            ev.MatterClosed,
            EVENTS_EXCHANGE,
            "ledger",
            ("intake", "feedback", "meeting", "triage"),
            "The ledger entry was crossed off (销号).",
        ),
        EventType(
            "workcal.year_entered.v1",
            ev.WorkcalYearEntered,
            EVENTS_EXCHANGE,
            "meeting",
            ("ledger", "feedback"),
            "The county entered or corrected a year's official holidays and 调休 workdays (whole year, newest wins).",
        ),
    )
}


def parse(body: bytes) -> tuple[Envelope, BaseModel]:
    """Parse and validate a message body into its envelope and typed payload."""
    env = Envelope.from_bytes(body)
    entry = CATALOG.get(env.type)
    if entry is None:
        raise ContractError(f"unknown event type {env.type!r}", field="type")
    try:
        data = entry.model.model_validate(env.data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = "data." + ".".join(str(p) for p in first["loc"])
        raise ContractError(f"{field}: {first['msg']}"[:500], field=field) from exc
    return env, data
