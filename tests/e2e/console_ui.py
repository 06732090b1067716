"""Browser helpers for the console e2e test: Debian Chromium through Playwright, screenshots, widget helpers."""

from __future__ import annotations

import base64
import os
import shutil
import time
from pathlib import Path

from playwright.sync_api import Browser, Locator, Page, Playwright

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "results" / "console"
# The system Chromium: HALL_CHROMIUM if set, else the first of these on PATH. `make test` (tools/test_env.sh)
# installs Debian's `chromium` when none is found; Playwright's own browser download is never used.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome-stable", "google-chrome")
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
# A small real JPEG (8x8), as a phone's camera would hand it to the page's file input.
PHOTO_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAA0JCgsKCA0LCgsODg0PEyAVExISEyccHhcgLikxMC4pLSwzOko+MzZGNywtQFdBRkxOUlNSMj5a"
    "YVpQYEpRUk//2wBDAQ4ODhMREyYVFSZPNS01T09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT0//wAARCAAI"
    "AAgDASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJx"
    "FDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWW"
    "l5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAAAAEC"
    "AwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEIFEKRobHBCSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2"
    "Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU"
    "1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEAPwCpRRRXinun/9k="
)
DESKTOP = {"width": 1366, "height": 860}


def chromium() -> str:
    """Where the system Chromium is; a clear message (what to run) when there is none."""
    if os.environ.get("HALL_CHROMIUM"):
        return os.environ["HALL_CHROMIUM"]
    for name in CHROMIUM_NAMES:
        if found := shutil.which(name):
            return found
    raise RuntimeError("no Chromium found: run `make test-env` (installs Debian's chromium) or set HALL_CHROMIUM")


def launch(pw: Playwright) -> Browser:
    """The system Chromium (never a downloaded one)."""
    return pw.chromium.launch(executable_path=chromium(), args=ARGS)


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
    """Pick an option from the Vant action sheet a read-only field opens."""
    page.locator(f"#{field}").click()
    page.locator(".van-action-sheet__item:visible", has_text=option).first.click()
    page.locator(".van-action-sheet:visible").wait_for(state="hidden")


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
    page.locator("#side-nav").wait_for(state="attached")
