"""Script links never enter as photos: the staff API and Open311 refuse them, a channel adapter's are dropped."""

# ruff: noqa: F811 - pytest fixtures imported from test_intake_api
from __future__ import annotations

import re

import pytest

from services.contracts import Envelope, events
from tests.integration.test_intake_api import (  # noqa: F401
    CHANNELS,
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
from tests.support import consumer_count

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
    handled = consumer_count(CHANNELS, "ok")
    publish(client, Envelope.new(type="channel.message.v1", source="/adapters/wecom", community="xueyuan", data=data))
    wait_for(lambda: consumer_count(CHANNELS, "ok") > handled, what="the message handled")
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


# --- Residents' uploaded photos (services/intake/photos_api.py) ---


def _jpeg_with_gps() -> bytes:
    """A phone photo as it arrives: EXIF with maker, model and a GPS position, and bytes after the image."""
    pil = pytest.importorskip("PIL.Image")
    import io

    img = pil.new("RGB", (3000, 1500), (200, 120, 40))
    exif = pil.Exif()
    exif[0x010F] = "PhoneMakerX"  # Make
    exif[0x0110] = "ModelY-Pro"  # Model
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (39.0, 54.0, 27.0), "E", (116.0, 23.0, 51.0)
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    return buf.getvalue() + b"<script>alert(1)</script>"


def _upload(client, data: bytes, kind: str = "image/jpeg", community: str = "xueyuan", headers=None):
    return client.post(
        "/v1/photos",
        params={"community": community},
        content=data,
        headers={"Content-Type": kind, **(auth() if headers is None else headers)},
    )


def test_an_uploaded_photo_is_re_encoded_without_exif_and_shown_to_staff_only(client):
    pil = pytest.importorskip("PIL.Image")
    import io

    raw = _jpeg_with_gps()
    assert b"PhoneMakerX" in raw and b"Exif" in raw
    r = _upload(client, raw)
    assert r.status_code == 201, r.text
    out = r.json()
    ref = out["ref"]
    assert re.fullmatch(r"uploads/xueyuan/\d{4}/\d{2}/[0-9a-f]{32}\.jpg", ref)
    assert (out["width"], out["height"]) == (2048, 1024)  # scaled down, proportions kept

    got = client.get(f"/v1/photos/{ref}", headers=auth())
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
    stored = got.content
    for leak in (b"PhoneMakerX", b"ModelY-Pro", b"Exif", b"<script>"):
        assert leak not in stored, leak
    with pil.open(io.BytesIO(stored)) as img:
        assert img.format == "JPEG" and img.size == (2048, 1024)
        assert not img.getexif() and 0x8825 not in img.getexif()

    # Staff of another community, and anyone without a token, cannot see it; no path escapes the store.
    assert_problem(client.get(f"/v1/photos/{ref}", headers=auth(("jinshan",))), 404)  # as if it did not exist
    assert client.get(f"/v1/photos/{ref}").status_code == 401
    assert_problem(client.get("/v1/photos/uploads/xueyuan/2026/01/..%2F..%2Fintake.db", headers=auth()), 404)

    # A report lists it; a made-up or another community's upload is refused with the field named.
    ok = client.post("/v1/reports", json=body(photos=[ref]), headers=auth())
    assert ok.status_code == 201, ok.text
    assert stored_photos(client) == [[ref]]
    # Staff read the reference on the report (the console fetches it with their token); the tracking page never.
    report = client.get(f"/v1/reports/{ok.json()['report_id']}", headers=auth()).json()
    assert report["photos"] == [ref]
    assert "uploads/" not in client.get(f"/v1/track/{ok.json()['tracking_code']}").text
    fake = f"uploads/xueyuan/2026/01/{'0' * 32}.jpg"
    assert_problem(client.post("/v1/reports", json=body(photos=[fake]), headers=auth()), 422, field="photos.0")
    other = _upload(client, raw, community="jinshan", headers=auth(("jinshan",))).json()["ref"]
    assert_problem(client.post("/v1/reports", json=body(photos=[other]), headers=auth()), 422, field="photos.0")


def test_uploads_that_are_not_images_are_refused_and_nothing_is_stored(client, tmp_path):
    pytest.importorskip("PIL.Image")
    assert_problem(_upload(client, b"GIF89a....", kind="image/gif"), 415, field="photo")
    assert_problem(_upload(client, b"<html><script>1</script>", kind="image/jpeg"), 415, field="photo")
    assert_problem(_upload(client, b"\xff\xd8\xff\xe0 not really a jpeg", kind="image/jpeg"), 422, field="photo")
    assert_problem(_upload(client, b""), 422, field="photo")
    too_big = b"\xff\xd8\xff" + b"\0" * (5 * 1_048_576)
    assert _upload(client, too_big).status_code == 413
    assert_problem(_upload(client, _jpeg_with_gps(), community="nowhere"), 422, field="community")
    assert _upload(client, _jpeg_with_gps(), headers={}).status_code == 401
    from services.intake.photo_store import photo_dir
    from services.runtime.settings import get_settings

    store = photo_dir(get_settings())
    assert not store.exists() or not any(p.is_file() for p in store.rglob("*"))
