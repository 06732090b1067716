"""Hostile-input guards shared by every service: control characters, date bounds, whose X-Forwarded-For counts."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import BaseModel, ValidationError

from services.runtime.inputs import Moment, control_at, printable, refuse_controls
from services.runtime.problems import Problem
from services.runtime.proxies import TrustedProxies, parse_networks, real_client

pytestmark = pytest.mark.unit


def test_control_characters_but_tab_newline_and_cr():
    assert not control_at("楼道灯不亮\r\n\t三天了") and not control_at(None) and not control_at(["a", "b"])
    for bad in ("\x00", "a\x01", "\x1b[31m", "\x0b", "\ufffe", "\ud800"):
        assert control_at(bad), repr(bad)
    assert control_at(["ok", "x\x00"])
    assert printable("已更换\x01灯头\x08\r\n") == "已更换灯头\r\n"
    with pytest.raises(Problem) as exc:
        refuse_controls({"text": "ok", "name": "刘\x00"})
    assert exc.value.status == 422 and exc.value.errors[0]["field"] == "name" and "姓名" in exc.value.detail_zh


def test_moment_is_bounded_to_sane_years_whatever_the_offset():
    class Q(BaseModel):
        at: Moment

    assert Q(at="2099-12-31T23:59:59-23:59").at.year == 2099
    assert Q(at="2000-01-01T00:00:00+23:59").at.astimezone(dt.UTC).year == 1999  # still representable
    for bad in ("9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "1970-01-01T00:00:00Z", "2100-01-01"):
        with pytest.raises(ValidationError) as exc:
            Q(at=bad)
        assert "2000" in str(exc.value)


def test_forwarded_for_counts_only_from_trusted_proxies():
    trusted = parse_networks("10.0.0.5, 172.18.0.0/16")
    # From anyone else the header is ignored: that is how per-IP limits were bypassed.
    assert real_client("203.0.113.9", ["1.2.3.4"], trusted) == "203.0.113.9"
    assert real_client("127.0.0.1", ["1.2.3.4"], trusted) == "127.0.0.1"
    # From a trusted proxy: the first hop, from the right, that is not itself a trusted proxy.
    assert real_client("10.0.0.5", ["1.2.3.4"], trusted) == "1.2.3.4"
    assert real_client("10.0.0.5", ["6.6.6.6, 1.2.3.4, 172.18.0.3"], trusted) == "1.2.3.4"
    assert real_client("10.0.0.5", ["6.6.6.6", "1.2.3.4"], trusted) == "1.2.3.4"
    assert real_client("10.0.0.5", ["not-an-ip"], trusted) == "10.0.0.5"
    assert real_client("10.0.0.5", ["2001:db8::1"], trusted) == "2001:db8::1"
    with pytest.raises(ValueError):
        parse_networks("10.0.0.300")


async def test_trusted_proxies_middleware_rewrites_the_client():
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["client"])

    headers = [(b"x-forwarded-for", b"1.2.3.4")]
    for trusted, peer, expect in (("", "10.0.0.5", "10.0.0.5"), ("10.0.0.5", "10.0.0.5", "1.2.3.4"),
                                  ("10.0.0.5", "10.0.0.6", "10.0.0.6")):  # fmt: skip
        await TrustedProxies(app, trusted=trusted)(
            {"type": "http", "client": (peer, 5000), "headers": headers}, None, None
        )
        assert seen[-1] == (expect, 5000)
