"""A bare FastAPI endpoint shaped like intake's POST /v1/reports (validate a body, answer 201), for comparison."""

from __future__ import annotations

import sys
import uuid

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel, Field

app = FastAPI()


class ReportIn(BaseModel):
    """The fields the benchmark sends."""

    community: str = Field(max_length=64)
    text: str = Field(max_length=5000)
    channel_message_id: str | None = Field(None, max_length=128)


class Accepted(BaseModel):
    """What intake answers."""

    report_id: str
    tracking_code: str


@app.post("/v1/reports", status_code=201)
async def submit(body: ReportIn) -> Accepted:
    """Accept without storing anything."""
    return Accepted(report_id=f"rpt_{uuid.uuid4().hex[:20]}", tracking_code=uuid.uuid4().hex[:8])


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_config=None, access_log=False)
