"""Browser helpers for the console e2e test: Debian Chromium through Playwright, screenshots, widget helpers."""

from __future__ import annotations

import time
from pathlib import Path

from playwright.sync_api import Browser, Locator, Page, Playwright

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "results" / "console"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1366, "height": 860}


def launch(pw: Playwright) -> Browser:
    """The system Chromium (never a downloaded one)."""
    return pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)


def shot(page: Page, name: str) -> Path:
    """Save a full-page screenshot under results/console/."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def el_select(page: Page, field: str, option: str) -> None:
    """Pick an option of an Element Plus select, found by the id of its input."""
    page.locator(".el-select__wrapper", has=page.locator(f"#{field}")).click()
    page.locator(".el-select-dropdown__item:visible", has_text=option).first.click()


def van_pick(page: Page, field: str, option: str) -> None:
    """Pick an option from a Vant picker opened by a read-only field."""
    page.locator(f"#{field}").click()
    page.locator(".van-picker-column__item:visible", has_text=option).first.click()
    page.wait_for_timeout(400)  # the column scrolls to the clicked option before confirming
    page.locator(".van-picker__confirm:visible").click()
    page.locator(".van-popup:visible").wait_for(state="hidden")


def until(page: Page, locator: Locator, *, refresh: str | None = None, timeout: float = 60) -> Locator:
    """Wait until `locator` is visible; click the page's refresh button meanwhile if one is named."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if locator.count() and locator.first.is_visible():
            return locator.first
        if refresh:
            page.get_by_role("button", name=refresh).first.click()
        page.wait_for_timeout(1000)
    raise AssertionError(f"not visible after {timeout:.0f} s: {locator}")


def login(page: Page, base: str, *, role_label: str, community: str | None, name: str) -> None:
    """Log in through the dev login page."""
    page.goto(f"{base}/")
    page.locator("#login-role").wait_for()
    el_select(page, "login-role", role_label)
    if community:
        el_select(page, "login-community", community)
    page.fill("#login-name", name)
    page.get_by_role("button", name="开发登录").click()
    page.locator(".el-menu").wait_for()
