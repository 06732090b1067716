"""The console in a real browser against the running platform: residents report, staff act, the county sees it."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.e2e.console_ui import DESKTOP, PHONE, PHOTO_JPEG, el_select, launch, login, shot, until, van_pick

pytestmark = pytest.mark.e2e

RED_TEXT = "金泰和庄3号楼地下室配电箱冒烟，有焦糊味，电线裸露"
LIGHT_TEXT = "金泰和庄1号楼楼道灯坏了好几天，晚上很黑"
DEADLINE = (dt.datetime.now(dt.UTC) + dt.timedelta(days=14)).strftime("%Y-%m-%d")


def _resident_report(browser, base: str, text: str, building: str, name: str, *, callback: bool = False) -> str:
    """Report as a resident on a phone-sized page; return the tracking code shown."""
    ctx = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = ctx.new_page()
    page.goto(f"{base}/m#/report")
    van_pick(page, "r-community", "学苑社区")
    van_pick(page, "r-compound", "金泰和庄")
    van_pick(page, "r-building", building)
    page.fill("#r-text", text)
    uploader = page.locator("[data-testid=photo-uploader]")
    uploader.locator("input[type=file]").set_input_files(
        {"name": "IMG_20261130_0931.jpg", "mimeType": "image/jpeg", "buffer": PHOTO_JPEG}
    )
    expect(uploader.locator(".van-uploader__preview")).to_have_count(1)
    expect(uploader.locator(".van-uploader__mask")).to_have_count(0, timeout=15_000)  # uploaded, not failed
    page.fill("#r-name", name)
    page.fill("#r-phone", "13800001234")
    page.get_by_role("checkbox", name="同意社区就此事联系我").click()
    callback_box = page.get_by_role("checkbox", name="同意社区工作人员回电联系我")
    expect(callback_box).not_to_be_checked()  # unticked unless the resident ticks it
    if callback:
        callback_box.click()
    shot(page, f"resident-report-b{building.removesuffix('号楼')}")
    page.get_by_role("button", name="提交").click()
    code = page.locator("[data-testid=tracking-code]")
    expect(code).to_have_text(re.compile(r"^[A-Z0-9]{8}$"), timeout=15_000)
    shot(page, f"resident-code-b{building.removesuffix('号楼')}")
    value = code.inner_text()
    ctx.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_test_id("copy-code").click()
    expect(page.locator("[data-testid=report-done] [role=status]")).to_have_text("已复制")
    assert page.evaluate("navigator.clipboard.readText()") == value
    page.goto(f"{base}/m#/track")  # this phone remembers the codes it sent
    expect(page.locator("[data-testid=my-codes]")).to_contain_text(value)
    ctx.close()
    return value


def _answer_link(browser, url: str) -> None:
    """Open a one-time questionnaire link on a phone and answer it: satisfied, solved."""
    ctx = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = ctx.new_page()
    page.goto(url)
    try:
        page.locator(".van-radio", has_text=re.compile("^满意$")).click(timeout=15_000)
    except Exception:
        shot(page, "zz-failure-questionnaire")
        raise
    page.locator(".van-radio", has_text="已解决").click()
    page.fill("#q-comment", "灯亮了，谢谢")
    shot(page, "resident-questionnaire")
    page.get_by_role("button", name="提交").click()
    expect(page.locator("[data-testid=q-thanks]")).to_contain_text("感谢", timeout=15_000)
    shot(page, "resident-questionnaire-done")
    page.reload()  # a link works once
    expect(page.get_by_role("alert")).to_contain_text("已使用", timeout=15_000)
    ctx.close()


def _open_entry(page, base: str, text: str):
    """Open a ledger entry's drawer by a word of its title; return the drawer."""
    page.goto(f"{base}/#/ledger")
    row = until(page, page.locator("[data-testid=ledger-table] tr", has_text=text), refresh="搜索")
    row.get_by_role("button", name="详情").click()
    drawer = page.locator(".el-drawer:visible")
    expect(drawer.get_by_role("heading", name=re.compile(text))).to_be_visible()
    return drawer


def _act(page, drawer, action: str, note: str) -> None:
    """Take a ledger action with a note and wait for the note on the timeline."""
    page.fill("#entry-note", note)
    drawer.locator(f"[data-action={action}]").click()
    if action in ("complete", "close"):  # irreversible: the page asks first
        box = page.locator(".el-message-box:visible")
        expect(box).to_contain_text("不能撤回")
        box.locator(".el-button--primary").click()
    done = drawer.get_by_text(note).or_(page.locator(".el-message--error"))
    expect(done.first).to_be_visible(timeout=15_000)
    assert not page.locator(".el-message--error").count(), page.locator(".el-message--error").all_inner_texts()


def _kpi(page, key: str) -> str:
    return page.locator(f"[data-kpi={key}] .v").inner_text()


def _staff_and_residents(browser, staff, base: str) -> None:
    """The staff journey, with residents reporting and answering on phones along the way."""
    staff.goto(f"{base}/")
    staff.locator("#login-role").wait_for()
    assert staff.locator("html").get_attribute("lang") == "zh-CN"
    shot(staff, "01-login")
    login(staff, base, role_label="社区党组织", community="学苑社区", name="王书记")

    staff.goto(f"{base}/#/dashboard")
    expect(staff.locator("[data-kpi=entries] .v")).to_have_text("0")
    assert _kpi(staff, "satisfaction_rate") == "暂无数据"  # nothing rated yet: no figure, never 0 %
    shot(staff, "02-dashboard-before")

    # The triage board is open before anything is reported: cards must arrive by live events alone.
    staff.goto(f"{base}/#/triage")
    expect(staff.get_by_text("实时 ●")).to_be_visible(timeout=15_000)
    red_code = _resident_report(browser, base, RED_TEXT, "3号楼", "王小明", callback=True)
    light_code = _resident_report(browser, base, LIGHT_TEXT, "1号楼", "李阿姨")
    red_card = staff.locator("[data-testid=col-red] .card", has_text="配电箱")
    expect(red_card).to_be_visible(timeout=60_000)
    expect(red_card.locator("li").first).to_be_visible()  # the grading reasons are shown
    light_card = staff.locator(".card", has_text="楼道灯")
    expect(light_card).to_be_visible(timeout=60_000)
    shot(staff, "03-triage-board")

    # Regrade the lighting matter to green with a reason; it moves column.
    light_card.get_by_role("button", name="改判").click()
    dialog = staff.locator(".el-dialog:visible")
    dialog.get_by_text("绿", exact=True).click()
    dialog.get_by_text("直接办理", exact=True).click()
    staff.fill("#regrade-reason", "只涉及一个单元的照明，物业当日可修")
    shot(staff, "04-regrade-dialog")
    staff.locator("[data-testid=regrade-submit]").click()
    expect(staff.locator("[data-testid=col-green] .card", has_text="楼道灯")).to_be_visible(timeout=30_000)

    staff.goto(f"{base}/#/inbox")
    expect(staff.locator("[data-testid=inbox-table]").get_by_text(red_code)).to_be_visible(timeout=30_000)
    assert "13800001234" not in staff.content()  # staff lists show masked contacts only
    shot(staff, "05-inbox")
    # The resident's photo, shown to staff only: fetched with the staff token, drawn from an object URL.
    report_row = staff.locator("[data-testid=inbox-table] tr", has_text=red_code)
    report_row.get_by_role("button", name=re.compile("^详情")).click()
    thumb = staff.locator("[data-testid=report-photos] img").first
    expect(thumb).to_be_visible(timeout=15_000)
    staff.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
    assert thumb.evaluate("(img) => img.src.startsWith('blob:')")
    shot(staff, "05a-report-photos")
    staff.keyboard.press("Escape")
    expect(staff.locator(".el-drawer:visible")).to_have_count(0)
    # 回电: only the consenting reporter can be called back; the number is shown for this call, then hidden.
    table = staff.locator("[data-testid=inbox-table]")
    expect(table.locator("tr", has_text=light_code).get_by_role("button", name="回电")).to_have_count(0)
    table.locator("tr", has_text=red_code).get_by_role("button", name="回电").click()
    dialog = staff.locator(".el-dialog:visible")
    expect(dialog.get_by_role("button", name="回电")).to_be_disabled()  # no reason is chosen in advance
    el_select(staff, "callback-reason", "回访")
    dialog.get_by_role("button", name="回电").click()
    expect(dialog.locator("[data-testid=revealed]")).to_contain_text("13800001234", timeout=15_000)
    shot(staff, "05b-callback")
    dialog.get_by_role("button", name="取消").click()
    expect(staff.locator("[data-testid=revealed]")).to_have_count(0)

    # The red matter got an emergency session: record attendance and the resolution, conclude.
    staff.goto(f"{base}/#/sessions")
    row = until(staff, staff.locator("[data-testid=sessions-table] tr", has_text="紧急议事"), refresh="搜索")
    row.get_by_role("button", name=re.compile("^详情")).click()
    drawer = staff.locator(".el-drawer:visible")
    boxes = drawer.locator(".party .el-checkbox")
    expect(boxes.first).to_be_visible()
    assert drawer.locator(".party .el-checkbox.is-checked").count() == 0  # nobody is ticked present in advance
    for i in range(boxes.count()):
        boxes.nth(i).click()
    el_select(staff, "out-0", "议定办理")
    staff.fill("#measures-0", "物业当日断电检修，更换配电箱及裸露线路")
    el_select(staff, "party-0", "物业服务企业")
    el_select(staff, "unit-0", "江西锦程物业服务有限公司")
    staff.locator("#deadline-0").fill(DEADLINE)
    staff.locator("#deadline-0").press("Enter")
    staff.fill("#session-notes", "五方到场，一致同意物业立即整改，社区党委督办。")
    shot(staff, "06-session-conclude")
    staff.locator("[data-testid=conclude]").click()
    box = staff.locator(".el-message-box:visible")
    expect(box).to_contain_text("不能撤回")
    box.locator(".el-button--primary").click()
    expect(staff.locator(".el-message", has_text="已结束")).to_be_visible(timeout=15_000)
    # The concluded session shows its decision: measures, lead unit, deadline.
    decision = drawer.locator("[data-testid=decision]")
    expect(decision).to_contain_text("物业当日断电检修", timeout=15_000)
    expect(decision).to_contain_text("江西锦程物业服务有限公司")

    # The ledger entry: start, report progress, complete.
    drawer = _open_entry(staff, base, "配电箱")
    drawer.locator("[data-action=start]").click()
    expect(drawer.locator("[data-action=progress]")).to_be_visible(timeout=15_000)
    _act(staff, drawer, "progress", "已断电，配电箱拆除，新线路施工中")
    _act(staff, drawer, "complete", "线路已更换，通电正常，现场已清理")
    shot(staff, "07-ledger-entry")

    # A revisit is planned for the completed matter: record a satisfied home visit with its evidence.
    staff.goto(f"{base}/#/revisits")
    red_row = until(staff, staff.locator("[data-testid=revisits-table] tr", has_text="红"), refresh="搜索")
    red_row.get_by_role("button", name="录入评价").click()
    dialog = staff.locator(".el-dialog:visible")
    assert dialog.locator(".el-radio-button.is-active").count() == 0  # no answer is chosen in advance
    staff.fill("#ev-household", "金泰和庄3-1-101")
    dialog.get_by_text("满意", exact=True).click()
    dialog.get_by_text("已解决", exact=True).click()
    if not dialog.locator("#ev-photo").count():
        el_select(staff, "ev-method", "上门回访")
    staff.fill("#ev-photo", "https://files.example/visits/jth-3-1-101.jpg")
    staff.fill("#ev-comment", "修得很快，谢谢物业")
    shot(staff, "08-evaluation")
    staff.locator("[data-testid=evaluation-submit]").click()
    expect(staff.locator(".el-message", has_text="已保存")).to_be_visible(timeout=15_000)

    # The lighting matter (a direct entry) is fixed; the household answers through a one-time link.
    drawer = _open_entry(staff, base, "楼道灯")
    # Claim (accept), then start: the buttons follow the entry's available actions; complete comes only then.
    drawer.locator("[data-action=claim]").click()
    expect(drawer.locator("[data-action=claim]")).to_have_count(0, timeout=15_000)
    expect(drawer.locator("[data-action=complete]")).to_have_count(0)
    drawer.locator("[data-action=start]").click()
    expect(drawer.locator("[data-action=complete]")).to_be_visible(timeout=15_000)
    _act(staff, drawer, "complete", "已更换楼道声控灯")
    staff.goto(f"{base}/#/revisits")
    green_row = until(staff, staff.locator("[data-testid=revisits-table] tr", has_text="绿"), refresh="搜索")
    green_row.get_by_role("button", name="问卷链接").click()
    staff.fill("#links-households", "金泰和庄1-1-101")
    staff.locator("[data-testid=links-submit]").click()
    link = staff.locator("[data-testid=links-table] a").first
    expect(link).to_be_visible(timeout=15_000)
    shot(staff, "09-questionnaire-link")
    _answer_link(browser, link.get_attribute("href"))

    # The month's disclosure (一月一公示) is published and previewed, ready to print.
    staff.goto(f"{base}/#/disclosures")
    staff.locator("[data-testid=publish]").click()
    box = staff.locator(".el-message-box:visible")
    expect(box).to_contain_text("不能撤回")  # publishing is irreversible: the page asks first
    box.locator(".el-button--primary").click()
    frame = staff.frame_locator("[data-testid=disclosure-frame]")
    expect(frame.get_by_text("配电箱").first).to_be_visible(timeout=15_000)
    shot(staff, "10-disclosure")

    # Door-knocking (敲响邻里门): the month's campaign over 学苑社区's grid, and its coverage building by building.
    staff.goto(f"{base}/#/visits")
    staff.locator("[data-testid=new-campaign]").click()
    coverage = staff.locator("[data-testid=coverage-table]").first
    expect(coverage.get_by_text("金泰和庄12号楼")).to_be_visible(timeout=15_000)
    shot(staff, "10b-visits")

    # The dashboard changed: entries exist, the completed one was rated satisfied.
    staff.goto(f"{base}/#/dashboard")
    until(staff, staff.locator("[data-kpi=satisfaction_rate] .v", has_text="100.0%"), refresh="刷新")
    assert int(_kpi(staff, "entries")) >= 2 and _kpi(staff, "completion_rate") != "—"
    shot(staff, "11-dashboard-after")

    # English is one click away.
    staff.get_by_role("button", name="English").click()
    expect(staff.get_by_role("heading", name=re.compile("^Dashboard")).first).to_be_visible()
    shot(staff, "12-dashboard-english")

    # The county operator sees every community and drills down to one.
    county = browser.new_context(viewport=DESKTOP, locale="zh-CN").new_page()
    login(county, base, role_label="县级管理员", community=None, name="县级管理员")
    county.goto(f"{base}/#/dashboard")
    until(county, county.locator("[data-kpi=entries] .v", has_text=re.compile(r"^[1-9]")), refresh="刷新")
    expect(county.get_by_role("img", name="各社区办结率")).to_be_visible()
    shot(county, "13-county-dashboard")
    el_select(county, "community-select", "学苑社区")
    expect(county.get_by_role("heading", name=re.compile("学苑社区"))).to_be_visible()
    shot(county, "14-county-drilldown")

    # The resident follows the report by tracking code, without logging in.
    phone = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True).new_page()
    phone.goto(f"{base}/m#/track/{red_code}")
    expect(phone.locator("[data-testid=track-result]")).to_be_visible(timeout=15_000)
    steps = phone.locator("[data-testid=track-steps] li")
    expect(steps).to_have_count(6)
    expect(steps.first).to_contain_text("已受理")
    expect(phone.locator("[data-testid=track-summary]")).to_contain_text("配电箱")
    expect(phone.locator("[data-testid=track-summary]")).not_to_contain_text("13800001234")
    shot(phone, "15-resident-track")
    phone.goto(f"{base}/m#/track/{light_code}")
    expect(phone.locator("[data-testid=track-result]")).to_be_visible(timeout=15_000)


def test_console_end_to_end(platform):
    """Dev login, resident reports, live triage board, regrade, conclude, progress, evaluate, dashboard."""
    p = platform
    base = p.url("console", "")
    assert p.http.get(p.url("console", "/readyz")).status_code == 200
    # The public directory carries names only: no roster, no phone numbers.
    directory = p.http.get(p.url("console", "/api/directory")).text
    assert "金泰和庄" in directory and "roster" not in directory and "138" not in directory

    with sync_playwright() as pw:
        browser = launch(pw)
        staff = browser.new_context(viewport=DESKTOP, locale="zh-CN").new_page()
        try:
            _staff_and_residents(browser, staff, base)
        except Exception:
            shot(staff, "zz-failure")  # where the staff page was when it failed
            raise
        finally:
            browser.close()


def test_console_refuses_what_it_must(platform):
    """The proxy passes the caller's token (no token, no data); SSE checks scope; only /v1 paths are proxied."""
    p = platform
    http = p.http
    assert http.get(p.url("console", "/api/ledger/v1/entries")).status_code == 401
    staff = p.headers("party_org", ("xueyuan",))
    assert http.get(p.url("console", "/api/ledger/v1/entries"), headers=staff).status_code == 200
    other = http.get(p.url("console", "/api/ledger/v1/entries"), params={"community": "jinshan"}, headers=staff)
    assert other.status_code == 403
    assert http.get(p.url("console", "/api/ledger/metrics"), headers=staff).status_code == 404
    assert http.get(p.url("console", "/api/nowhere/v1/x"), headers=staff).status_code == 404
    assert http.get(p.url("console", "/events")).status_code == 401
    token = p.token("party_org", ("xueyuan",))
    denied = http.get(p.url("console", "/events"), params={"community": "jinshan", "access_token": token})
    assert denied.status_code == 403
    login = http.post(p.url("console", "/auth/dev-login"), json={"role": "party_org", "community": "*"})
    assert login.status_code == 422
