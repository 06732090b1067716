"""Lists search server side (keyword, Beijing dates, filters) and export the same rows as XLSX, in words."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import load_workbook

from tests.integration.test_ledger_api import _own_vhost, client, direct_entry, token  # noqa: F401

pytestmark = pytest.mark.integration


def sheet(response) -> list[list]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    ws = load_workbook(io.BytesIO(response.content)).active
    return [list(r) for r in ws.iter_rows(values_only=True)]


def test_ledger_keyword_dates_and_export(client):  # noqa: F811
    direct_entry(client, "mat_lamp", "景湖花园5号楼楼道灯不亮")
    direct_entry(client, "mat_drain", "景湖花园下水道堵塞")
    h = token("party_org")
    everything = client.get("/v1/entries", headers=h).json()
    assert everything["total"] == 2
    lamp = client.get("/v1/entries", params={"q": "楼道灯"}, headers=h).json()
    assert [e["matter_id"] for e in lamp["items"]] == ["mat_lamp"] and lamp["total"] == 1
    # A wildcard in the keyword is taken literally.
    assert client.get("/v1/entries", params={"q": "%"}, headers=h).json()["total"] == 0
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    assert client.get("/v1/entries", params={"since": str(today), "until": str(today)}, headers=h).json()["total"] == 2
    tomorrow = today + dt.timedelta(days=1)
    assert client.get("/v1/entries", params={"since": str(tomorrow)}, headers=h).json()["total"] == 0
    yesterday = str(today - dt.timedelta(days=1))
    assert client.get("/v1/entries", params={"until": yesterday}, headers=h).json()["total"] == 0
    assert client.get("/v1/entries", params={"since": "not-a-day"}, headers=h).status_code == 422
    assert [
        e["matter_id"] for e in client.get("/v1/entries", params={"matter_id": "mat_drain"}, headers=h).json()["items"]
    ] == ["mat_drain"]

    rows = sheet(client.get("/v1/entries.xlsx", params={"q": "楼道灯"}, headers=h))
    assert rows[0][:6] == ["事项", "社区及地点", "类别", "等级", "办理方式", "台账状态"]
    assert len(rows) == 2
    title, place, category, level, route, state = rows[1][:6]
    assert title == "景湖花园5号楼楼道灯不亮"
    assert category == "照明" and level == "绿" and route == "直接办理" and state in ("已交办", "已登记")
    assert "jinshan" not in place and "jinghuhuayuan" not in place and place.startswith("金山")
    flat = " ".join(str(c) for row in rows for c in row if c is not None)
    assert "mat_" not in flat and "ent_" not in flat
    english = sheet(client.get("/v1/entries.xlsx", params={"lang": "en"}, headers=h))
    assert english[0][0] == "Matter" and len(english) == 3
    assert {r[2] for r in english[1:]} == {"Lighting"} and {r[3] for r in english[1:]} == {"Green"}
    # Scope holds for the export as for the list.
    assert len(sheet(client.get("/v1/entries.xlsx", headers=token("party_org", "xueyuan")))) == 1


def test_intake_reports_search_and_export(hall_env, tmp_path, monkeypatch):
    from tests.integration import test_intake_api as intake

    gen = intake.client.__wrapped__(hall_env, f"sqlite+aiosqlite:///{tmp_path / 'intake.db'}", monkeypatch)
    c = next(gen)
    try:
        h = intake.auth()
        first = c.post("/v1/reports", json=intake.body(), headers=h).json()
        second = c.post(
            "/v1/reports",
            json=intake.body(
                text="学苑小区东门路灯坏了三天",
                channel="opinion_box",
                provenance={"box": "东门意见箱", "collected_at": dt.datetime.now(dt.UTC).isoformat()},
            ),
            headers=h,
        )
        assert second.status_code == 201, second.text
        assert c.get("/v1/reports", params={"q": "路灯"}, headers=h).json()["total"] == 1
        by_code = c.get("/v1/reports", params={"q": first["tracking_code"].lower()}, headers=h).json()
        assert [r["tracking_code"] for r in by_code["items"]] == [first["tracking_code"]]
        assert c.get("/v1/reports", params={"channel": "opinion_box"}, headers=h).json()["total"] == 1
        assert c.get("/v1/reports", params={"channel": "fax"}, headers=h).status_code == 422
        today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
        assert c.get("/v1/reports", params={"since": str(today)}, headers=h).json()["total"] == 2
        assert c.get("/v1/reports", params={"since": str(today + dt.timedelta(days=1))}, headers=h).json()["total"] == 0

        rows = sheet(c.get("/v1/reports.xlsx", headers=h))
        assert rows[0] == ["查询码", "收到时间", "社区及地点", "渠道", "类型", "内容", "等级", "状态"]
        assert len(rows) == 3
        assert {r[3] for r in rows[1:]} == {"服务窗口", "意见箱"}
        assert all(r[2].startswith("学苑") for r in rows[1:])
        assert isinstance(rows[1][1], dt.datetime)
        flat = " ".join(str(v) for row in rows for v in row if v is not None)
        for code in ("rpt_", "xueyuan", "counter", "opinion_box", "13800002031", "刘秀英"):
            assert code not in flat
        only = sheet(c.get("/v1/reports.xlsx", params={"channel": "opinion_box", "lang": "en"}, headers=h))
        assert only[0][0] == "Tracking code" and [r[3] for r in only[1:]] == ["Opinion box"]
    finally:
        next(gen, None)
