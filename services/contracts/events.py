"""One pydantic model per event type; the payload that travels in the envelope's `data`."""

from __future__ import annotations

import datetime as dt

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.contracts.vocabulary import (
    Category,
    Channel,
    Kind,
    LedgerState,
    Level,
    Method,
    Outcome,
    Party,
    Rating,
    ResponsibleParty,
    Route,
    SessionKind,
    Solved,
    Stance,
    StanceBy,
)

Id = Field(min_length=1, max_length=64)
ShortText = Field(max_length=500)


class Payload(BaseModel):
    """Base of every payload: unknown fields are ignored so contracts can grow additively."""

    model_config = ConfigDict(extra="ignore")


class Place(Payload):
    """Where a report or matter is; published places stop at compound and building (no room)."""

    compound: str | None = Field(None, max_length=64)
    building: str | None = Field(None, max_length=32)
    unit: str | None = Field(None, max_length=16)


class Sender(Payload):
    """Who sent a channel message; personal data, travels only on hall.channels to intake."""

    id: str | None = Field(None, max_length=128, description="Channel-side user id (e.g. WeCom userid)")
    name: str | None = Field(None, max_length=64)
    phone: str | None = Field(None, max_length=32)
    room: str | None = Field(None, max_length=16)


class ChannelMessage(Payload):
    """channel.message.v1: a raw message from a channel adapter, published to hall.channels."""

    channel: Channel
    channel_message_id: str = Field(min_length=1, max_length=128, description="Idempotency key per channel")
    text: str = Field(min_length=1, max_length=5000)
    received_at: dt.datetime | None = None
    occurred_at: dt.datetime | None = None
    sender: Sender | None = None
    place: Place | None = Field(None, description="Structured place when the adapter knows it")
    photos: list[str] = Field(default_factory=list, max_length=9)
    kind_hint: Kind | None = None
    category_hint: Category | None = None


class MaskedReporter(Payload):
    """The reporter as anyone outside intake may see them."""

    ref: str = Field(description="Pseudonymous stable reference (HMAC of the contact)")
    name: str | None = Field(None, description="Not sent: a masked name (王**) still points at a person")
    phone: str | None = Field(None, description="Not sent: a masked phone (138****1234) still points at a person")


class ReportReceived(Payload):
    """report.received.v1: one normalised report, whatever its channel; no personal data."""

    report_id: str = Id
    tracking_code: str = Field(max_length=16)
    channel: Channel
    channel_message_id: str = Field(max_length=128)
    kind: Kind = "problem"
    text: str = Field(max_length=5000, description="Scrubbed of phone numbers and room numbers")
    place: Place
    category_hint: Category | None = None
    photos: list[str] = Field(default_factory=list, max_length=9)
    received_at: dt.datetime
    occurred_at: dt.datetime | None = None
    reporter: MaskedReporter
    due_by: dt.datetime | None = Field(None, description="The dispatching platform's own deadline (12345 承办时限)")


class MatterTriaged(Payload):
    """matter.triaged.v1: a matter was created or grew (one matter however many reported it)."""

    matter_id: str = Id
    report_ids: list[str] = Field(min_length=1, max_length=1000)
    title: str = ShortText
    place: Place
    kind: Kind
    category: Category
    level: Level
    route: Route
    reasons: list[str] = Field(default_factory=list, max_length=50)
    confidence: float = Field(ge=0, le=1)
    needs_review: bool = False
    households: int = Field(1, ge=1)
    reporters: int = Field(1, ge=1)
    triaged_at: dt.datetime
    due_by: dt.datetime | None = Field(None, description="Earliest deadline of its reports' platforms (12345 承办时限)")


class GradeSnapshot(Payload):
    """A grade as it was before a regrade."""

    level: Level
    route: Route
    category: Category


class MatterRegraded(Payload):
    """matter.regraded.v1: a staff override (or new reports) changed a matter's grade."""

    matter_id: str = Id
    level: Level
    route: Route
    category: Category
    previous: GradeSnapshot
    by: str = Field(max_length=128, description="Actor: staff subject, or 'triage' for automatic")
    reason: str = Field(min_length=1, max_length=500)
    regraded_at: dt.datetime


class Invitee(Payload):
    """Somebody invited to a session."""

    party: ResponsibleParty
    name: str = Field(max_length=64)
    unit: str | None = Field(None, max_length=128)


class SessionScheduled(Payload):
    """session.scheduled.v1: a session was planned, rescheduled or cancelled."""

    session_id: str = Id
    kind: SessionKind
    status: str = Field("scheduled", pattern="^(scheduled|rescheduled|cancelled)$")
    starts_at: dt.datetime
    place: str = Field(max_length=200)
    agenda: list[str] = Field(default_factory=list, max_length=200, description="Matter ids")
    invitees: list[Invitee] = Field(default_factory=list, max_length=200)
    hall: str | None = Field(
        None, max_length=64, description="`community` (the Five-Party hall) or a compound's code (小区议事会)"
    )
    hall_name: str | None = Field(None, max_length=128, description="The hall in words, e.g. 景湖花园小区议事会")


class StanceRecord(Payload):
    """Where one participant stood on a matter (支持/反对/有条件同意), with what they said."""

    by_kind: StanceBy = Field(description="A party, a department, or `concerned` (当事人)")
    by: str = Field(max_length=128, description="The party id, the department's name, or the concerned group's label")
    stance: Stance
    note: str | None = Field(None, max_length=1000)


class Commitment(Payload):
    """A promise made at a session (e.g. 物业承诺维修后恢复原样), tracked on the ledger entry until checked."""

    id: str = Id
    text: str = Field(max_length=500)
    owner_party: ResponsibleParty | None = None
    owner: str = Field(max_length=128, description="Who promised: a unit, or a group such as 12号楼2单元居民")
    due: dt.datetime


class DepartmentPresent(Payload):
    """An invited functional department at a session, and who came for it."""

    code: str = Field(max_length=64)
    name: str = Field(max_length=128)
    names: list[str] = Field(default_factory=list, max_length=20)


class ConcernedPresent(Payload):
    """Parties concerned (当事人) at a session, e.g. the ground-floor shop owners; a label and a head count."""

    label: str = Field(max_length=64)
    people: int = Field(1, ge=1)


class Resolution(Payload):
    """The session's outcome for one agenda matter."""

    matter_id: str = Id
    outcome: Outcome
    measures: str | None = Field(None, max_length=2000)
    lead_party: ResponsibleParty | None = None
    lead_unit: str | None = Field(None, max_length=128)
    supporting_units: list[str] = Field(default_factory=list, max_length=20)
    deadline: dt.datetime | None = None
    department: str | None = Field(None, max_length=128, description="For outcome escalate")
    reason: str | None = Field(None, max_length=1000)
    positions: dict[str, str] = Field(
        default_factory=dict, max_length=12, description="Each party's stated position in the minutes: {party: text}"
    )
    stances: list[StanceRecord] = Field(
        default_factory=list, max_length=50, description="Support, opposition or conditions of everyone at the table"
    )
    commitments: list[Commitment] = Field(
        default_factory=list, max_length=20, description="Promises made for this matter; the ledger tracks each"
    )


class SessionConcluded(Payload):
    """session.concluded.v1: attendance and one resolution per agenda matter."""

    session_id: str = Id
    kind: SessionKind
    concluded_at: dt.datetime
    attendance: dict[Party | str, list[str]] = Field(default_factory=dict)
    resolutions: list[Resolution] = Field(max_length=200)
    departments: list[DepartmentPresent] = Field(
        default_factory=list, max_length=20, description="Invited functional departments present (not in the quorum)"
    )
    concerned: list[ConcernedPresent] = Field(
        default_factory=list, max_length=20, description="Parties concerned present (当事人; not in the quorum)"
    )


class EntryEvent(Payload):
    """entry.*.v1 (old names task.*.v1): a matter's ledger entry was assigned, progressed, escalated or completed."""

    entry_id: str = Id
    matter_id: str = Id
    state: LedgerState
    level: Level
    category: Category
    measures: str | None = Field(None, max_length=2000)
    lead_party: ResponsibleParty | None = None
    lead_unit: str | None = Field(None, max_length=128)
    deadline: dt.datetime | None = None
    note: str | None = Field(None, max_length=2000)
    actor: str = Field(max_length=128)
    households: int = Field(1, ge=1)
    round: int = Field(1, ge=1, description="Handling round; grows with every reopen")
    at: dt.datetime
    satisfaction: float | None = Field(None, ge=0, le=1, description="The round's satisfaction rate once evaluated")


class EvaluationRecorded(Payload):
    """evaluation.recorded.v1: one household's evaluation, with the round's decision so far."""

    evaluation_id: str = Id
    matter_id: str = Id
    round: int = Field(ge=1)
    method: Method
    rating: Rating
    solved: Solved | None = None
    household_ref: str = Field(max_length=128, description="Pseudonymous household reference")
    is_reporter: bool = False
    round_outcome: str = Field(pattern="^(satisfied|reopen|escalate|pending)$")
    round_rate: float | None = Field(None, ge=0, le=1)
    recorded_at: dt.datetime


class MatterForeseen(Payload):
    """matter.foreseen.v1: 未诉先办 — the convenor made a recurring problem a topic before anyone reported it again."""

    matter_id: str = Id
    title: str = ShortText
    place: Place
    category: Category
    level: Level = "yellow"
    evidence: str = Field(max_length=2000, description="Why, in words: past dates and counts")
    accepted_by: str = Field(max_length=128)
    accepted_at: dt.datetime


class MatterReopened(Payload):
    """matter.reopened.v1: residents were not satisfied; the matter goes back for rectification."""

    matter_id: str = Id
    round: int = Field(ge=2, description="The new handling round")
    reasons: list[str] = Field(min_length=1, max_length=50)
    rate: float | None = Field(None, ge=0, le=1)
    escalate_to: Party | None = None
    reopened_at: dt.datetime


class MatterClosed(Payload):
    """matter.closed.v1: the ledger entry was crossed off (销号)."""

    matter_id: str = Id
    entry_id: str = Id
    by: str = Field(max_length=128)
    closed_at: dt.datetime


class MatterMerged(Payload):
    """matter.merged.v1: staff merged a matter into another of the same community (一事一议); its reports follow."""

    matter_id: str = Id
    into: str = Field(max_length=64, description="The surviving matter")
    into_title: str = ShortText
    report_ids: list[str] = Field(min_length=1, max_length=1000, description="Reports that moved to the survivor")
    by: str = Field(max_length=128)
    reason: str = Field(min_length=1, max_length=500)
    merged_at: dt.datetime


class MatterSplit(Payload):
    """matter.split.v1: staff moved some reports of a matter to a new matter (graded by its own matter.triaged.v1)."""

    matter_id: str = Id
    new_matter_id: str = Field(max_length=64)
    new_title: str = ShortText
    report_ids: list[str] = Field(min_length=1, max_length=1000, description="Reports that moved to the new matter")
    by: str = Field(max_length=128)
    reason: str = Field(min_length=1, max_length=500)
    split_at: dt.datetime


class OwnerVoteClosed(Payload):
    """owner_vote.closed.v1: an owners' vote under Civil Code art. 278 was counted (计票) and closed."""

    vote_id: str = Id
    matter_id: str = Id
    item: int | None = Field(None, ge=1, le=9, description="Item of art. 278 §1; None for votes opened before items")
    rule: str = Field(pattern="^(major|ordinary)$", description="major: three quarters; ordinary: more than half")
    question: str = ShortText
    passed: bool
    participation_met: bool
    total_owners: int = Field(ge=1)
    voted_owners: int = Field(ge=0)
    for_owners: int = Field(ge=0)
    total_area_m2: str = Field(max_length=20, description="Exact decimal, e.g. 1237.50")
    voted_area_m2: str = Field(max_length=20)
    for_area_m2: str = Field(max_length=20)
    closed_at: dt.datetime


class WorkcalYearEntered(Payload):
    """workcal.year_entered.v1: the county entered or corrected one year's official holidays and 调休 workdays.

    The whole year's arrangement, so a consumer that missed earlier versions needs nothing else; no personal data
    (who entered it stays in meeting's table of record). Consumers keep the year with the newest `updated_at`.
    """

    year: int = Field(ge=2000, le=2100)
    source: str = Field(min_length=1, max_length=200, description="The State Council notice's title and number")
    holidays: list[dt.date] = Field(min_length=1, max_length=60, description="Days off (放假)")
    workdays: list[dt.date] = Field(default_factory=list, max_length=20, description="Weekend days worked (调休上班)")
    updated_at: AwareDatetime = Field(description="When this version was entered; the newer version of a year wins")
