"""tests.support.readable: privacy assertions see what a person reads, not digits inside machine-made values."""

from __future__ import annotations

import pytest

from tests.support import readable

pytestmark = pytest.mark.unit


def test_machine_made_values_are_left_out_and_human_text_kept():
    doc = {
        "id": "box-57efce780502490392240ba080ced127",  # a channel message id with a hyphen prefix (CI flake)
        "report": "rpt_0502abcdef0123456789",
        "at": "2026-12-01T03:44:37.502726Z",
        "event": "a1b2c3d4-0502-4000-8000-000000000502",
        "digest": "0502abcdef0123456789abcd",
        "room": "room-502",
        "text": "住3栋502",
    }
    words = readable(doc)
    assert "room-502" in words and "住3栋502" in words  # short or human values stay visible
    assert words.count("502") == 2
