"""Door-knocking (敲响邻里门): campaigns over the directory's grids, visits by grid members, household coverage."""

# ruff: noqa: F811 - pytest fixtures imported from test_intake_api
from __future__ import annotations

import datetime as dt

import pytest

from tests.integration.test_intake_api import assert_problem, auth, client, db_url  # noqa: F401 - fixtures

pytestmark = pytest.mark.integration

CST = dt.timezone(dt.timedelta(hours=8))


def grid() -> dict:
    return auth(role="grid_worker", sub="grid-ai")


def month() -> str:
    return dt.datetime.now(CST).strftime("%Y-%m")


def campaign(c, **over) -> dict:
    body = {"community": "xueyuan", "name": "敲响邻里门·本月走访", "month": month(), **over}
    return c.post("/v1/visit-campaigns", json=body, headers=auth())


def visit(c, cid: str, headers=None, **over):
    body = {"compound": "金泰和庄", "building": "12", "unit": 2, "room": "301", "visitor": "杨国庆", **over}
    return c.post(f"/v1/visit-campaigns/{cid}/visits", json=body, headers=headers or grid())


def test_visits_by_grid_members_cover_households_and_their_reports_are_attributed(client):
    r = campaign(client)
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    assert r.json()["grids"] == [] and r.json()["created_by"] == "u-staff"

    # The building head of 12号楼 hears about the drain: the report is the household's, attributed to him.
    r = visit(client, cid, reports=[{"text": "12号楼2单元下水道又堵了，一楼门市进水"}])
    assert r.status_code == 201, r.text
    first = r.json()
    assert (first["visitor"], first["visitor_role"], first["visitor_role_label"]) == (
        "杨国庆",
        "building_head",
        "楼栋长",
    )
    assert "301" not in r.text  # the door is not echoed back
    (raised,) = first["reports"]
    report = client.get(f"/v1/reports/{raised['report_id']}", headers=auth()).json()
    assert report["channel"] == "door_visit" and report["compound"] == "jintaihezhuang" and report["building"] == "12"
    assert report["provenance"]["visited_by"] == "杨国庆" and report["provenance"]["visitor_role"] == "building_head"
    assert report["provenance"]["grid"] == "xy-g1" and report["provenance"]["entered_by"] == "grid-ai"
    # The resident's tracking page shows no door and no visitor.
    public = client.get(f"/v1/track/{raised['tracking_code']}").text
    assert "301" not in public and "杨国庆" not in public

    assert visit(client, cid, visitor="邹明华", room="502室").status_code == 201  # a party member
    assert visit(client, cid, visitor="艾伟东").status_code == 201  # the same household again: counted once
    assert visit(client, cid, visitor="付丽娟", unit=1, room="101", met=False).status_code == 201  # nobody in
    assert visit(client, cid, visitor="艾伟东", building="3", unit=1, room="202").status_code == 201

    cov = client.get(f"/v1/visit-campaigns/{cid}/coverage", headers=grid())
    assert cov.status_code == 200, cov.text
    doc = cov.json()
    (g1,) = doc["grids"]
    twelve = next(b for b in g1["buildings"] if b["building"] == "12")
    three = next(b for b in g1["buildings"] if b["building"] == "3")
    assert (twelve["building_name"], twelve["households"], twelve["visited"]) == ("12号楼", 40, 2)
    assert twelve["doors"] == ["2单元301", "2单元502"] and twelve["rate"] == 0.05
    assert (three["visited"], three["doors"]) == (1, ["1单元202"])
    assert g1["households"] == 406 and g1["visited"] == 3 and doc["visited"] == 3
    assert doc["rate"] == round(3 / 406, 4)
    visitors = {v["name"]: v for v in doc["visitors"]}
    assert visitors["杨国庆"]["reports"] == 1 and visitors["杨国庆"]["role_label"] == "楼栋长"
    assert visitors["艾伟东"]["visits"] == 2 and visitors["艾伟东"]["households"] == 2
    assert visitors["付丽娟"]["visits"] == 1 and visitors["邹明华"]["role_label"] == "党员"

    listed = client.get("/v1/visit-campaigns", params={"month": month()}, headers=grid()).json()["items"]
    assert [c["id"] for c in listed] == [cid]


def test_visits_and_campaigns_are_checked_against_the_directory(client):
    cid = campaign(client).json()["id"]
    assert_problem(visit(client, cid, visitor="路人甲"), 422, "visitor")
    assert_problem(visit(client, cid, compound="书香雅苑", building="1"), 422, "building")  # not in any grid
    assert_problem(visit(client, cid, building="99"), 422, "building")
    assert_problem(visit(client, cid, unit=9), 422, "unit")
    assert_problem(visit(client, cid, room="三楼"), 422, "room")
    last_month = (dt.datetime.now(CST).replace(day=1) - dt.timedelta(days=2)).isoformat()
    assert_problem(visit(client, cid, visited_at=last_month), 422, "visited_at")
    assert visit(client, cid, headers=auth(role="property_company")).status_code == 403
    assert visit(client, cid, headers=auth(("jinshan",), role="grid_worker")).status_code == 404
    at = dt.datetime.now(CST).isoformat()
    assert visit(client, cid, visited_at=at).status_code == 201
    assert_problem(visit(client, cid, visited_at=at), 409)
    cov = client.get(f"/v1/visit-campaigns/{cid}/coverage", headers=auth(role="resident_rep"))
    assert cov.status_code == 403

    assert_problem(campaign(client, month="2026-13"), 422, "month")
    assert_problem(campaign(client, grids=["nope"]), 422, "grids")
    assert_problem(campaign(client), 409)  # same name, same month
    assert campaign(client, name="楼栋长专项走访", grids=["xy-g1"]).status_code == 201
    r = client.post(
        "/v1/visit-campaigns",
        json={"community": "wenzhuang", "name": "x", "month": month()},
        headers=auth(("wenzhuang",)),
    )
    assert_problem(r, 409)  # 文庄社区 has no grids in the directory
    assert campaign(client, name="y", community="jinshan").status_code == 404  # not the caller's community


def test_campaign_list_searches_pages_and_exports_in_words(client):
    import io

    from openpyxl import load_workbook

    now = dt.datetime.now(CST).date()
    earlier = (now.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    this = campaign(client).json()["id"]
    assert campaign(client, name="夏季走访", month=earlier).status_code == 201
    assert visit(client, this).status_code == 201
    assert visit(client, this, room="502").status_code == 201
    assert visit(client, this, room="502", visitor="艾伟东").status_code == 201  # the same household again
    assert visit(client, this, unit=1, room="101", met=False, visitor="付丽娟").status_code == 201  # nobody in

    page = client.get("/v1/visit-campaigns", headers=grid()).json()
    assert page["total"] == 2 and [c["month"] for c in page["items"]] == [month(), earlier]
    first = page["items"][0]
    assert (first["visits"], first["visited"], first["households"]) == (4, 2, 406)
    assert first["rate"] == round(2 / 406, 4)
    assert page["items"][1]["visits"] == 0 and page["items"][1]["rate"] == 0.0
    # Keyword (wildcards literal), months overlapping the days asked for, pages.
    assert [
        c["name"] for c in client.get("/v1/visit-campaigns", params={"q": "夏季"}, headers=grid()).json()["items"]
    ] == ["夏季走访"]
    assert client.get("/v1/visit-campaigns", params={"q": "%"}, headers=grid()).json()["total"] == 0
    today = client.get("/v1/visit-campaigns", params={"since": str(now), "until": str(now)}, headers=grid()).json()
    assert [c["id"] for c in today["items"]] == [this]
    second = client.get("/v1/visit-campaigns", params={"limit": 1, "offset": 1}, headers=grid()).json()
    assert second["total"] == 2 and [c["name"] for c in second["items"]] == ["夏季走访"]
    assert client.get("/v1/visit-campaigns", params={"month": "2026-13x"}, headers=grid()).status_code == 422
    assert client.get("/v1/visit-campaigns", headers=auth(("jinshan",))).json()["total"] == 0  # scope

    r = client.get("/v1/visit-campaigns.xlsx", params={"q": "邻里门"}, headers=grid())
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    rows = [list(x) for x in load_workbook(io.BytesIO(r.content)).active.iter_rows(values_only=True)]
    assert rows[0] == ["走访活动", "社区", "月份", "走访次数", "走到户数", "总户数", "覆盖率", "创建时间"]
    assert len(rows) == 2
    assert rows[1][:7] == ["敲响邻里门·本月走访", "学苑社区", month(), 4, 2, 406, "0.5%"]
    flat = " ".join(str(v) for row in rows for v in row if v is not None)
    assert "vca_" not in flat and "xueyuan" not in flat and "u-staff" not in flat
    english = client.get("/v1/visit-campaigns.xlsx", params={"lang": "en"}, headers=grid())
    en_rows = list(load_workbook(io.BytesIO(english.content)).active.iter_rows(values_only=True))
    assert en_rows[0][0] == "Campaign" and len(en_rows) == 3
    outside = client.get("/v1/visit-campaigns.xlsx", headers=auth(("jinshan",)))
    assert len(list(load_workbook(io.BytesIO(outside.content)).active.iter_rows(values_only=True))) == 1
