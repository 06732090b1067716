"""12345 orders get their handling result back: one reply per order, built from the ledger's events, exported."""

# ruff: noqa: F811 - the `client` fixture is imported from test_intake_api and used as a parameter

from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import pytest

from services.contracts import Envelope, events
from services.intake import handlers, hotline_replies
from tests.integration.test_intake_api import assert_problem, auth, client, db_url  # noqa: F401 - fixtures
from tests.integration.test_intake_channels import order

pytestmark = pytest.mark.integration

NOW = dt.datetime(2024, 3, 11, 16, 0, tzinfo=dt.UTC)


def deliver(client, type: str, data, *steps) -> None:
    """Run the intake's handlers of one event in the app's loop, as its consumer does."""
    env = Envelope.new(type=type, source="/services/test", community="xueyuan", subject=data.matter_id, data=data)

    async def go() -> None:
        async with client.app.state.ctx.bus.uow(cause=env) as uow:
            for step in steps:
                await step(uow, env, data)
            await uow.commit()

    client.portal.call(go)


def task(state: str, **over) -> events.EntryEvent:
    base = {
        "entry_id": "ent_1",
        "matter_id": "mat_hot",
        "state": state,
        "level": "yellow",
        "category": "drainage",
        "measures": "物业重新铺设共用排水管",
        "lead_party": "property_company",
        "lead_unit": "江西锦程物业服务有限公司",
        "actor": "ledger",
        "at": NOW,
    }
    return events.EntryEvent(**(base | over))


def test_an_order_gets_its_result_back_once_done_and_evaluated(client):
    h = auth(sub="u-huxiaoling")
    r = client.post("/v1/hotline-orders", json=order(), headers=h)
    assert r.status_code == 201, r.text
    report_id = r.json()["report_id"]
    (reply,) = client.get("/v1/hotline-replies", headers=h).json()["items"]
    assert (reply["order_no"], reply["state_label"], reply["result"]) == ("JX20240308-00127", "办理中", None)

    triaged = events.MatterTriaged(
        matter_id="mat_hot",
        report_ids=[report_id],
        title="下水道堵塞",
        place=events.Place(compound="jintaihezhuang", building="12"),
        kind="problem",
        category="drainage",
        level="yellow",
        route="deliberate",
        confidence=0.9,
        triaged_at=NOW,
    )
    deliver(client, "matter.triaged.v1", triaged, handlers.on_matter_triaged)
    done = task("completed", note="排水管重铺完成，门市地面已恢复（联系人刘女士 13800002031）")
    deliver(client, "entry.completed.v1", done, handlers.on_entry, hotline_replies.on_entry)
    (reply,) = client.get("/v1/hotline-replies", headers=h).json()["items"]
    assert reply["state"] == "completed" and reply["unit"] == "江西锦程物业服务有限公司"
    assert "排水管重铺完成" in reply["result"] and "13800002031" not in reply["result"]
    assert reply["late"] is False  # done 11 March, due 13 March 18:00
    assert client.get("/v1/hotline-replies", params={"state": "ready"}, headers=h).json()["total"] == 0

    evaluated = task("evaluated", note="居民评价满意（满意率 100%）", satisfaction=1.0)
    deliver(client, "entry.progressed.v1", evaluated, handlers.on_entry, hotline_replies.on_entry)
    (reply,) = client.get("/v1/hotline-replies", params={"state": "ready"}, headers=h).json()["items"]
    assert reply["satisfaction"] == "满意（满意率 100%）" and reply["revisit"].startswith("已回访")

    # The platform's columns, CSV (with a BOM for Excel) and XLSX.
    r = client.get("/v1/hotline-replies/export", params={"community": "xueyuan"}, headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:6] == ["工单编号", "办理状态", "办理结果", "办理单位", "办结时间", "回访情况"]
    assert rows[1][0] == "JX20240308-00127" and rows[1][3] == "江西锦程物业服务有限公司"
    assert rows[1][4] == "2024-03-12 00:00" and rows[1][6] == "满意（满意率 100%）" and rows[1][8] == "否"
    r = client.get("/v1/hotline-replies/export", params={"format": "xlsx"}, headers=h)
    sheet = openpyxl.load_workbook(io.BytesIO(r.content)).active
    assert [c.value for c in sheet[1]][:3] == ["工单编号", "办理状态", "办理结果"]
    assert sheet["A2"].value == "JX20240308-00127"

    # Residents unsatisfied later: the order is being handled again, no reply is offered.
    reopened = events.MatterReopened(matter_id="mat_hot", round=2, reasons=["还是堵"], rate=0.3, reopened_at=NOW)
    deliver(client, "matter.reopened.v1", reopened, handlers.on_matter_reopened, hotline_replies.on_matter_reopened)
    (reply,) = client.get("/v1/hotline-replies", headers=h).json()["items"]
    assert reply["state"] == "open" and "重新办理" in reply["revisit"]


def test_the_platform_adapter_pulls_with_its_key_and_staff_see_only_their_community(client):
    h = auth(sub="u-huxiaoling")
    assert client.post("/v1/hotline-orders", json=order(**{"工单编号": "JX-77"}), headers=h).status_code == 201
    spec = {"name": "12345平台对接", "channels": ["hotline_12345"], "communities": ["xueyuan"]}
    key = client.post("/v1/apikeys", json=spec, headers=h).json()["key"]
    r = client.get("/v1/hotline-replies", params={"community": "xueyuan"}, headers={"X-API-Key": key})
    assert r.status_code == 200 and [i["order_no"] for i in r.json()["items"]] == ["JX-77"]
    assert_problem(client.get("/v1/hotline-replies", headers={"X-API-Key": key}), 422, "community")
    assert_problem(client.get("/v1/hotline-replies", params={"community": "jinshan"}, headers={"X-API-Key": key}), 403)
    other = {"name": "小程序", "channels": ["miniprogram"], "communities": ["xueyuan"]}
    mp = client.post("/v1/apikeys", json=other, headers=h).json()["key"]
    assert_problem(client.get("/v1/hotline-replies", params={"community": "xueyuan"}, headers={"X-API-Key": mp}), 403)
    assert client.get("/v1/hotline-replies", headers=auth(("jinshan",))).json()["total"] == 0
    assert_problem(client.get("/v1/hotline-replies"), 401)
