"""The CloudEvents 1.0 envelope every message on the bus carries (structured JSON mode)."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

TYPE_PATTERN = r"^[a-z][a-z_]*(\.[a-z][a-z_]*)+\.v[1-9][0-9]*$"
COMMUNITY_PATTERN = r"^[a-z][a-z0-9_-]{1,63}$"
CONTENT_TYPE = "application/cloudevents+json"


class ContractError(ValueError):
    """A message that does not satisfy its contract; carries a reason safe to put in a header."""

    def __init__(self, reason: str, *, field: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.field = field


class Envelope(BaseModel):
    """CloudEvents attributes plus the hall's extensions; `data` holds the typed payload as JSON."""

    # Consumers ignore unknown attributes so producers can add extensions without a new version.
    model_config = ConfigDict(extra="ignore", frozen=True)

    specversion: str = Field("1.0", pattern=r"^1\.0$")
    id: str = Field(min_length=1, max_length=128, description="Unique event id; also AMQP message_id")
    source: str = Field(pattern=r"^/(services|adapters)/[A-Za-z0-9_.-]+$", max_length=200)
    type: str = Field(pattern=TYPE_PATTERN, max_length=100, description="<noun>.<verb>.v<N>")
    time: AwareDatetime = Field(description="When it happened, RFC 3339 with an offset")
    subject: str | None = Field(None, max_length=128, description="The matter, session or report id")
    datacontenttype: str = Field("application/json", pattern=r"^application/json$")
    community: str = Field(pattern=COMMUNITY_PATTERN, description="The tenant: a community code")
    correlationid: str | None = Field(None, max_length=128)
    causationid: str | None = Field(None, max_length=128)
    traceparent: str | None = Field(None, pattern=r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
    sequence: int | None = Field(None, ge=1, description="Per-subject version; consumers drop stale ones")
    data: dict[str, Any]

    @classmethod
    def new(
        cls,
        *,
        type: str,
        source: str,
        community: str,
        data: BaseModel | dict[str, Any],
        subject: str | None = None,
        correlationid: str | None = None,
        causationid: str | None = None,
        traceparent: str | None = None,
        sequence: int | None = None,
        id: str | None = None,
        time: dt.datetime | None = None,
    ) -> Envelope:
        """Build an envelope with a fresh id and the current UTC time."""
        payload = data.model_dump(mode="json") if isinstance(data, BaseModel) else data
        event_id = id or str(uuid.uuid4())
        return cls(
            id=event_id,
            source=source,
            type=type,
            time=time or dt.datetime.now(dt.UTC),
            subject=subject,
            community=community,
            correlationid=correlationid or event_id,
            causationid=causationid,
            traceparent=traceparent,
            sequence=sequence,
            data=payload,
        )

    def to_bytes(self) -> bytes:
        """Serialise in CloudEvents structured JSON mode."""
        return json.dumps(self.model_dump(mode="json", exclude_none=True), ensure_ascii=False).encode()

    @classmethod
    def from_bytes(cls, body: bytes) -> Envelope:
        """Parse a structured-mode message; raise ContractError with a reason on any defect."""
        try:
            # Parsed and validated in one pass by pydantic-core (every delivery runs this); a defective body
            # takes the path below, which names the defect as before.
            return cls.model_validate_json(body)
        except ValidationError:
            pass
        try:
            raw = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ContractError(f"body is not JSON: {exc}") from exc
        if not isinstance(raw, dict):
            raise ContractError("body is not a JSON object")
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise ContractError(_first_error(exc), field=_first_field(exc)) from exc


def _first_field(exc: ValidationError) -> str:
    err = exc.errors()[0]
    return ".".join(str(p) for p in err["loc"])


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    msg = re.sub(r"\s+", " ", str(err["msg"]))
    return f"{_first_field(exc)}: {msg}"[:500]
