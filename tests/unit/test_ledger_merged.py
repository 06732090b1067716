"""matter.merged.v1 / matter.split.v1 in the ledger: an entry closed as merged (合并), notes, no figure counts it."""

from __future__ import annotations

import datetime as dt

import pytest

from services.contracts import events
from services.ledger import disclosure, figures, regroup
from services.ledger.app import HANDLERS
from tests.unit.test_ledger_service import NOW, direct_entry, entry, env, run, store, timeline  # noqa: F401

pytestmark = pytest.mark.unit


def merged(source: str = "mat_1", into: str = "mat_2") -> events.MatterMerged:
    return events.MatterMerged(
        matter_id=source, into=into, into_title="3号楼路灯不亮（合并后）", report_ids=["rpt_1"], by="u-party",
        reason="同一盏路灯", merged_at=NOW,
    )  # fmt: skip


async def test_merged_entry_is_closed_as_merged_and_the_survivor_notes_it(store):  # noqa: F811
    assert HANDLERS["matter.merged.v1"].__wrapped__ is regroup.on_matter_merged
    a, b = await direct_entry(store, "mat_1"), await direct_entry(store, "mat_2")
    data = merged()
    await run(store, regroup.on_matter_merged, env("matter.merged.v1", data, subject="mat_1"), data)
    a = await entry(store, "mat_1")
    assert (a.state, a.merged_into) == ("merged", "mat_2") and a.closed_at is not None
    last = (await timeline(store, a.id))[-1]
    assert last.action == "merge" and last.to_state == "merged" and "合并后" in last.note and last.actor == "u-party"
    assert "并入事项" in (await timeline(store, b.id))[-1].note
    # Delivered again (another event id): the entry stays merged, nothing more on it.
    n = len(await timeline(store, a.id))
    await run(store, regroup.on_matter_merged, env("matter.merged.v1", data, subject="mat_1"), data)
    assert len(await timeline(store, a.id)) == n
    # No figure counts it, and the monthly disclosure does not list it.
    async with store.db.session() as s:
        total, _ = await figures.tally(s, [], [])
    assert total.entries == 1
    now = dt.datetime.now(dt.UTC)  # entries are stamped with the real clock
    start, end = now - dt.timedelta(days=31), now + dt.timedelta(days=31)
    assert not disclosure.listed(a, start, end) and disclosure.listed(await entry(store, "mat_2"), start, end)


async def test_split_notes_the_original_entry(store):  # noqa: F811
    e = await direct_entry(store, "mat_1")
    data = events.MatterSplit(
        matter_id="mat_1", new_matter_id="mat_9", new_title="另一件事", report_ids=["rpt_2"], by="u-party",
        reason="不是同一件事", split_at=NOW,
    )  # fmt: skip
    await run(store, regroup.on_matter_split, env("matter.split.v1", data, subject="mat_1"), data)
    note = (await timeline(store, e.id))[-1].note
    assert "拆出 1 条报事另立事项「另一件事」" in note and (await entry(store, "mat_1")).state == "assigned"
