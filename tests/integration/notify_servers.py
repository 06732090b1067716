"""Real local servers for notice channels: a WeCom-style webhook receiver and an SMTP sink, both on 127.0.0.1."""

from __future__ import annotations

import json
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

from services.runtime import directory


class Hook:
    """A local webhook server recording what it receives; answers with a configurable status."""

    def __init__(self, status: int = 200, errcode: int = 0, fail_first: int = 0):
        self.received: list[dict] = []
        self.times: list[float] = []  # wall-clock arrival of each request (the bench's page latency)
        self.status, self.errcode, self.fail_first = status, errcode, fail_first
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.times.append(time.time())
                hook.received.append(json.loads(body))
                failing = len(hook.received) <= hook.fail_first
                status = 503 if failing else hook.status
                out = json.dumps({"errcode": hook.errcode, "errmsg": "ok" if not hook.errcode else "bad"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cgi-bin/webhook/send?key=test"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Smtp:
    """A minimal SMTP server on 127.0.0.1 (enough of RFC 5321 for smtplib) that keeps what it receives."""

    def __init__(self):
        self.messages: list[bytes] = []
        box = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                self.wfile.write(b"220 localhost ESMTP test\r\n")
                while line := self.rfile.readline():
                    verb = line[:4].upper()
                    if verb in (b"EHLO", b"HELO"):
                        self.wfile.write(b"250 localhost\r\n")
                    elif verb == b"DATA":
                        self.wfile.write(b"354 end with .\r\n")
                        data = b""
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                            data += chunk
                        box.messages.append(data)
                        self.wfile.write(b"250 queued\r\n")
                    elif verb == b"QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:
                        self.wfile.write(b"250 ok\r\n")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def write_county(tmp_path, *, notices: dict | None = None, on_call: dict | None = None) -> Path:
    """The demo county with some communities' `notices` and `on_call` blocks replaced; returns the file."""
    data = yaml.safe_load(directory.DEFAULT_PATH.read_text(encoding="utf-8"))
    for c in data["communities"]:
        if c["code"] in (notices or {}):
            c["notices"] = notices[c["code"]]
        if c["code"] in (on_call or {}):
            c["on_call"] = on_call[c["code"]]
    path = tmp_path / "county.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def use_channel(tmp_path, monkeypatch, notices_block: dict, community: str = "xueyuan") -> None:
    """A county directory whose `community` delivers notices through `notices_block`."""
    path = write_county(tmp_path, notices={community: notices_block})
    monkeypatch.setenv(directory.ENV_VAR, str(path))
    directory.clear_cache()
