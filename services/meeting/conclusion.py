"""Concluding a session (议事结果): attendance, quorum, one resolution per agenda matter, promises, minutes."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, Field

from services.contracts import events
from services.contracts.vocabulary import Outcome, ResponsibleParty
from services.meeting import domain, minutes
from services.meeting.api import Unit
from services.runtime.errors import Problem, field_error
from services.runtime.inputs import Moment


class ResolutionIn(BaseModel):
    """The session's decision on one agenda matter."""

    matter_id: str = Field(min_length=1, max_length=64)
    outcome: Outcome
    measures: str | None = Field(None, max_length=2000)
    lead_party: ResponsibleParty | None = None
    lead_unit: str | None = Field(None, max_length=128)
    supporting_units: list[Unit] = Field(default_factory=list, max_length=20)
    deadline: Moment | None = None
    department: str | None = Field(None, max_length=128)
    reason: str | None = Field(None, max_length=1000)
    positions: dict[ResponsibleParty, Annotated[str, Field(min_length=1, max_length=1000)]] = Field(
        default_factory=dict, max_length=12
    )
    stances: list[minutes.StanceIn] = Field(default_factory=list, max_length=50)
    commitments: list[minutes.CommitmentIn] = Field(default_factory=list, max_length=20)


def has_value(value: str | None) -> bool:
    return value is not None and bool(value.strip())


def check_resolution(i: int, r: ResolutionIn) -> list[dict]:
    """Field errors of one resolution (which fields its outcome needs)."""
    needs: list[tuple[str, bool, str, str]] = []
    if r.outcome == "resolved":
        needs += [
            ("measures", has_value(r.measures), "议定「解决」须写明具体举措", "outcome resolved needs measures"),
            ("lead_party", r.lead_party is not None, "须指定牵头方", "outcome resolved needs lead_party"),
            ("lead_unit", has_value(r.lead_unit), "须指定责任单位", "outcome resolved needs lead_unit"),
            ("deadline", r.deadline is not None, "须写明办结时限", "outcome resolved needs a deadline"),
        ]
    elif r.outcome in ("deferred", "not_actionable", "refer_up"):
        needs.append(("reason", has_value(r.reason), "须说明理由", f"outcome {r.outcome} needs a reason"))
    elif r.outcome == "escalate":
        needs.append(("department", has_value(r.department), "转办须指定职能部门", "outcome escalate needs department"))
    return [field_error(f"resolutions[{i}].{f}", zh, en) for f, ok, zh, en in needs if not ok]


def deadline_of(value: dt.datetime | None) -> dt.datetime | None:
    """A deadline without a zone is local time in the community (Asia/Shanghai)."""
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=domain.TZ)).astimezone(dt.UTC)


def invalid(errors: list[dict]) -> Problem:
    first = errors[0]
    return Problem(
        422,
        f"{first['field']}：{first['message']}",
        f"{first['field']}: {first['message_en']}",
        errors=errors,
    )


def present_of(departments: list[events.DepartmentPresent], concerned: list[events.ConcernedPresent]) -> dict:
    """Who else sat at the table, for the minutes."""
    return {
        "departments": [d.model_dump(mode="json") for d in departments],
        "concerned": [c.model_dump(mode="json") for c in concerned],
    }
