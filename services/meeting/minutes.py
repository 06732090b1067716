"""Everyone at the table and what they said or promised: departments, parties concerned, stances, commitments.

The five parties make the quorum (domain.missing_parties); invited departments (from the directory) and
parties concerned (当事人, e.g. the ground-floor shop owners) attend and state positions. Promises made for a
matter (物业承诺维修后恢复原样) become commitments the ledger tracks until each is checked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Annotated

from pydantic import BaseModel, Field

from services.contracts import events
from services.contracts.vocabulary import ResponsibleParty, Stance, StanceBy
from services.meeting import domain
from services.runtime.directory import Community
from services.runtime.errors import field_error

Name = Annotated[str, Field(min_length=1, max_length=64)]
COMMITTING = ("resolved", "escalate")  # outcomes that give the matter a ledger entry to track promises on


class DepartmentIn(BaseModel):
    """An invited department present, picked from the directory (code or name), and who came."""

    department: str = Field(min_length=1, max_length=128)
    names: list[Name] = Field(default_factory=list, max_length=20)


class ConcernedIn(BaseModel):
    """Parties concerned (当事人) present: a label such as 一楼门市业主, and how many came (no names)."""

    label: str = Field(min_length=1, max_length=64)
    people: int = Field(1, ge=1, le=500)


class StanceIn(BaseModel):
    """One participant's position on a matter: who (party, department or concerned label), stance, note."""

    by_kind: StanceBy
    by: str | None = Field(None, max_length=128, description="Department (code or name) or concerned label")
    stance: Stance
    note: str | None = Field(None, max_length=1000)


class CommitmentIn(BaseModel):
    """A promise made for a matter, with who promised and by when it is due."""

    text: str = Field(min_length=1, max_length=500)
    owner_party: ResponsibleParty | None = None
    owner: str = Field(min_length=1, max_length=128, description="A unit, or a group such as 12号楼2单元居民")
    due: dt.datetime


def _local(value: dt.datetime) -> dt.datetime:
    return (value if value.tzinfo else value.replace(tzinfo=domain.TZ)).astimezone(dt.UTC)


def departments_present(community: Community, rows: list[DepartmentIn]) -> tuple[list[events.DepartmentPresent], list]:
    """The departments present, resolved in the directory; field errors for names it does not know."""
    out: list[events.DepartmentPresent] = []
    errors: list[dict] = []
    for i, row in enumerate(rows):
        key = row.department.strip()
        found = next((d for d in community.departments if key in (d.code, d.name)), None)
        if found is None:
            errors.append(field_error(f"departments[{i}].department", "名录中没有该职能部门", "Unknown department"))
        elif any(d.code == found.code for d in out):
            errors.append(field_error(f"departments[{i}].department", "职能部门重复", "Duplicate department"))
        else:
            names = [n.strip() for n in row.names if n.strip()]
            out.append(events.DepartmentPresent(code=found.code, name=found.name[:128], names=names))
    return out, errors


def concerned_present(rows: list[ConcernedIn]) -> tuple[list[events.ConcernedPresent], list]:
    """The parties concerned present (labels unique)."""
    out: list[events.ConcernedPresent] = []
    errors: list[dict] = []
    for i, row in enumerate(rows):
        label = row.label.strip()
        if not label or any(c.label == label for c in out):
            errors.append(field_error(f"concerned[{i}].label", "当事人名称为空或重复", "Empty or duplicate label"))
            continue
        out.append(events.ConcernedPresent(label=label, people=row.people))
    return out, errors


def stances_of(
    field: str,
    rows: list[StanceIn],
    attendance: dict[str, list[str]],
    departments: list[events.DepartmentPresent],
    concerned: list[events.ConcernedPresent],
) -> tuple[list[events.StanceRecord], list]:
    """Stances of people who were at the table (a party present, a department present, a concerned group)."""
    out: list[events.StanceRecord] = []
    errors: list[dict] = []
    for j, row in enumerate(rows):
        where = f"{field}.stances[{j}]"
        key = (row.by or "").strip()
        if row.by_kind in domain.FIVE_PARTIES:
            by = row.by_kind if attendance.get(row.by_kind) else None
            missing = ("该方未出席本次议事会", "This party did not attend")
        elif row.by_kind == "department":
            dept = next((d for d in departments if key in (d.code, d.name)), None)
            by = dept.name if dept else None
            missing = ("该职能部门未列入出席", "This department is not among those present")
        else:
            by = key if any(c.label == key for c in concerned) else None
            missing = ("该当事人未列入出席", "These parties concerned are not among those present")
        if by is None:
            errors.append(field_error(f"{where}.by", *missing))
        elif any(s.by_kind == row.by_kind and s.by == by for s in out):
            errors.append(field_error(f"{where}.by", "同一方只记录一种态度", "One stance per participant"))
        else:
            note = row.note.strip() if row.note and row.note.strip() else None
            out.append(events.StanceRecord(by_kind=row.by_kind, by=by, stance=row.stance, note=note))
    return out, errors


def commitment_id(session_id: str, matter_id: str, index: int) -> str:
    """A commitment's id, derived from where it was made (a replayed conclusion gives the same ids)."""
    return "cmt_" + hashlib.sha256(f"{session_id}|{matter_id}|{index}".encode()).hexdigest()[:20]


def commitments_of(
    field: str, session_id: str, matter_id: str, outcome: str, rows: list[CommitmentIn], now: dt.datetime
) -> tuple[list[events.Commitment], list]:
    """The promises of one resolution, each with an owner and a due time after now."""
    out: list[events.Commitment] = []
    errors: list[dict] = []
    if rows and outcome not in COMMITTING:
        msg = ("只有议定办理或转办的事项可以记录承诺", "Commitments need outcome resolved or escalate")
        return [], [field_error(f"{field}.commitments", *msg)]
    for j, row in enumerate(rows):
        where = f"{field}.commitments[{j}]"
        try:
            due = _local(row.due)
        except OverflowError:  # a date at the very edge of the calendar cannot be moved between zones
            due = now
        if not row.text.strip():
            errors.append(field_error(f"{where}.text", "承诺内容不能为空", "Text must not be blank"))
        elif not row.owner.strip():
            errors.append(field_error(f"{where}.owner", "须写明承诺方", "Owner must not be blank"))
        elif due <= now:
            errors.append(field_error(f"{where}.due", "承诺期限须在当前时间之后", "Due time must lie ahead"))
        else:
            out.append(
                events.Commitment(
                    id=commitment_id(session_id, matter_id, j),
                    text=row.text.strip(),
                    owner_party=row.owner_party,
                    owner=row.owner.strip(),
                    due=due,
                )
            )
    return out, errors


def handover_unit(community: Community, key: str | None) -> str | None:
    """The directory name of a unit a matter can be escalated to (a department by code or name, a partner unit)."""
    key = (key or "").strip()
    dept = next((d for d in community.departments if key in (d.code, d.name)), None)
    if dept is not None:
        return dept.name[:128]
    partners = {m.unit for m in community.roster.get("partner_unit", []) if m.unit}
    return key if key in partners else None
