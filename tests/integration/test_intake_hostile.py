"""Hostile input at intake over HTTP: control characters, dates out of range, spreadsheet bombs, code oracles."""

# ruff: noqa: F811 - pytest fixtures imported from test_intake_api
from __future__ import annotations

import io
import re
import time
import xml.etree.ElementTree as ET
import zipfile

import openpyxl
import pytest

from services.contracts import Envelope, events
from services.intake import handlers
from tests.integration.test_intake_api import all_reports, assert_problem, auth, body, client, db_url  # noqa: F401
from tests.integration.test_intake_channels import HEADER, csv_bytes, upload
from tests.integration.test_intake_open311 import FORM, form, open311_key, spec_error
from tests.integration.test_intake_ratelimit import limited  # noqa: F401 - fixture

pytestmark = pytest.mark.integration


def test_control_characters_are_refused_naming_the_field_and_nothing_is_stored(client):
    h = auth()
    for field, value in (
        ("text", "下水道堵了\x00"),
        ("name", "刘\x1b秀英"),
        ("room", "30\x071"),
    ):
        r = client.post("/v1/reports", json=body(**{field: value}), headers=h)
        doc = assert_problem(r, 422, field)
        assert "控制字符" in doc["detail"] and "control characters" in doc["detail_en"]
    lone = b'{"community": "xueyuan", "text": "\\ud800 lamp"}'  # a lone surrogate, escaped as JSON allows
    r = client.post("/v1/reports", content=lone, headers={**h, "Content-Type": "application/json"})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), r.text
    assert all_reports(client) == []
    # Tab, newline and carriage return are what people type: kept.
    assert client.post("/v1/reports", json=body(text="楼道灯不亮\r\n\t三天了"), headers=h).status_code == 201

    key = open311_key(client)
    bad = form(api_key=key, jurisdiction_id="xueyuan", service_code="lighting", address_string="金泰和庄3号楼",
               description="路灯\x0c不亮")  # fmt: skip
    assert "description" in spec_error(client.post("/open311/v2/requests.json", content=bad, headers=FORM), 400)
    assert len(all_reports(client)) == 1


def test_open311_xml_stays_well_formed_when_a_note_holds_control_characters(client):
    """A status note from another service may still carry them: XML output leaves them out."""
    key = open311_key(client)
    sent = form(api_key=key, jurisdiction_id="xueyuan", service_code="lighting", address_string="金泰和庄3号楼",
                description="路灯不亮")  # fmt: skip
    rid = client.post("/open311/v2/requests.json", content=sent, headers=FORM).json()[0]["service_request_id"]

    async def note() -> None:
        async with client.app.state.ctx.bus.uow() as uow:
            triaged = events.MatterTriaged.model_validate(
                {"matter_id": "m_x", "report_ids": [rid], "title": "路灯", "place": {}, "kind": "problem",
                 "category": "lighting", "level": "green", "route": "direct", "confidence": 0.9,
                 "triaged_at": "2025-03-10T09:00:00+08:00"}
            )  # fmt: skip
            env = Envelope.new(type="matter.triaged.v1", source="/services/triage", community="xueyuan", data=triaged)
            await handlers.on_matter_triaged(uow, env, triaged)
            task = events.EntryEvent.model_validate(
                {"entry_id": "e_x", "matter_id": "m_x", "state": "in_progress", "level": "green",
                 "category": "lighting", "note": "已更换\x01灯头\x08", "actor": "u", "at": "2025-03-11T10:00:00+08:00"}
            )  # fmt: skip
            env = Envelope.new(type="entry.progressed.v1", source="/services/ledger", community="xueyuan", data=task)
            await handlers.on_entry(uow, env, task)
            await uow.commit()

    client.portal.call(note)
    r = client.get(f"/open311/v2/requests/{rid}.xml")
    assert r.status_code == 200
    assert ET.fromstring(r.content).find("request/status_notes").text == "已更换灯头"
    r = client.get("/open311/v2/requests.xml")
    assert r.status_code == 200 and ET.fromstring(r.content).find("request") is not None


def test_dates_out_of_range_are_422_naming_the_field(client):
    h = auth()
    for moment in ("0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59", "1970-01-01T00:00:00Z"):
        assert_problem(client.post("/v1/reports", json=body(occurred_at=moment), headers=h), 422, "occurred_at")
    assert all_reports(client) == []
    for name in ("start_date", "end_date"):
        r = client.get("/open311/v2/requests.json", params={name: "0001-01-01T00:00:00+23:59"})
        assert name in spec_error(r, 400)


def test_a_door_visit_row_with_an_absurd_date_is_rejected_alone(client):
    rows = [
        ["0001-01-01", "艾伟东", "金泰和庄", "12", "2", "301", "", "", "下水道又堵了", "问题"],
        ["2024-03-05", "艾伟东", "金泰和庄", "12", "2", "502", "", "", "楼道灯坏了", "问题"],
        ["2024-03-06", "艾伟东", "金泰和庄", "3", "1", "101", "", "", "路灯不亮\x01\x02", "问题"],
    ]
    r = upload(client, csv_bytes(rows))
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["accepted"], out["rejected"]) == (1, 2)
    bad = {res["row"]: res["errors"][0] for res in out["results"] if res["status"] == "rejected"}
    assert bad[2]["field"] == "date" and bad[2]["column"] == "日期"
    assert bad[4]["field"] == "text"


def _rewrite_sheet(data: bytes, change) -> bytes:
    src, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            member = src.read(info.filename)
            dst.writestr(info.filename, change(member) if info.filename == "xl/worksheets/sheet1.xml" else member)
    return out.getvalue()


def sheet(rows: list[list]) -> bytes:
    wb = openpyxl.Workbook()
    for row in [HEADER, *rows]:
        wb.active.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_spreadsheet_bombs_are_refused_before_parsing(client):
    """5 KB claiming 50,000 x ZZ cells, a stray cell at ZZ50000, a member that inflates to GBs: 422, quickly."""
    base = sheet([["2024-03-05", "艾伟东", "金泰和庄", "12", "2", "301", "", "", "下水道又堵了", "问题"]])
    declared = _rewrite_sheet(
        base, lambda x: re.sub(rb'<dimension ref="[^"]*" ?/>', b'<dimension ref="A1:ZZ50000"/>', x)
    )
    stray = _rewrite_sheet(
        base,
        lambda x: re.sub(rb'<dimension ref="[^"]*" ?/>', b"", x).replace(
            b"</sheetData>", b'<row r="50000"><c r="ZZ50000" t="inlineStr"><is><t>x</t></is></c></row></sheetData>'
        ),
    )
    inflating = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base)) as src, zipfile.ZipFile(inflating, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
        dst.writestr("xl/media/padding.bin", b"\0" * (80 * 1024 * 1024))  # 80 MiB of zeros, ~80 KB zipped
    for name, data in (("declared", declared), ("stray", stray), ("inflating", inflating.getvalue())):
        assert len(data) < 200_000, name
        started = time.perf_counter()
        doc = assert_problem(upload(client, data, name=f"{name}.xlsx"), 422, "file")
        assert time.perf_counter() - started < 1.0, name
        assert "拆分" in doc["detail"], doc
    assert all_reports(client) == []
    assert upload(client, base, name="ok.xlsx").json()["accepted"] == 1  # a plain sheet still imports


def test_open311_token_lookups_are_rate_limited_like_track(limited):
    """The token endpoint is a tracking-code oracle: it shares /v1/track's per-IP budget."""
    with limited(HALL_RATELIMIT_PER_IP="4") as c:
        codes = [c.get(f"/open311/v2/tokens/AAAAAAA{ch}.json").status_code for ch in "23456"]
        assert codes == [404, 404, 404, 404, 429]
        assert c.get("/v1/track/AAAAAAA7").status_code == 429  # one budget for both lookups
        r = c.get("/open311/v2/tokens/AAAAAAA8.xml")
        assert r.status_code == 429 and r.headers["Retry-After"]


def test_hotline_order_with_control_characters_names_its_own_field(client):
    order = {"community": "xueyuan", "order_no": "JX20240305-0001", "called_at": "2024-03-05T09:00:00+08:00",
             "content": "金泰和庄路灯不亮\x00", "address": "金泰和庄3号楼"}  # fmt: skip
    assert_problem(client.post("/v1/hotline-orders", json=order, headers=auth()), 422, "content")
    order |= {"content": "金泰和庄路灯不亮", "called_at": "0001-01-01T00:00:00+23:59"}
    assert_problem(client.post("/v1/hotline-orders", json=order, headers=auth()), 422, "called_at")
    assert all_reports(client) == []
