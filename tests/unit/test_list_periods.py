"""The list filters' day window: Beijing days since..until as UTC instants, open ends left out."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Column, DateTime, MetaData, Table

from services.runtime.export import within

pytestmark = pytest.mark.unit

AT = Table("t", MetaData(), Column("at", DateTime(timezone=True))).c.at


def _bounds(conds) -> list[tuple[str, dt.datetime]]:
    return [(c.operator.__name__, c.right.value) for c in conds]


def test_both_ends_cover_whole_beijing_days():
    conds = within(AT, dt.date(2026, 12, 1), dt.date(2026, 12, 7))
    assert _bounds(conds) == [
        ("ge", dt.datetime(2026, 11, 30, 16, tzinfo=dt.UTC)),  # 00:00 Beijing on the 1st
        ("lt", dt.datetime(2026, 12, 7, 16, tzinfo=dt.UTC)),  # 00:00 Beijing on the 8th: the 7th is inside
    ]


def test_open_ends_add_no_condition_and_stored_converts():
    assert within(AT, None, None) == []
    naive = _bounds(within(AT, None, dt.date(2026, 1, 1), lambda t: t.replace(tzinfo=None)))
    assert naive == [("lt", dt.datetime(2026, 1, 1, 16))]
