"""The staff work pages in a browser: every list searches, pages, exports and opens a detail; no code is shown."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect, sync_playwright

from tests.e2e.console_ui import DESKTOP, el_select, launch, login, shot, until
from tests.e2e.platform import eventually

pytestmark = pytest.mark.e2e

# What must never be read on a page: ids, event names, snake_case codes, the directory's codes.
RAW = re.compile(
    r"\b(mat|ses|hh|ent|rpt|rev|vote|dev)[_-][A-Za-z0-9]+|\.v1\b|\b[a-z]+_[a-z_]+\b"
    r"|\b(xueyuan|jinshan|jintaihezhuang|miniprogram|opinion_box|hotline|overdue|scheduled|in_progress)\b"
)
PAGES = ["inbox", "triage", "review", "sessions", "ledger", "revisits", "visits", "entry", "votes"]
TEXTS = [
    "学苑社区金泰和庄5号楼二单元楼道灯坏了",
    "金泰和庄8号楼门口下水道堵了，污水外溢",
    "金泰和庄3号楼家里好像有一点煤气味",
]


def raw_codes(page) -> list[str]:
    """Codes in the page's visible text (the open drawer and dialogs included)."""
    text = page.evaluate("document.body.innerText")
    return sorted({m.group(0) for m in RAW.finditer(text)})


def _fixed_and_evaluated(p, staff: dict) -> str:
    """The lamp's ledger entry started and completed, then one household's voice recorded; the revisit's measures."""
    lamp = p.http.get(p.url("triage", "/v1/matters"), params={"q": "楼道灯"}, headers=staff).json()["items"][0]

    def entry():
        items = p.http.get(p.url("ledger", "/v1/entries"), params={"community": "xueyuan"}, headers=staff).json()
        return next((e for e in items["items"] if e["matter_id"] == lamp["id"] and e["state"] == "assigned"), None)

    ent = eventually(entry, what="the lamp's ledger entry")
    for action, body in (("start", {}), ("complete", {"note": "更换楼道声控灯"})):
        r = p.http.post(p.url("ledger", f"/v1/entries/{ent['id']}/actions/{action}"), json=body, headers=staff)
        assert r.status_code == 200, r.text

    def revisit():
        rows = p.http.get(p.url("feedback", "/v1/revisits"), headers=staff).json()["items"]
        return next((r for r in rows if r["matter_id"] == lamp["id"]), None)

    method = eventually(revisit, what="the lamp's revisit")["methods"][0]
    voice = {"household": "金泰和庄5-2-301", "rating": "satisfied", "solved": "solved", "method": method}
    if method == "home_visit":
        voice["evidence"] = {"signature": "sig/5-2-301.png"}
    r = p.http.post(p.url("feedback", f"/v1/matters/{lamp['id']}/evaluations"), headers=staff, json=voice)
    assert r.status_code == 201, r.text
    return "更换楼道声控灯"


def test_work_pages_speak_in_words(platform):
    p = platform
    base = p.url("console", "")
    staff_h = p.headers("party_org", ("xueyuan",))
    for text in TEXTS:
        r = p.http.post(
            p.url("intake", "/v1/reports"),
            json={"community": "xueyuan", "channel": "counter", "text": text},
            headers=staff_h,
        )
        assert r.status_code == 201, r.text

    with sync_playwright() as pw:
        browser = launch(pw)
        context = browser.new_context(viewport=DESKTOP, locale="zh-CN", accept_downloads=True)
        page = context.new_page()
        try:
            login(page, base, role_label="社区党组织", community="学苑社区", name="王书记")
            # The board fills from the services; wait for both matters before walking.
            page.goto(f"{base}/#/triage")
            until(page, page.locator(".card", has_text="下水道"), refresh="搜索")
            for name in PAGES:
                page.goto(f"{base}/#/{name}")
                page.locator(".page-title").wait_for()
                page.wait_for_load_state("networkidle")
                # The page's own trail (a detail drawer, rendered once opened, keeps its own further down).
                expect(page.locator(".el-breadcrumb").first).to_be_visible()
                assert not raw_codes(page), (name, raw_codes(page))
                shot(page, f"work-{name}")
                detail = page.get_by_role("button", name=re.compile("^详情")).first
                if detail.count() and detail.is_visible():
                    detail.click()
                    drawer = page.locator(".el-drawer:visible")
                    expect(drawer).to_be_visible()
                    expect(drawer.locator(".el-breadcrumb")).to_be_visible()
                    page.wait_for_load_state("networkidle")
                    assert not raw_codes(page), (f"{name} detail", raw_codes(page))
                    shot(page, f"work-{name}-detail")
                    page.keyboard.press("Escape")
                    expect(drawer).to_have_count(0)

            # The review queue confirms a flagged grade unchanged (复核确认), after a prompt.
            page.goto(f"{base}/#/review")
            flagged = until(page, page.locator("[data-testid=review-table] tr", has_text="煤气"), refresh="搜索")
            flagged.get_by_role("button", name=re.compile("^确认原分级")).click()
            box = page.locator(".el-message-box:visible")
            box.locator("input").fill("已上门核实，维持原分级")
            box.locator(".el-button--primary").click()
            expect(page.locator("[data-testid=review-table] tr", has_text="煤气")).to_have_count(0, timeout=15_000)

            # Search by keyword, server side: only the drain report is left, and the pager says so.
            page.goto(f"{base}/#/inbox")
            page.fill("#inbox-q", "下水道")
            page.locator("[data-testid=inbox-search]").click()
            rows = page.locator("[data-testid=inbox-table] .el-table__body tr")
            expect(rows).to_have_count(1)
            expect(rows.first).to_contain_text("下水道")
            expect(page.locator(".el-pagination__total")).to_contain_text("1")
            el_select(page, "inbox-channel", "服务窗口")
            page.locator("[data-testid=inbox-search]").click()
            expect(rows).to_have_count(1)

            # Export: the same filter, an XLSX file in words.
            with page.expect_download() as info:
                page.locator("[data-testid=inbox-export]").click()
            sheet = load_workbook(io.BytesIO(open(info.value.path(), "rb").read())).active
            data = [list(r) for r in sheet.iter_rows(values_only=True)]
            assert data[0][0] == "查询码" and len(data) == 2 and "下水道" in data[1][5] and data[1][3] == "服务窗口"
            assert not RAW.search(" ".join(str(v) for row in data for v in row if v is not None))

            # An opinion-box note entered by staff lands in the inbox, in words.
            page.goto(f"{base}/#/entry")
            el_select(page, "community-select", "学苑社区") if page.locator("#community-select").count() else None
            page.get_by_text("意见箱", exact=True).first.click()
            page.fill("#box-box", "金泰和庄东门意见箱")
            page.locator("#box-at").fill("2026-12-01 09:00:00")
            page.locator("#box-at").press("Enter")
            page.fill("#box-text", "建议在金泰和庄东门增设非机动车充电桩")
            page.locator("[data-testid=box-submit]").click()
            expect(page.locator("[data-testid=entry-done]")).to_contain_text("查询码", timeout=15_000)
            page.goto(f"{base}/#/inbox")
            row = until(page, page.locator("[data-testid=inbox-table] tr", has_text="充电桩"), refresh="搜索")
            expect(row).to_contain_text("意见箱")

            # Errors name the field in words, never by its path.
            page.goto(f"{base}/#/entry")
            page.get_by_text("12345工单", exact=True).click()
            page.fill("#hl-no", "GD2026120100001")
            page.locator("#hl-at").fill("2099-12-01 09:00:00")
            page.locator("#hl-at").press("Enter")
            page.fill("#hl-content", "来电反映学苑路路灯不亮")
            page.fill("#hl-phone", "123")
            page.locator("[data-testid=hotline-submit]").click()
            error = page.locator(".el-message--error")
            expect(error).to_be_visible(timeout=15_000)
            assert not re.search(r"[a-z_]+\.|\[\d+\]|contact_phone|called_at", error.inner_text()), error.inner_text()
            shot(page, "work-entry-error")

            # The lamp is fixed and one household answers the revisit (through the services), so the Revisits page
            # has a round with the feedback service's reasons to read in English below.
            lamp = _fixed_and_evaluated(p, staff_h)

            # English: the same pages, still no code.
            page.get_by_role("button", name="English").click()
            # Service-written sentences in English too: the grading history (the confirmation, with the staff's
            # note as typed) in the matter drawer, and the revisit round's reasons.
            page.goto(f"{base}/#/triage")
            card = until(page, page.locator(".card", has_text="煤气"), refresh="Search")
            card.get_by_role("button", name=re.compile("^Detail")).click()
            history = page.locator(".el-drawer:visible [data-testid=timeline]")
            expect(history).to_contain_text("Grade confirmed as it was: 已上门核实，维持原分级", timeout=15_000)
            expect(history).not_to_contain_text("确认原分级")
            assert not raw_codes(page), raw_codes(page)
            shot(page, "work-history-en")
            page.keyboard.press("Escape")
            page.goto(f"{base}/#/revisits")
            row = until(page, page.locator("[data-testid=revisits-table] tr", has_text=lamp), refresh="Search")
            row.get_by_role("button", name=re.compile("^Detail")).click()
            reasons = page.locator(".el-drawer:visible [data-testid=round-reasons]")
            expect(reasons).to_contain_text(re.compile(r"evaluated so far|meets the 80% required"), timeout=15_000)
            assert not re.search(r"[\u4e00-\u9fff]", reasons.inner_text()), reasons.inner_text()
            assert not raw_codes(page), raw_codes(page)
            shot(page, "work-revisit-en")
            page.keyboard.press("Escape")
            # The revisit's measures: the ledger's fixed measures in words, the completion note as typed.
            expect(row).to_contain_text("Handled directly by the unit responsible")
            # The ledger drawer's timeline: the ledger's own sentences in English, staff notes as they typed them.
            page.goto(f"{base}/#/ledger")
            row = until(page, page.locator("[data-testid=ledger-table] tr", has_text="楼道灯"), refresh="Search")
            row.get_by_role("button", name=re.compile("^Detail")).click()
            timeline = page.locator(".el-drawer:visible [data-testid=timeline]")
            expect(timeline).to_contain_text("Entered in the ledger", timeout=15_000)
            expect(timeline).to_contain_text("Assigned at once by category")
            expect(timeline).to_contain_text("Claimed and started")
            expect(timeline).to_contain_text(lamp)  # the completion note, as typed
            for zh in ("登记入账", "按类别直接交办", "认领并开始办理"):
                expect(timeline).not_to_contain_text(zh)
            drawer = page.locator(".el-drawer:visible")
            expect(drawer).to_contain_text("Handled directly by the unit responsible")
            # Outside quotes (units, people's words) and the staff's own note, no Chinese in the notes.
            texts = timeline.locator(".note").all_inner_texts()
            assert len(texts) >= 5, texts
            for text in texts:
                bare = re.sub(r"“[^”]*”", "", text).replace(lamp, "")
                assert not re.search(r"[\u4e00-\u9fff]", bare), text
            assert not raw_codes(page), raw_codes(page)
            shot(page, "work-ledger-en")
            page.keyboard.press("Escape")
            for name in ("ledger", "sessions", "inbox"):
                page.goto(f"{base}/#/{name}")
                page.locator(".page-title").wait_for()
                page.wait_for_load_state("networkidle")
                text = page.evaluate("document.body.innerText")
                assert not re.search(r"\b(mat|ses|hh)_|\.v1\b|xueyuan|jintaihezhuang", text), name
            # A grid worker's pages speak in words too.
            grid = browser.new_context(viewport=DESKTOP, locale="zh-CN").new_page()
            page = grid
            login(grid, base, role_label="网格员", community="学苑社区", name="李网格")
            for name in ("inbox", "triage", "review", "sessions", "ledger", "revisits", "visits", "entry", "votes"):
                grid.goto(f"{base}/#/{name}")
                grid.locator(".page-title").wait_for()
                grid.wait_for_load_state("networkidle")
                assert not raw_codes(grid), (f"grid {name}", raw_codes(grid))
            shot(grid, "work-grid-ledger")
        except Exception:
            shot(page, "zz-work-failure")
            raise
        finally:
            browser.close()
