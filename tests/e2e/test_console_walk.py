"""Every console page, as every role, on a desktop and on a 390 px phone: axe-core finds nothing serious, the
keyboard reaches the menu and the pickers, and no page is wider than the phone. Screenshots: results/console/walk/.

axe-core 4.11.1 (MPL-2.0, Deque Systems) is vendored as tests/e2e/axe.min.js and injected into each page;
the pages' own CSP allows only their bundles, so these contexts bypass it (test_console_hardening checks it).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.e2e.console_ui import SHOTS, launch, login, van_pick

pytestmark = pytest.mark.e2e

AXE = (Path(__file__).with_name("axe.min.js")).read_text(encoding="utf-8")
WALK = SHOTS / "walk"
SIZES = {"desktop": {"width": 1366, "height": 860}, "phone": {"width": 390, "height": 844}}
ROLES = {  # role label on the dev login page, community (None: the whole county), name
    "county": ("县级管理员", None, "赵主任"),
    "community": ("社区党组织", "学苑社区", "王书记"),
    "grid": ("网格员", "学苑社区", "李网格"),
}
RESIDENT_PAGES = ("", "report", "track")
SERIOUS = ("serious", "critical")
# Dialogs and drawers opened from a page's rows: (route, button name prefix, what it is called in the report).
OPENED = (
    ("inbox", "详情：", "inbox-detail"),
    ("triage", "详情：", "triage-detail"),
    ("triage", "改判：", "triage-regrade"),
    ("triage", "合并：", "triage-merge"),
    ("triage", "拆分：", "triage-split"),
    ("visits", "详情：", "visits-detail"),
)
MUST_OPEN = {"inbox-detail", "triage-detail", "triage-regrade", "triage-merge", "visits-detail"}


def axe(page: Page) -> list[str]:
    """Serious and critical axe-core violations of the page as it is now (WCAG 2.1 A and AA rules)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE)
    found = page.evaluate(
        """async (tags) => {
            const r = await axe.run(document, { runOnly: { type: 'tag', values: tags } })
            const why = (n) => (n.failureSummary || '').split('\\n').slice(0, 2).join(' ')
            const where = (n) => n.target.join(' ') + ' :: ' + why(n)
            return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map(where) }))
        }""",
        ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"],
    )
    return [f"{v['id']} ({v['impact']}): {v['nodes']}" for v in found if v["impact"] in SERIOUS]


def not_wider_than_the_screen(page: Page) -> None:
    """Nothing pushes the page sideways (tables scroll inside their own box)."""
    over = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
    assert over <= 1, f"{page.url}: page is {over}px wider than the screen"


def settle(page: Page) -> None:
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(600)  # charts and transitions finish drawing


def menu_reached_by_tab(page: Page, phone: bool) -> None:
    """From the top of the page, Tab reaches the side menu (on a phone: after opening it with the keyboard)."""
    page.locator("body").focus()
    page.evaluate("document.activeElement && document.activeElement.blur()")
    if phone:
        toggle = page.locator(".nav-toggle")
        for _ in range(3):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement?.classList.contains('nav-toggle')"):
                break
        expect(toggle).to_be_focused()
        page.keyboard.press("Enter")
        expect(toggle).to_have_attribute("aria-expanded", "true")
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("!!document.activeElement?.closest('#side-nav')"):
            break
    assert page.evaluate("!!document.activeElement?.closest('#side-nav a')"), "Tab never reached the menu"
    if phone:
        page.keyboard.press("Escape")


def walk_opened(page: Page, base: str, tag: str, problems: list[str], opened: set[str]) -> None:
    """A row's detail drawer and dialogs (regrade, merge, split) as this role sees them: nothing serious for axe."""
    for route, prefix, name in OPENED:
        page.goto(f"{base}/#/{route}")
        settle(page)
        if route == "triage":  # the residents' reports of the walk are graded by now, or soon (live reload)
            expect(page.locator(".card").first).to_be_visible(timeout=30_000)
        buttons = page.get_by_role("button", name=re.compile(f"^{prefix}"))
        if not buttons.count():
            continue  # this role may not do it (the menu and the services agree)
        buttons.first.click()
        dialog = page.get_by_role("dialog").last
        expect(dialog).to_be_visible()
        settle(page)
        page.screenshot(path=str(WALK / f"{tag}-{name}.png"), full_page=True)
        problems += [f"{tag}/{name}: {v}" for v in axe(page)]
        opened.add(name)
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()


def walk_staff(browser, base: str, role: str, size: str, problems: list[str], opened: set[str]) -> None:
    label, community, name = ROLES[role]
    ctx = browser.new_context(viewport=SIZES[size], locale="zh-CN", bypass_csp=True, is_mobile=size == "phone")
    page = ctx.new_page()
    try:
        login(page, base, role_label=label, community=community, name=name)
        settle(page)
        menu_reached_by_tab(page, size == "phone")
        links = page.locator("#side-nav a")
        routes = [links.nth(i).get_attribute("href") for i in range(links.count())]
        assert len(routes) >= 5, routes
        for href in routes:
            page.goto(f"{base}/{href}")
            settle(page)
            slug = href.strip("#/")
            page.screenshot(path=str(WALK / f"{role}-{size}-{slug}.png"), full_page=True)
            problems += [f"{role}/{size}/{slug}: {v}" for v in axe(page)]
            if size == "phone":
                not_wider_than_the_screen(page)
        walk_opened(page, base, f"{role}-{size}", problems, opened)
    finally:
        ctx.close()


def walk_resident(browser, base: str, size: str, problems: list[str]) -> None:
    ctx = browser.new_context(viewport=SIZES[size], locale="zh-CN", bypass_csp=True, is_mobile=size == "phone")
    page = ctx.new_page()
    try:
        for route in RESIDENT_PAGES:
            page.goto(f"{base}/m#/{route}")
            settle(page)
            page.screenshot(path=str(WALK / f"resident-{size}-{route or 'home'}.png"), full_page=True)
            problems += [f"resident/{size}/{route or 'home'}: {v}" for v in axe(page)]
            not_wider_than_the_screen(page)
        # The pickers open and choose with the keyboard alone.
        page.goto(f"{base}/m#/report")
        settle(page)
        picker = page.locator("#r-community")
        page.locator("body").focus()
        for _ in range(10):  # Tab from the top of the page reaches the picker, and it keeps the focus
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement?.id === 'r-community'"):
                break
        expect(picker).to_be_focused()
        page.keyboard.press("Enter")
        sheet = page.locator(".van-action-sheet:visible")
        expect(sheet).to_be_visible()
        problems += [f"resident/{size}/picker: {v}" for v in axe(page)]
        option = sheet.locator(".van-action-sheet__item", has_text="学苑社区")
        option.focus()
        page.keyboard.press("Enter")
        expect(picker).to_have_text("学苑社区")
        expect(picker).to_be_focused()  # the keyboard carries on from the picker
        van_pick(page, "r-compound", "金泰和庄")
        page.fill("#r-text", "金泰和庄1号楼门口路灯不亮")
        page.get_by_role("button", name="提交").click()
        expect(page.locator("[data-testid=tracking-code]")).to_have_text(re.compile(r"^[A-Z0-9]{8}$"), timeout=15_000)
        page.screenshot(path=str(WALK / f"resident-{size}-code.png"), full_page=True)
        problems += [f"resident/{size}/code: {v}" for v in axe(page)]
        code = page.locator("[data-testid=tracking-code]").inner_text()
        page.goto(f"{base}/m#/track/{code}")
        expect(page.locator("[data-testid=track-steps] li")).to_have_count(6, timeout=15_000)
        settle(page)
        page.screenshot(path=str(WALK / f"resident-{size}-track-code.png"), full_page=True)
        problems += [f"resident/{size}/track-code: {v}" for v in axe(page)]
        not_wider_than_the_screen(page)
    finally:
        ctx.close()


# Dozens of pages x 3 roles x 2 sizes with axe: 4 min alone, longer while the other tiers run beside (make test).
@pytest.mark.timeout(1200)
def test_every_page_as_every_role_passes_axe_and_fits_a_phone(platform):
    base = platform.url("console", "")
    WALK.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    opened: set[str] = set()
    month = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m")  # a Beijing month's campaign
    r = platform.http.post(
        platform.url("intake", "/v1/visit-campaigns"),
        json={"community": "xueyuan", "name": "敲响邻里门", "month": month},
        headers=platform.headers("party_org", ("xueyuan",)),
    )
    assert r.status_code == 201, r.text
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            for size in SIZES:
                walk_resident(browser, base, size, problems)  # first: the staff pages then have a matter to show
            for role in ROLES:
                for size in SIZES:
                    walk_staff(browser, base, role, size, problems, opened)
        finally:
            browser.close()
    assert not problems, "\n".join(problems)
    assert MUST_OPEN <= opened, f"never opened: {MUST_OPEN - opened}"
