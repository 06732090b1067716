"""Resident H5 back end: submit a report through intake with the console's miniprogram API key."""

from __future__ import annotations

import json
import time
from collections import deque

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from services.console import proxy
from services.contracts.media import Photo
from services.runtime.problems import Problem

router = APIRouter(prefix="/api/resident", tags=["resident"])

RATE_WINDOW_S = 60.0
RATE_MAX = 10  # reports per client address per minute, per console replica
PHOTO_RATE_MAX = 30  # photos (up to 9 a report) per client address per minute, per console replica
PHOTO_PATH = "/api/resident/photos"
_recent: dict[str, deque[float]] = {}
_recent_photos: dict[str, deque[float]] = {}


class ResidentReportIn(BaseModel):
    """What a resident fills in on the phone page; the channel is always the mini-program."""

    client_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9-]+$", description="Idempotency key")
    community: str = Field(min_length=1, max_length=64)
    compound: str | None = Field(None, max_length=64)
    building: str | None = Field(None, max_length=32)
    unit: str | None = Field(None, max_length=16)
    room: str | None = Field(None, max_length=16)
    text: str = Field(min_length=1, max_length=2000)
    photos: list[Photo] = Field(default_factory=list, max_length=9, description="http(s) URLs or upload paths")
    name: str | None = Field(None, max_length=32)
    phone: str | None = Field(None, max_length=20)
    consent: bool = False
    callback_consent: bool = Field(False, description="同意社区工作人员回电联系我 (unticked by default)")


def _throttle(client: str, recent: dict[str, deque[float]] = _recent, most: int = RATE_MAX) -> None:
    now = time.monotonic()
    seen = recent.setdefault(client, deque())
    while seen and now - seen[0] > RATE_WINDOW_S:
        seen.popleft()
    if len(seen) >= most:
        raise Problem(429, "提交过于频繁，请稍后再试", "Too many reports from this address; try again later")
    seen.append(now)
    if len(recent) > 10_000:  # forget idle addresses so the table stays bounded
        for key in [k for k, v in recent.items() if not v or now - v[-1] > RATE_WINDOW_S]:
            recent.pop(key, None)


def intake_payload(body: ResidentReportIn) -> dict:
    """The report as intake's `POST /v1/reports` takes it from the console's miniprogram key."""
    payload = body.model_dump(exclude={"client_id", "consent", "callback_consent"}, exclude_none=True)
    payload |= {
        "channel": "miniprogram",
        "channel_message_id": f"console-{body.client_id}",
        "consent": body.consent or body.callback_consent,
        "callback_consent": body.callback_consent,
    }
    if not (body.consent or body.callback_consent):
        # No consent to be contacted at all: the console does not pass contact details on.
        payload.pop("name", None)
        payload.pop("phone", None)
    return payload


@router.post("/reports", status_code=201, summary="Submit a resident report (居民报事)")
async def submit(body: ResidentReportIn, request: Request) -> Response:
    """Forward the report to intake as channel `miniprogram` with the console's scoped API key."""
    config = request.app.state.config
    if not config.intake_api_key:
        raise Problem(503, "居民在线报事暂未开通，请联系社区", "Resident reporting is not configured")
    _throttle(request.client.host if request.client else "unknown")
    payload = intake_payload(body)
    return await proxy.forward(
        request.app.state.http,
        config.upstreams["intake"],
        "v1/reports",
        request,
        body=json.dumps(payload, ensure_ascii=False).encode(),
        extra_headers={"x-api-key": config.intake_api_key, "content-type": "application/json"},
        pass_auth=False,
    )


@router.post("/photos", status_code=201, summary="Upload a photo for a report (上传照片)")
async def upload_photo(request: Request, community: str = Query(min_length=1, max_length=64)) -> Response:
    """Forward the image to intake, which checks, re-encodes and keeps it; the answer's `ref` goes in `photos`."""
    config = request.app.state.config
    if not config.intake_api_key:
        raise Problem(503, "居民在线报事暂未开通，请联系社区", "Resident reporting is not configured")
    _throttle(request.client.host if request.client else "unknown", _recent_photos, PHOTO_RATE_MAX)
    return await proxy.forward(
        request.app.state.http,
        config.upstreams["intake"],
        "v1/photos",
        request,
        extra_headers={"x-api-key": config.intake_api_key},
        pass_auth=False,
    )
