"""Staff merge and split of matters on a real SQLite store: reports move, audits, events, refusals, idempotency."""

from __future__ import annotations

import pytest
from sqlmodel import select

from services.contracts import events
from services.triage import handlers, history, regroup
from services.triage import service as triage_service
from services.triage.app import spec
from services.triage.models import Matter, MatterReport, Regrade
from services.triage.service import RegradeError
from tests.support import sqlite_store
from tests.unit.test_triage_service import closed, matters, report

pytestmark = pytest.mark.unit


@pytest.fixture
async def store(tmp_path):
    s = await sqlite_store(spec(), tmp_path)
    yield s
    await s.db.dispose()


async def _two(store, first="3号楼楼道灯坏了", second="3号楼下水道堵了，污水冒出来", community="jinshan"):
    await store.handle(handlers.on_report_received, *report(first, reporter="ref-a", community=community))
    await store.handle(handlers.on_report_received, *report(second, reporter="ref-b", community=community))
    return await matters(store)


async def _merge(store, source, into, reason="其实是同一个问题"):
    async with store.uow() as uow:
        out = await regroup.merge(uow, source, into, by="u-party", reason=reason)
        await uow.commit()
    return out


async def _split(store, source, report_ids, reason="不是同一件事"):
    async with store.uow() as uow:
        out = await regroup.split(uow, source, report_ids, by="u-party", reason=reason)
        await uow.commit()
    return out


async def test_merge_moves_reports_audits_and_emits(store):
    a, b = await _two(store)
    before = len(await store.outbox())
    survivor, changed = await _merge(store, a.id, b.id)
    assert changed and survivor.id == b.id
    async with store.db.session() as s:
        src, dst = await s.get(Matter, a.id), await s.get(Matter, b.id)
        reports = (await s.exec(select(MatterReport).where(MatterReport.matter_id == b.id))).all()
        audits = (await s.exec(select(Regrade).where(Regrade.action == "merge"))).all()
    assert (src.status, src.merged_into) == ("merged", b.id)
    assert len(reports) == 2 and dst.reporters == 2
    assert {x.matter_id for x in audits} == {a.id, b.id} and all(x.by == "u-party" for x in audits)
    assert all("同一个问题" in x.reason for x in audits)
    new = (await store.outbox())[before:]
    assert next(e.type for e in new) == "matter.merged.v1" and new[-1].type == "matter.triaged.v1"
    merged = events.MatterMerged.model_validate(new[0].data)
    assert merged.into == b.id and merged.report_ids == [reports[0].report_id] and merged.reason == "其实是同一个问题"
    assert len(events.MatterTriaged.model_validate(new[-1].data).report_ids) == 2
    # Both matters say so in English words too, line for line with the Chinese.
    assert len(dst.reasons_en) == len(dst.reasons) and len(src.reasons_en) == len(src.reasons)
    assert dst.reasons_en[-1] == f"Merged (Staff): took in 1 report of “{a.title[:40]}”; reason: 其实是同一个问题"
    assert src.reasons_en[-1] == f"Merged into the matter “{b.title[:40]}” (Staff): 其实是同一个问题"
    assert events.MatterTriaged.model_validate(new[-1].data).reasons == list(dst.reasons)
    # The grading history's rows read in English words, rebuilt from the stored Chinese.
    english = {x.matter_id: history.english(x.action, x.reason, x.before, x.after) for x in audits}
    assert english[a.id] == f"Merged into “{b.title[:40]}”: 其实是同一个问题"
    assert english[b.id] == f"Took in the reports of “{a.title[:40]}”: 其实是同一个问题"


async def test_merge_raises_the_survivor_to_the_higher_level(store):
    a, b = await _two(store, "3号楼电梯困人了，里面有老人", "3号楼楼道灯坏了")
    assert a.level == "red" and b.level != "red"
    await _merge(store, a.id, b.id)
    async with store.db.session() as s:
        dst = await s.get(Matter, b.id)
    assert (dst.level, dst.route) == ("red", "deliberate")
    assert any(e.type == "matter.regraded.v1" and e.subject == b.id for e in await store.outbox())


async def test_merge_again_is_idempotent_and_refusals_name_the_field(store):
    a, b = await _two(store)
    await _merge(store, a.id, b.id)
    n = len(await store.outbox())
    survivor, changed = await _merge(store, a.id, b.id)
    assert not changed and survivor.id == b.id and len(await store.outbox()) == n
    with pytest.raises(RegradeError) as err:
        await _merge(store, b.id, b.id)
    assert (err.value.status, err.value.field) == (422, "into")
    with pytest.raises(RegradeError) as err:
        await _merge(store, b.id, "mat_nope")
    assert (err.value.status, err.value.field) == (422, "into")
    with pytest.raises(RegradeError) as err:
        await _merge(store, b.id, a.id)  # a is merged already
    assert err.value.status == 409 and "合并" in err.value.zh


async def test_merge_refuses_closed_and_other_community(store):
    a, b = await _two(store)
    await store.handle(handlers.on_report_received, *report("路灯坏了", community="xueyuan", reporter="x"))
    other = next(m for m in await matters(store) if m.community == "xueyuan")
    with pytest.raises(RegradeError) as err:
        await _merge(store, a.id, other.id)
    assert (err.value.status, err.value.field) == (422, "into") and "社区" in err.value.zh
    await store.handle(handlers.on_matter_closed, *closed(b.id))
    with pytest.raises(RegradeError) as err:
        await _merge(store, a.id, b.id)
    assert (err.value.status, err.value.field) == (409, "into") and "销号" in err.value.zh


async def test_split_makes_a_new_graded_matter_and_is_idempotent(store):
    # Two reports that joined one matter (same leak), then staff find one is another problem.
    await store.handle(handlers.on_report_received, *report("3号楼下水道堵了，污水冒出来", reporter="ref-a"))
    e2, d2 = report("3号楼下水道又堵了，臭得很", reporter="ref-b")
    await store.handle(handlers.on_report_received, e2, d2)
    [m] = await matters(store)
    before = len(await store.outbox())
    new, changed = await _split(store, m.id, [d2.report_id])
    assert changed and new.id != m.id and new.split_from == m.id and new.status == "open"
    out = (await store.outbox())[before:]
    assert [e.type for e in out] == ["matter.split.v1", "matter.triaged.v1", "matter.triaged.v1"]
    assert out[1].subject == new.id and events.MatterTriaged.model_validate(out[1].data).report_ids == [d2.report_id]
    assert out[2].subject == m.id and len(out[2].data["report_ids"]) == 1
    async with store.db.session() as s:
        old = await s.get(Matter, m.id)
        audits = (await s.exec(select(Regrade).where(Regrade.action == "split"))).all()
    assert old.reporters == 1 and {x.matter_id for x in audits} == {m.id, new.id}
    assert (
        old.reasons_en[-1] == f"Split (Staff): 1 report moved to a new matter “{new.title[:40]}”; reason: 不是同一件事"
    )
    assert new.reasons_en[-1] == f"Split (Staff): split off from “{m.title[:40]}”; reason: 不是同一件事"
    assert len(new.reasons_en) == len(new.reasons) and new.reasons_en[0].startswith("Category: ")
    english = {x.matter_id: history.english(x.action, x.reason, x.before, x.after) for x in audits}
    assert english == {
        m.id: "1 report moved to a new matter: 不是同一件事",
        new.id: "Split off from another matter: 不是同一件事",
    }
    again, changed = await _split(store, m.id, [d2.report_id])
    assert not changed and again.id == new.id and len(await store.outbox()) == before + 3


async def test_split_refuses_foreign_or_all_reports(store):
    await store.handle(handlers.on_report_received, *report("3号楼下水道堵了，污水冒出来", reporter="ref-a"))
    [m] = await matters(store)
    async with store.db.session() as s:
        [only] = (await s.exec(select(MatterReport.report_id))).all()
    with pytest.raises(RegradeError) as err:
        await _split(store, m.id, [only])
    assert (err.value.status, err.value.field) == (422, "report_ids") and "至少" in err.value.zh
    with pytest.raises(RegradeError) as err:
        await _split(store, m.id, ["rpt_elsewhere"])
    assert (err.value.status, err.value.field) == (422, "report_ids")


async def test_merged_matter_is_not_joined_regraded_or_closed(store):
    a, b = await _two(store)
    await _merge(store, a.id, b.id)
    await store.handle(handlers.on_matter_closed, *closed(a.id))
    async with store.db.session() as s:
        assert (await s.get(Matter, a.id)).status == "merged"
    async with store.uow() as uow:
        m = await uow.session.get(Matter, a.id)
        with pytest.raises(RegradeError) as err:
            await triage_service.apply_regrade(
                uow, m, by="u", level="yellow", route="direct", category=None, reason="xx"
            )
    assert err.value.status == 409 and "合并" in err.value.zh
