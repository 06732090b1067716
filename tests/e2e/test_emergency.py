"""The emergency path across the platform: a red report has an owner, a clock and paged people within seconds.

A report comes in as staff enter a neighbour's call; pages go to a real webhook receiver; the state shows on
Open311; the person paged acknowledges on a phone-sized page in Chromium through the console.
"""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from tests.e2e.console_ui import PHONE, launch, shot
from tests.e2e.platform import Platform, eventually
from tests.integration.notify_servers import Hook, write_county

pytestmark = pytest.mark.e2e

ALWAYS = {"xueyuan": {"shifts": [{"lead": "property_company", "people": ["罗小兵"]}], "secretary": "章文斌"}}


@pytest.fixture
def hook():
    h = Hook()
    yield h
    h.close()


@pytest.fixture
def red_platform(tmp_path, vhost, hook):
    county = write_county(tmp_path, notices={"xueyuan": {"channel": "wecom", "webhook_url": hook.url}}, on_call=ALWAYS)
    p = Platform(tmp_path, vhost, extra_env={"HALL_DIRECTORY": str(county)})
    p.env["HALL_PUBLIC_URL"] = p.url("console", "")  # the links in pages lead to this platform's console
    with p.running():
        yield p


def _entry_of(p: Platform, matter_id: str) -> dict | None:
    items = p.get("ledger", "/v1/entries", params={"community": "xueyuan", "level": "red"}).json()["items"]
    return next((e for e in items if e["matter_id"] == matter_id), None)


def test_a_red_report_has_an_owner_a_clock_and_a_page_before_any_session(red_platform, hook):
    p = red_platform
    # A grid worker enters a neighbour's call about a gas smell.
    r = p.post(
        "intake",
        "/v1/reports",
        {
            "community": "xueyuan",
            "text": "金泰和庄3号楼2单元楼道里煤气味很重，好像是哪家燃气管漏了",
            "channel": "counter",
        },
    )
    assert r.status_code == 201, r.text
    request_id = r.json()["report_id"]
    matter_id = eventually(
        lambda: p.get("intake", f"/v1/reports/{request_id}").json()["matter_id"], what="a matter for the report"
    )
    assert p.get("triage", f"/v1/matters/{matter_id}").json()["level"] == "red"

    # The ledger entry exists at once, assigned to the on-call unit, with a first-action deadline; no session yet.
    entry = eventually(lambda: _entry_of(p, matter_id), what="a red ledger entry at grading")
    assert entry["state"] == "assigned" and entry["lead_unit"] == "江西锦程物业服务有限公司"
    assert entry["first_action_due"] is not None

    # The person on call is paged on the community's group bot, with a link to acknowledge.
    page = eventually(lambda: hook.received and hook.received[0]["text"]["content"], what="a page on the webhook")
    assert "红色警报" in page and "江西锦程物业服务有限公司" in page
    link = re.search(r"(https?://\S+/m/ack/\S+)", page).group(1)

    # The state is visible to residents: Open311 status notes name the responsible unit (never a person).
    def open311_note():
        got = p.http.get(p.url("intake", f"/open311/v2/requests/{request_id}.json")).json()[0]
        return got if got.get("status_notes") and "锦程物业" in got["status_notes"] else None

    note = eventually(open311_note, what="Open311 status notes with the responsible unit")
    assert "罗小兵" not in note["status_notes"] and "1380000" not in note["status_notes"]

    # The county dashboard counts the open red matter.
    figures = p.get("ledger", "/v1/figures", params={"community": "xueyuan"}).json()
    assert figures["entries"] >= 1

    # The person paged opens the link on a phone (through the console) and acknowledges.
    with sync_playwright() as pw:
        browser = launch(pw)
        ctx = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
        phone = ctx.new_page()
        phone.goto(link)
        expect(phone.get_by_test_id("ack-status")).to_contain_text("待确认", timeout=15_000)
        expect(phone.locator("body")).to_contain_text("煤气味")
        shot(phone, "red-ack-open")
        phone.get_by_test_id("ack-button").click()
        expect(phone.get_by_test_id("ack-done")).to_be_visible(timeout=15_000)
        shot(phone, "red-ack-done")
        browser.close()

    detail = p.get("ledger", f"/v1/entries/{entry['id']}").json()
    assert detail["alert"]["status"] == "acknowledged" and detail["alert"]["acked_by"] == "罗小兵"
    assert [t["note"] for t in detail["timeline"] if t["action"] == "ack"] == ["已确认接警（通过通知链接）"]
    assert httpx.get(link.replace("/m/ack/", "/api/ledger/v1/acks/")).json()["status"] == "acknowledged"
