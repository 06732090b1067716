"""The halls in the console: 未诉先办 proposals made a topic, a matter moved between halls, the hall page, in words.

Staff open each page from outside, in the system Chromium, against the whole platform. 未诉先办 needs a year of
history that a test cannot wait for, so the meeting database is given three past months of one problem first (the
rows meeting itself keeps for every graded matter); everything after that goes through the pages and the services.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re

import pytest
from playwright.sync_api import expect, sync_playwright
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from services.meeting.models import QueuedMatter
from tests.e2e.console_ui import DESKTOP, launch, login, shot, until
from tests.e2e.test_console_walk import axe

pytestmark = pytest.mark.e2e

# What must never be read on a page: ids, event names, snake_case codes, the directory's codes.
RAW = re.compile(
    r"\b(mat|ses|hh|ent|rpt|rev|vote|dev|fs)[_-][A-Za-z0-9]+|\.v1\b|\b[a-z]+_[a-z_]+\b"
    r"|\b(jinshan|jinghuhuayuan|xueyuan|jintaihezhuang|recurring|seasonal|drainage|greening)\b"
)
GREENING = "景湖花园小区绿化带需要重新规划，多位业主建议增设休闲座椅"


def raw_codes(page) -> list[str]:
    text = page.evaluate("document.body.innerText")
    return sorted({m.group(0) for m in RAW.finditer(text)})


def seed_history(platform) -> None:
    """Drains of 景湖花园 2号楼 reported in three different recent months, long since deliberated."""
    now = dt.datetime.now(dt.UTC)

    async def run():
        engine = create_async_engine(platform.settings.database_url("meeting"))
        async with AsyncSession(engine) as s:
            for i, days in enumerate((35, 95, 155)):
                at = now - dt.timedelta(days=days)
                s.add(
                    QueuedMatter(
                        matter_id=f"mat_past_drain_{i}",
                        community="jinshan",
                        compound="jinghuhuayuan",
                        building="2",
                        category="drainage",
                        level="yellow",
                        route="deliberate",
                        title="景湖花园2号楼下水道堵塞",
                        queued_at=at,
                        updated_at=at,
                        state="resolved",
                    )
                )
            await s.commit()
        await engine.dispose()

    asyncio.run(run())


def test_staff_make_a_foreseen_problem_a_topic_and_move_a_matter_to_the_community_hall(platform):
    p = platform
    base = p.url("console", "")
    staff_h = p.headers("party_org", ("jinshan",))
    seed_history(p)
    r = p.http.post(
        p.url("intake", "/v1/reports"),
        json={"community": "jinshan", "channel": "counter", "text": GREENING},
        headers=staff_h,
    )
    assert r.status_code == 201, r.text

    with sync_playwright() as pw:
        browser = launch(pw)
        # CSP bypassed only to inject axe-core (test_console_hardening checks the policy itself).
        page = browser.new_context(viewport=DESKTOP, locale="zh-CN", bypass_csp=True).new_page()
        staff = page
        problems: list[str] = []
        try:
            login(page, base, role_label="社区党组织", community="金山社区", name="王书记")
            nav = page.locator("#side-nav")
            for label in ("未诉先办", "议事厅", "业主表决"):
                expect(nav.get_by_role("link", name=label, exact=True)).to_be_visible()

            # The hall: five parties, quorum and fixed days in words; 景湖花园 has its own meeting.
            nav.get_by_role("link", name="议事厅", exact=True).click()
            summary = page.locator("[data-testid=hall-summary]")
            expect(summary).to_contain_text("固定议事日")
            expect(summary).to_contain_text("社区党组织")  # the quorum's parties in words
            expect(page.locator("[data-testid=hall-parties]")).to_contain_text("业主委员会")
            compound = page.locator("[data-testid=compound-hall]", has_text="景湖花园")
            expect(compound).to_contain_text("景湖花园业主委员会活动室")
            expect(compound).to_contain_text("绿化")  # the categories it takes, in words
            page.wait_for_load_state("networkidle")
            assert not raw_codes(page), raw_codes(page)
            assert "138" not in page.locator("main").inner_text()  # no phone number on the page
            shot(page, "halls")
            problems += [f"halls: {v}" for v in axe(page)]

            # 未诉先办: look now, then make the drains of 2号楼 a topic.
            nav.get_by_role("link", name="未诉先办", exact=True).click()
            page.locator("[data-testid=foresight-run]").click()
            row = page.locator("[data-testid=foresight-table] tr", has_text="2号楼")
            expect(row).to_contain_text("排水", timeout=15_000)
            expect(row).to_contain_text("待研究")
            assert not raw_codes(page), raw_codes(page)
            shot(page, "foresight")
            row.get_by_role("button", name=re.compile("^列为议题")).click()
            box = page.locator(".el-message-box:visible")
            box.locator("input").fill("梅雨季前先行疏通")
            box.get_by_role("button", name="列为议题").click()
            expect(row).to_contain_text("已列为议题", timeout=15_000)
            row.get_by_role("button", name=re.compile("^详情")).click()
            detail = page.locator("[data-testid=foresight-detail]")
            expect(detail).to_contain_text("梅雨季前先行疏通")
            expect(detail).to_contain_text("社区党组织")  # who decided, by role: never an account id
            assert not raw_codes(page), raw_codes(page)
            shot(page, "foresight-accepted")
            problems += [f"foresight detail: {v}" for v in axe(page)]
            page.keyboard.press("Escape")

            # The service has it: a pinned topic in the queue, on its hall's next fixed day.
            (proposal,) = p.get("meeting", "/v1/foresight", params={"community": "jinshan"}).json()["items"]
            assert (proposal["status"], proposal["reason"]) == ("accepted", "梅雨季前先行疏通")
            topic = p.get("meeting", f"/v1/matters/{proposal['matter_id']}/tier")
            assert topic.status_code == 200 and topic.json()["session_id"], topic.text

            # The greening matter goes to 景湖花园's own meeting by the rule; staff move it to the community hall.
            nav.get_by_role("link", name="分级看板", exact=True).click()
            card = until(page, page.locator(".card", has_text="绿化带"), refresh="搜索")
            card.get_by_role("button", name=re.compile("^详情")).click()
            tier = page.locator("[data-testid=matter-tier]")
            expect(tier.locator("[data-testid=tier-hall]")).to_have_text("景湖花园小区议事会", timeout=15_000)
            expect(tier).to_contain_text("小事不出小区")  # the rule's reason, in words
            assert not raw_codes(page), raw_codes(page)
            problems += [f"matter tier: {v}" for v in axe(page)]
            tier.locator(".el-radio-button", has_text="交社区议事厅议事").click()
            tier.locator("#tier-reason").fill("涉及全社区绿化规划，需社区统筹")
            tier.locator("[data-testid=tier-submit]").click()
            expect(tier.locator("[data-testid=tier-hall]")).to_have_text("金山社区五方议事厅", timeout=15_000)
            changes = tier.locator("[data-testid=tier-changes]")
            expect(changes).to_contain_text("工作人员指定")
            expect(changes).to_contain_text("涉及全社区绿化规划，需社区统筹")
            expect(tier.locator(".el-radio-button", has_text="恢复按规则")).to_have_count(1)  # and back
            assert not raw_codes(page), raw_codes(page)
            shot(page, "matter-tier-moved")
            matters = p.get("triage", "/v1/matters", params={"community": "jinshan"}).json()["items"]
            (moved,) = [m for m in matters if "绿化带" in m["title"]]
            out = p.get("meeting", f"/v1/matters/{moved['id']}/tier").json()
            assert (out["tier"], out["override"], out["rule_tier"]) == ("community", "community", "compound")
            assert out["changes"][-1]["reason"] == "涉及全社区绿化规划，需社区统筹"
            page.keyboard.press("Escape")

            # The owners' votes page has its own address; the old one still leads there.
            page.goto(f"{base}/#/votes")
            expect(page).to_have_url(re.compile(r"#/owner-votes$"))
            expect(page.locator(".page-title")).to_have_text("业主表决")

            # English: the new pages in English words, still no code; the services' sentences in English too
            # (place names stay as the directory has them).
            page.get_by_role("button", name="English").click()
            page.goto(f"{base}/#/foresight")
            expect(page.locator(".page-title")).to_have_text("Before residents ask")
            table = page.locator("[data-testid=foresight-table]")
            expect(table).to_contain_text("Made a topic")
            expect(table).to_contain_text("Drainage at 景湖花园 Building 2: came back in 3 of the last 12 months")
            expect(table).not_to_contain_text("反复出现")  # the Chinese evidence is not shown
            assert not raw_codes(page), raw_codes(page)
            page.goto(f"{base}/#/halls")
            summary = page.locator("[data-testid=hall-summary]")
            expect(summary).to_contain_text("Party organisation")
            expect(summary).to_contain_text("the 15th of each month, 09:00")  # 每月15日 09:00 in words
            compound = page.locator("[data-testid=compound-hall]", has_text="景湖花园")
            expect(compound).to_contain_text("景湖花园 compound meeting")
            expect(compound).to_contain_text("the first Wednesday of each month, 19:30")
            expect(compound).to_contain_text("Grid worker")
            expect(page.locator("main")).not_to_contain_text("每月")
            assert not raw_codes(page), raw_codes(page)
            shot(page, "halls-en")
            # The matter's hall and the rule's reason in English.
            page.goto(f"{base}/#/triage")
            card = until(page, page.locator(".card", has_text="绿化带"), refresh="Search")
            card.get_by_role("button", name=re.compile("^Detail")).click()
            tier = page.locator("[data-testid=matter-tier]")
            expect(tier.locator("[data-testid=tier-hall]")).to_have_text("金山社区 five-party hall", timeout=15_000)
            expect(tier).to_contain_text("A matter within 景湖花园: small matters stay in the compound")
            expect(tier).not_to_contain_text("小事不出小区")
            assert not raw_codes(page), raw_codes(page)
            shot(page, "matter-tier-en")
            page.keyboard.press("Escape")

            # A grid worker reads the matter's hall but has no move (the services refuse it anyway).
            grid = browser.new_context(viewport=DESKTOP, locale="zh-CN").new_page()
            page = grid
            login(grid, base, role_label="网格员", community="金山社区", name="徐网格")
            grid.goto(f"{base}/#/triage")
            card = until(grid, grid.locator(".card", has_text="绿化带"), refresh="搜索")
            card.get_by_role("button", name=re.compile("^详情")).click()
            expect(grid.locator("[data-testid=tier-hall]")).to_have_text("金山社区五方议事厅", timeout=15_000)
            expect(grid.locator("[data-testid=tier-submit]")).to_have_count(0)
            grid.keyboard.press("Escape")
            grid.goto(f"{base}/#/foresight")
            expect(grid.locator("[data-testid=foresight-table]")).to_contain_text("已列为议题")
            expect(grid.locator("[data-testid=foresight-run]")).to_have_count(0)
            expect(grid.get_by_role("button", name=re.compile("^列为议题"))).to_have_count(0)

            # The grade's reasons in English, line for line: the rules' words, and a staff regrade naming the
            # person by name and role and the change in words (never an account id or a code).
            page = staff
            staff.bring_to_front()
            staff.goto(f"{base}/#/triage")
            card = until(staff, staff.locator(".card", has_text="绿化带"), refresh="Search")
            expect(card.get_by_label("Reasons")).to_contain_text("Category: Greenery (words found: “绿化带”)")
            card.get_by_role("button", name=re.compile("^Regrade")).click()
            dialog = staff.locator(".el-dialog:visible")
            dialog.get_by_text("Green", exact=True).click()
            staff.fill("#regrade-reason", "只是增设座椅的建议")
            staff.locator("[data-testid=regrade-submit]").click()
            card = staff.locator("[data-testid=col-green] .card", has_text="绿化带")
            expect(card).to_be_visible(timeout=30_000)
            card.get_by_role("button", name=re.compile("^Detail")).click()
            reasons = staff.locator(".el-drawer:visible [data-testid=reasons]")
            expect(reasons).to_contain_text(
                "Staff regrade (王书记 (Party organisation)): Level Yellow→Green; reason: 只是增设座椅的建议",
                timeout=15_000,
            )
            expect(reasons).to_contain_text("Category: Greenery (words found: “绿化带”)")
            expect(reasons).to_contain_text("(superseded by a staff regrade)")
            for chinese in ("人工改判", "类别：", "等级："):
                expect(reasons).not_to_contain_text(chinese)
            assert not raw_codes(staff), raw_codes(staff)
            shot(staff, "matter-reasons-en")
            problems += [f"matter reasons (English): {v}" for v in axe(staff)]
            staff.keyboard.press("Escape")
            assert not problems, "\n".join(problems)  # axe-core: nothing serious or critical
        except Exception:
            shot(page, "zz-halls-failure")
            raise
        finally:
            browser.close()
