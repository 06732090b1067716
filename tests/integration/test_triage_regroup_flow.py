"""Staff merge and split over HTTP with intake, triage and ledger running on one private vhost of the real broker.

Reports go in through intake's API, become matters in triage, entries in the ledger; a merge closes the merged
entry as 合并 and moves the reports on the tracking page; a split makes a new graded matter with its own entry.
"""

from __future__ import annotations

import functools
import uuid

import pytest
from fastapi.testclient import TestClient

from services.intake import service as intake_service
from services.intake.app import create as intake_app
from services.intake.handlers import MERGED_NOTE, SPLIT_NOTE
from services.ledger.app import spec as ledger_spec
from services.runtime import directory
from services.runtime.auth import mint
from services.runtime.service import create_app
from services.runtime.settings import get_settings
from services.triage.app import spec as triage_spec
from tests import support

pytestmark = pytest.mark.integration
PROBLEM = "application/problem+json"


@pytest.fixture
def apps(hall_env, tmp_path, monkeypatch):
    """Intake, triage and ledger, each with its lifespan (migrations, consumers, relay) and own SQLite file."""
    for name in ("intake", "triage", "ledger"):
        monkeypatch.setenv(f"{name.upper()}_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / f'{name}.db'}")
    monkeypatch.setenv("HALL_RATELIMIT_PREFIX", f"hall:test:{uuid.uuid4().hex}")
    monkeypatch.setattr(intake_service, "_vault", None)
    get_settings.cache_clear()
    directory.clear_cache()
    with (
        TestClient(intake_app()) as intake,
        TestClient(create_app(triage_spec())) as triage,
        TestClient(create_app(ledger_spec())) as ledger,
    ):
        for c in (intake, triage, ledger):
            c.portal.call(c.app.state.ctx.bus.wait_ready)
        yield intake, triage, ledger


def auth(role: str = "party_org", communities: tuple[str, ...] = ("xueyuan",), sub: str = "u-party") -> dict:
    return {"Authorization": f"Bearer {mint(sub=sub, role=role, communities=list(communities))}"}


# Events cross the broker and three services: more patience than the default.
wait_for = functools.partial(support.wait_for, timeout=60.0, interval=0.2)


def submit(intake: TestClient, text: str) -> str:
    body = {"community": "xueyuan", "channel": "counter", "text": text, "name": "刘秀英", "phone": "13800002031"}
    r = intake.post("/v1/reports", json=body, headers=auth())
    assert r.status_code == 201, r.text
    return r.json()["report_id"]


def report(intake: TestClient, report_id: str) -> dict:
    return intake.get(f"/v1/reports/{report_id}", headers=auth()).json()


def entry_of(ledger: TestClient, matter_id: str) -> dict | None:
    items = ledger.get("/v1/entries", params={"limit": 200}, headers=auth()).json()["items"]
    found = next((e for e in items if e["matter_id"] == matter_id), None)
    return ledger.get(f"/v1/entries/{found['id']}", headers=auth()).json() if found else None


def merge(triage: TestClient, source: str, into: str, reason: str, headers: dict | None = None):
    return triage.post(f"/v1/matters/{source}/merge", json={"into": into, "reason": reason}, headers=headers or auth())


def split(triage: TestClient, source: str, report_ids: list[str], reason: str):
    return triage.post(f"/v1/matters/{source}/split", json={"report_ids": report_ids, "reason": reason}, headers=auth())


def assert_problem(r, status: int, field: str | None = None) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    doc = r.json()
    if field is not None:
        err = next(e for e in doc["errors"] if e["field"] == field)
        assert any("\u4e00" <= ch <= "\u9fff" for ch in err["message"]), err  # Chinese first


def test_merge_then_split_reach_ledger_and_intake(apps):
    intake, triage, ledger = apps
    light = submit(intake, "金泰和庄12号楼2单元楼道灯坏了好几天，晚上看不见")
    trash = submit(intake, "金泰和庄12号楼2单元门口的垃圾三天没人清运了")
    a = wait_for(lambda: report(intake, light)["matter_id"], what="intake knows the first report's matter")
    b = wait_for(lambda: report(intake, trash)["matter_id"], what="intake knows the second report's matter")
    assert a != b, "two different problems in one building must not cluster"
    wait_for(lambda: entry_of(ledger, a) and entry_of(ledger, b), what="both direct matters have entries")

    # Bad input: refused with problem+json naming the field; nothing changes.
    assert_problem(merge(triage, a, b, " "), 422, "reason")
    assert_problem(merge(triage, a, a, "同一件事"), 422, "into")
    assert_problem(merge(triage, a, "mat_none", "同一件事"), 422, "into")
    assert_problem(merge(triage, a, b, "同一件事", auth("grid_worker")), 403)
    assert merge(triage, a, b, "同一件事", auth(communities=("jinshan",))).status_code in (403, 404)

    # Merge a into b: audited, idempotent.
    r = merge(triage, a, b, "核实为同一单元的物业问题")
    assert r.status_code == 200, r.text
    survivor = r.json()
    assert survivor["id"] == b and set(survivor["report_ids"]) == {light, trash}
    again = merge(triage, a, b, "核实为同一单元的物业问题")
    assert again.status_code == 200 and again.json()["version"] == survivor["version"]
    merged = triage.get(f"/v1/matters/{a}", headers=auth()).json()
    assert merged["status"] == "merged" and merged["merged_into"] == b and merged["status_label"] == "已合并"
    audit = [g for g in merged["regrades"] if g["action"] == "merge"]
    assert audit and audit[0]["by"] == "u-party" and "物业问题" in audit[0]["reason"]
    assert_problem(merge(triage, b, a, "反过来"), 409, "into")

    # The ledger closes a's entry as merged, pointing at b; b's entry notes it.
    ea = wait_for(lambda: (e := entry_of(ledger, a)) and e["state"] == "merged" and e, what="ledger closes as merged")
    assert ea["merged_into"] == b and ea["state_label"] == "已合并" and not ea["available_actions"]
    assert any(t["action"] == "merge" and "合并" in (t["note"] or "") for t in ea["timeline"])
    wait_for(lambda: any("并入事项" in (t["note"] or "") for t in entry_of(ledger, b)["timeline"]), what="b noted")
    # Intake: the merged report follows b, with a note in words on the tracking page.
    moved = wait_for(lambda: (x := report(intake, light))["matter_id"] == b and x, what="intake follows the survivor")
    track = intake.get(f"/v1/track/{moved['tracking_code']}").json()
    assert track["status_note"] == MERGED_NOTE

    # Split the light report off again: a new matter graded like any, with its own entry.
    assert_problem(split(triage, b, [light, trash], "拆开"), 422, "report_ids")
    assert_problem(split(triage, b, [], "拆开"), 422, "report_ids")
    r = split(triage, b, [light], "灯和垃圾是两件事")
    assert r.status_code == 200, r.text
    c = r.json()
    assert c["id"] not in (a, b) and c["split_from"] == b and c["report_ids"] == [light]
    assert c["category"] == "lighting" and c["status"] == "open"
    same = split(triage, b, [light], "灯和垃圾是两件事")
    assert same.status_code == 200 and same.json()["id"] == c["id"]
    back = wait_for(lambda: (x := report(intake, light))["matter_id"] == c["id"] and x, what="intake follows the split")
    track = intake.get(f"/v1/track/{back['tracking_code']}").json()
    # The new (direct) matter may already be assigned by the ledger; until then the split note shows.
    assert (track["status"], track["status_note"]) == ("triaged", SPLIT_NOTE) or track["status"] == "assigned"
    assert track["status_note"] != MERGED_NOTE
    wait_for(lambda: entry_of(ledger, c["id"]), what="the split matter gets its own entry")
    wait_for(lambda: any("拆出" in (t["note"] or "") for t in entry_of(ledger, b)["timeline"]), what="b notes split")
