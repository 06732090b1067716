"""Script links never enter as photos: the staff API and Open311 refuse them, a channel adapter's are dropped."""

# ruff: noqa: F811 - pytest fixtures imported from test_intake_api
from __future__ import annotations

import time

import pytest

from services.contracts import Envelope, events
from tests.integration.test_intake_api import (  # noqa: F401
    all_reports,
    assert_problem,
    auth,
    body,
    client,
    db_url,
    publish,
    wait_for,
)
from tests.integration.test_intake_open311 import FORM, form, open311_key, spec_error

pytestmark = pytest.mark.integration

SCRIPT = "javascript:alert(document.cookie)"


@pytest.mark.parametrize("bad", [SCRIPT, "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)"])
def test_staff_api_refuses_script_photos_and_stores_nothing(client, bad):
    r = client.post("/v1/reports", json=body(photos=["https://img.example/a.jpg", bad]), headers=auth())
    assert_problem(r, 422, field="photos.1")
    assert all_reports(client) == []
    ok = client.post("/v1/reports", json=body(photos=["https://img.example/a.jpg", "IMG_0931.jpg"]), headers=auth())
    assert ok.status_code == 201, ok.text


def test_open311_refuses_a_script_media_url(client):
    key = open311_key(client)
    fields = dict(api_key=key, jurisdiction_id="xueyuan", service_code="lighting", address_string="金泰和庄12栋")
    r = client.post(
        "/open311/v2/requests.json", content=form(**fields, description="路灯不亮", media_url=SCRIPT), headers=FORM
    )
    spec_error(r, 400)
    assert all_reports(client) == []
    fine = form(**fields, description="路灯不亮", media_url="https://img.example/lamp.jpg")
    assert client.post("/open311/v2/requests.json", content=fine, headers=FORM).status_code == 200


def test_a_channel_adapters_script_photo_is_dropped_and_the_report_kept(client):
    data = events.ChannelMessage(
        channel="wechat_group",
        channel_message_id="wx-photo-1",
        text="12栋2单元楼道灯又不亮了[图片]",
        photos=["https://img.example/lamp.jpg", SCRIPT],
    )
    publish(client, Envelope.new(type="channel.message.v1", source="/adapters/wecom", community="xueyuan", data=data))
    wait_for(lambda: all_reports(client))
    time.sleep(0.3)
    assert len(all_reports(client)) == 1
    assert stored_photos(client) == [["https://img.example/lamp.jpg"]]


def stored_photos(c) -> list[list[str]]:
    """The photos of every stored report, read from intake's own database."""
    from sqlmodel import select

    from services.intake.models import Report

    async def run() -> list[list[str]]:
        async with c.app.state.ctx.db.session() as s:
            return [r.photos for r in (await s.exec(select(Report))).all()]

    return c.portal.call(run)
