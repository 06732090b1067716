"""Intake's channel endpoints with lifespan on the real broker: door-visit sheets, opinion boxes, 12345 orders."""

# ruff: noqa: F811 - pytest fixtures imported from test_intake_api
from __future__ import annotations

import io

import openpyxl
import pytest

from tests.integration.test_intake_api import (  # noqa: F401 - fixtures
    COUNTY,
    all_reports,
    assert_problem,
    auth,
    client,
    db_url,
)
from tests.support import readable

pytestmark = pytest.mark.integration

HEADER = ["日期", "走访人", "小区", "楼栋", "单元", "房号", "居民姓名", "联系电话", "反映问题", "类型(问题/建议)"]
ROWS = [
    [
        "2024/3/5",
        "艾伟东",
        "金泰和庄",
        "12栋",
        "2",
        "301室",
        "刘秀英",
        "138 0000 2031",
        "下水道又堵了，一楼门市进水",
        "问题",
    ],
    ["2024年3月5日", "艾伟东", "金泰和庄小区", "十二号楼", "二单元", "502", "张伟", "13912345678", " 楼道灯坏了 ", ""],
    ["2024-03-06", "艾伟东", "", "", "", "", "", "", "建议在育才小区增设充电桩", "建议"],
    ["2024-13-45", "艾伟东", "不存在花园", "3", "1", "101", "王五", "12345", "", "投诉"],
]


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8", header: list[str] = HEADER) -> bytes:
    lines = [",".join(header)] + [",".join(r) for r in rows]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def xlsx_bytes(rows: list[list]) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["学苑社区敲响邻里门走访台账（2024年3月）"])  # a title row above the header, as sheets often have
    ws.append(HEADER)
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def upload(c, data: bytes, name: str = "走访台账.csv", community: str = "xueyuan", headers=None):
    return c.post(
        "/v1/imports/door-visits",
        data={"community": community},
        files={"file": (name, data, "application/octet-stream")},
        headers=headers if headers is not None else auth(role="grid_worker", sub="u-aiweidong"),
    )


def test_door_visit_csv_rows_are_judged_one_by_one_and_reupload_adds_nothing(client):
    r = upload(client, csv_bytes(ROWS))
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["format"], out["encoding"], out["rows"]) == ("csv", "utf-8", 4)
    assert (out["accepted"], out["created"], out["rejected"]) == (3, 3, 1)
    good = [x for x in out["results"] if x["status"] == "accepted"]
    assert [x["row"] for x in good] == [2, 3, 4] and all(x["tracking_code"] for x in good)
    [bad] = [x for x in out["results"] if x["status"] == "rejected"]
    assert bad["row"] == 5
    by_field = {e["field"]: e for e in bad["errors"]}
    assert set(by_field) == {"date", "compound", "phone", "text", "kind"}
    assert by_field["phone"]["column"] == "联系电话" and by_field["kind"]["column"] == "类型(问题/建议)"
    for e in bad["errors"]:
        assert any("\u4e00" <= ch <= "\u9fff" for ch in e["message"]) and e["message_en"][0].isupper()

    rows = {x["id"]: x for x in all_reports(client)}
    first = rows[good[0]["report_id"]]
    assert first["channel"] == "door_visit" and first["kind"] == "problem"
    assert (first["compound"], first["building"], first["unit"]) == ("jintaihezhuang", "12", "2")
    assert first["reporter"]["name"] == "刘**" and first["reporter"]["phone"] == "138****2031"
    assert first["provenance"]["visited_by"] == "艾伟东" and first["provenance"]["visited_on"] == "2024-03-05"
    # The visitor is the grid worker of 12号楼's grid in the directory: the report says so.
    assert (first["provenance"]["grid"], first["provenance"]["visitor_role"]) == ("xy-g1", "grid_worker")
    assert "grid" not in rows[good[2]["report_id"]]["provenance"]  # no building: no grid to match
    second = rows[good[1]["report_id"]]
    assert (second["building"], second["unit"], second["text"]) == ("12", "2", "楼道灯坏了")
    assert rows[good[2]["report_id"]]["kind"] == "suggestion"

    # The same sheet again, saved by Excel as GBK, and as XLSX with a title row: nothing new.
    again = upload(client, csv_bytes(ROWS, "gbk"), name="走访台账-副本.csv").json()
    assert again["encoding"] == "gb18030" and (again["accepted"], again["created"]) == (3, 0)
    assert [x["report_id"] for x in again["results"] if x["status"] == "accepted"] == [x["report_id"] for x in good]
    xlsx = upload(client, xlsx_bytes(ROWS[:3]), name="走访台账.xlsx").json()
    assert xlsx["format"] == "xlsx" and (xlsx["accepted"], xlsx["created"]) == (3, 0)
    assert len(all_reports(client)) == 3


def test_door_visit_xlsx_with_excel_types_and_header_variants(client):
    import datetime as dt

    header = ["走访日期", "网格员", "小区名称", "楼号", "单元号", "门牌号", "姓名", "手机号码", "问题描述", "类别"]
    rows = [[dt.datetime(2024, 3, 7), "胡晓玲", "金泰和庄", 3, 1, 1803, "熊桂香", 13800002033, "电梯经常停运", "问题"]]
    wb = openpyxl.Workbook()
    wb.active.append(header)
    for row in rows:
        wb.active.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    out = upload(client, buf.getvalue(), name="visits.xlsx").json()
    assert (out["accepted"], out["rejected"]) == (1, 0), out
    [row] = all_reports(client)
    assert (row["building"], row["unit"], row["reporter"]["phone"]) == ("3", "1", "138****2033")
    assert "1803" not in str(row) and "熊桂香" not in str(row)


def test_bad_files_are_refused_whole_and_store_nothing(client):
    assert_problem(upload(client, b"%PDF-1.4 not a sheet", name="a.pdf"), 415)
    assert_problem(upload(client, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, name="old.xls"), 415)
    assert_problem(upload(client, b"PK\x03\x04corrupt zip", name="bad.xlsx"), 422, "file")
    assert_problem(upload(client, "姓名,电话\n王五,13800000000\n".encode(), name="no-text.csv"), 422, "file")
    assert_problem(upload(client, b"", name="empty.csv"), 422, "file")
    too_many = csv_bytes([["2024-03-05", "", "", "", "", "", "", "", f"第{i}条问题", ""] for i in range(2001)])
    assert_problem(upload(client, too_many), 422, "file")
    big = csv_bytes([]) + b"#" * (5 * 1024 * 1024 + 10)
    assert_problem(upload(client, big), 413)
    assert all_reports(client) == []


def test_door_visit_import_is_for_grid_workers_and_party_org_of_the_community(client):
    data = csv_bytes(ROWS[:1])
    assert_problem(upload(client, data, headers={}), 401)
    assert_problem(upload(client, data, headers=auth(role="property_company")), 403)
    assert_problem(upload(client, data, headers=auth(("jinshan",), role="grid_worker")), 404)
    assert_problem(upload(client, data, community="nowhere"), 422, "community")
    assert all_reports(client) == []
    assert upload(client, data, headers=auth(role="party_org")).json()["created"] == 1


def box_body(**over) -> dict:
    base = {
        "community": "xueyuan",
        "channel": "opinion_box",
        "text": "金泰和庄东门晚上没有路灯，老人散步看不清路，希望能装两盏灯",
        "provenance": {
            "box": "金泰和庄东门意见箱",
            "collected_at": "2024-03-08T09:30:00+08:00",
            "on_behalf_of": "陈桂兰",
        },
    }
    return base | over


def test_opinion_box_and_wish_wall_need_their_provenance(client):
    h = auth(role="grid_worker", sub="u-aiweidong")
    r = client.post("/v1/reports", json=box_body(), headers=h)
    assert r.status_code == 201, r.text
    row = client.get(f"/v1/reports/{r.json()['report_id']}", headers=auth()).json()
    assert row["kind"] == "suggestion" and row["compound"] == "jintaihezhuang"
    prov = row["provenance"]
    assert prov["box"] == "金泰和庄东门意见箱" and prov["entered_by"] == "u-aiweidong"
    assert prov["on_behalf_of"] == "陈**" and prov["collected_at"].startswith("2024-03-08T09:30")
    assert "陈桂兰" not in str(row)

    wish = box_body(
        channel="wish_wall",
        text="想要一个儿童滑梯",
        provenance={"box": "学苑社区心愿墙", "collected_at": "2024-06-01T10:00:00+08:00"},
    )
    assert client.post("/v1/reports", json=wish, headers=h).json()["created"] is True

    assert_problem(client.post("/v1/reports", json=box_body(provenance=None), headers=h), 422, "provenance.box")
    no_time = box_body(provenance={"box": "金泰和庄东门意见箱"})
    assert_problem(client.post("/v1/reports", json=no_time, headers=h), 422, "provenance.collected_at")
    assert len(all_reports(client)) == 2


def order(**over) -> dict:
    base = {
        "community": "xueyuan",
        "工单编号": "JX20240308-00127",
        "来电时间": "2024-03-08T08:12:00+08:00",
        "诉求内容": "来电人反映金泰和庄12栋2单元下水道反复堵塞，污水漫到一楼门市，要求尽快处理。",
        "联系人": "刘女士",
        "联系电话": "138-0000-2031",
        "地址": "金溪县秀谷镇学苑路金泰和庄12栋2单元301",
        "承办时限": "2024-03-13T18:00:00+08:00",
    }
    return base | over


def test_hotline_order_number_is_the_idempotency_key_and_is_shown(client):
    h = auth(sub="u-huxiaoling")
    r = client.post("/v1/hotline-orders", json=order(), headers=h)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["created"] is True and out["order_no"] == "JX20240308-00127"
    again = client.post("/v1/hotline-orders", json=order(**{"工单编号": " jx20240308-00127 "}), headers=h).json()
    assert (again["report_id"], again["created"]) == (out["report_id"], False)

    row = client.get(f"/v1/reports/{out['report_id']}", headers=h).json()
    assert row["channel"] == "hotline_12345" and row["provenance"]["order_no"] == "JX20240308-00127"
    assert (row["compound"], row["building"], row["unit"]) == ("jintaihezhuang", "12", "2")
    assert row["reporter"]["phone"] == "138****2031" and "301" not in row["text"]
    track = client.get(f"/v1/track/{out['tracking_code']}").json()
    assert track["expected_at"].startswith("2024-03-13T10:00")  # the hotline's deadline (UTC)

    english = {"community": "xueyuan", "order_no": "JX-2", "called_at": "2024-03-09T10:00:00+08:00", "content": "噪音"}
    assert client.post("/v1/hotline-orders", json=english, headers=h).status_code == 201
    assert_problem(client.post("/v1/hotline-orders", json=order(**{"工单编号": "含中文"}), headers=h), 422, "工单编号")
    assert_problem(
        client.post("/v1/hotline-orders", json=order(**{"联系电话": "0794-1234"}), headers=h), 422, "联系电话"
    )
    assert_problem(client.post("/v1/hotline-orders", json=order(community="jinshan"), headers=h), 404)
    assert_problem(client.post("/v1/hotline-orders", json=order()), 401)
    assert len(all_reports(client)) == 2


def test_no_personal_data_in_published_events_from_the_new_channels(client):
    from urllib.parse import urlencode

    from services.intake.models import bus_tables

    h = auth(role="grid_worker", sub="u-aiweidong")
    assert upload(client, csv_bytes(ROWS[:2])).json()["created"] == 2
    box = box_body(text="我是陈桂兰，住金泰和庄3栋502，电话13970001234，东门路灯坏了")
    assert client.post("/v1/reports", json=box, headers=h).status_code == 201
    hot = order(
        **{"诉求内容": "来电人张伟（13912345678）反映12栋2单元301漏水", "联系人": "张伟", "联系电话": "13912345678"}
    )
    assert client.post("/v1/hotline-orders", json=hot, headers=h).status_code == 201
    spec = {"name": "open311", "channels": ["open311"], "communities": ["xueyuan"]}
    key = client.post("/v1/apikeys", json=spec, headers=auth()).json()["key"]
    form = urlencode({"api_key": key, "jurisdiction_id": "xueyuan", "service_code": "noise", "first_name": "秀英",
                      "last_name": "刘", "phone": "13800002031", "address_string": "金泰和庄12栋2单元301",
                      "description": "楼上刘秀英家（13800002031）半夜装修"})  # fmt: skip
    r = client.post(
        "/open311/v2/requests.json", content=form, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert r.status_code == 200, r.text

    async def bodies() -> list[str]:
        async with client.app.state.ctx.db.session() as s:
            return [row.body.decode() for row in (await s.exec(bus_tables.outbox.select())).all()]

    published = client.portal.call(bodies)
    assert len(published) == 5
    for raw in published:
        for secret in ("刘秀英", "张伟", "陈桂兰", "13800002031", "13912345678", "13970001234", "秀英"):
            assert secret not in raw, (secret, raw)
        assert "301室" not in raw and "502" not in readable(raw)


def test_a_grid_workers_single_report_is_a_door_visit(client):
    # Issue 22 (docs/channels/README.md): a 网格员's report, one at a time from a phone, uses `door_visit`, the
    # same channel as the visit sheets; intake keeps it apart from the residents' own mini-program reports.
    h = auth(role="grid_worker", sub="grid-wang")
    body = {"community": "xueyuan", "channel": "door_visit", "text": "巡查发现金泰和庄5号楼消防通道被电动车堵住"}
    r = client.post("/v1/reports", json=body, headers=h)
    assert r.status_code == 201, r.text
    [row] = [x for x in all_reports(client) if x["id"] == r.json()["report_id"]]
    assert row["channel"] == "door_visit" and row["community"] == "xueyuan"
