"""`python -m bench.first_load`: bytes, requests and time of the console's first load on a 10 Mbps link.

Starts the console alone (its pages need no other service; the broker address is a closed port, so it touches no
broker), opens `/` (the staff app) and `/m` (residents) in the system Chromium with an empty cache, and throttles
the network through the DevTools protocol to 10 Mbps down / 10 Mbps up with 20 ms latency. Counts what actually
travelled (`encodedDataLength`, headers included) and prints one JSON object: per page and per Accept-Encoding
(brotli as browsers send it, and identity for comparison) the bytes, the requests, bytes ÷ 10 Mbps, and the
measured time to the `load` event under throttling. A measurement, not a test: nothing here fails on a number.
"""

from __future__ import annotations

import json
import socket
import threading
import time

import uvicorn
from playwright.sync_api import sync_playwright

from services.console.app import create_app
from services.console.config import ConsoleConfig
from services.runtime.settings import Settings
from tests.e2e.console_ui import launch

LINK_BPS = 10_000_000
LATENCY_MS = 20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(port: int) -> uvicorn.Server:
    settings = Settings(env="test", amqp_url="amqp://guest:guest@127.0.0.1:1/nothing")
    config = uvicorn.Config(
        create_app(ConsoleConfig(settings=settings, upstreams={})), host="127.0.0.1", port=port, log_config=None
    )
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("console did not start")
        time.sleep(0.05)
    return server


def measure(browser, url: str, encoding: str | None) -> dict:
    """One cold load of `url` under throttling: bytes on the wire, requests, and times."""
    headers = {"Accept-Encoding": encoding} if encoding else {}
    ctx = browser.new_context(extra_http_headers=headers)
    page = ctx.new_page()
    cdp = ctx.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    rate = LINK_BPS / 8
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": LATENCY_MS, "downloadThroughput": rate, "uploadThroughput": rate},
    )
    sizes: dict[str, int] = {}
    cdp.on("Network.loadingFinished", lambda e: sizes.__setitem__(e["requestId"], int(e["encodedDataLength"])))
    started = time.perf_counter()
    page.goto(url, wait_until="load")
    loaded = time.perf_counter() - started
    page.wait_for_load_state("networkidle")
    total = sum(sizes.values())
    ctx.close()
    return {
        "accept_encoding": encoding or "(browser default: gzip, deflate, br, zstd)",
        "requests": len(sizes),
        "bytes": total,
        "link_seconds": round(total * 8 / LINK_BPS, 3),  # bytes ÷ 10 Mbps, no latency
        "measured_load_seconds": round(loaded, 3),  # throttled, 20 ms latency per request
    }


def main() -> None:
    """Measure and print one JSON object."""
    port = _free_port()
    server = _serve(port)
    base = f"http://127.0.0.1:{port}"
    out: dict = {"link_mbps": LINK_BPS / 1e6, "latency_ms": LATENCY_MS, "pages": {}}
    try:
        with sync_playwright() as pw:
            browser = launch(pw)
            try:
                for name, path in (("staff", "/"), ("resident", "/m")):
                    out["pages"][name] = [measure(browser, base + path, enc) for enc in (None, "identity")]
            finally:
                browser.close()
    finally:
        server.should_exit = True
    print(json.dumps(out, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
