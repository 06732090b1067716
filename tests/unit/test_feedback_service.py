"""Feedback service on a real SQLite store: revisits from completions, evaluations, reopen and escalate."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError
from sqlmodel import select

from services.contracts import Envelope, events
from services.feedback import handlers
from services.feedback.api import EvaluationIn, record_evaluation
from services.feedback.app import spec
from services.feedback.domain import TZ, revisit_due
from services.feedback.models import EvaluationRow, MatterRound, MatterView, Revisit, notices
from services.feedback.service import Voice, household_ref, open_round, record_voices
from services.runtime.auth import Principal
from services.runtime.consumer import Reject
from services.runtime.problems import Problem
from services.runtime.settings import get_settings
from tests.support import ServiceStore, sqlite_store

pytestmark = pytest.mark.unit

COMPLETED_AT = dt.datetime(2025, 6, 3, 2, 0, tzinfo=dt.UTC)  # a Tuesday, 10:00 in Shanghai
GRID = Principal(sub="grid-wang", role="grid_worker", communities=frozenset({"jinshan"}))
HOUSE = "金泰和庄12-2-301"
PHOTO = {"photos": ["https://img.example.cn/visit/1.jpg"]}


@pytest.fixture
async def store(tmp_path, monkeypatch) -> ServiceStore:
    """A migrated feedback database, with PII keys in a private var dir."""
    monkeypatch.setenv("HALL_VAR_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    s = await sqlite_store(spec(), tmp_path)
    yield s
    await s.db.dispose()


def completed(matter: str = "mat_1", *, round: int = 1, households: int = 1, community: str = "jinshan", **kw):
    """An entry.completed.v1 envelope and payload from the ledger."""
    data = events.EntryEvent(
        entry_id=kw.pop("entry_id", f"ent_{matter}"),
        matter_id=matter,
        state="completed",
        level=kw.pop("level", "yellow"),
        category=kw.pop("category", "drainage"),
        actor="property-li",
        households=households,
        round=round,
        at=COMPLETED_AT,
        **kw,
    )
    env = Envelope.new(
        type="entry.completed.v1", source="/services/ledger", community=community, subject=matter, data=data
    )
    return env, data


def triaged(matter: str, title: str, community: str = "jinshan"):
    """A matter.triaged.v1 envelope and payload from triage."""
    data = events.MatterTriaged(
        matter_id=matter,
        report_ids=["rep_1"],
        title=title,
        place=events.Place(compound="景湖花园", building="7"),
        kind="problem",
        category="lighting",
        level="yellow",
        route="direct",
        confidence=0.9,
        triaged_at=COMPLETED_AT,
    )
    env = Envelope.new(
        type="matter.triaged.v1", source="/services/triage", community=community, subject=matter, data=data
    )
    return env, data


def closed(matter: str = "mat_1", community: str = "jinshan"):
    """A matter.closed.v1 envelope and payload."""
    data = events.MatterClosed(matter_id=matter, entry_id=f"ent_{matter}", by="party-zhang", closed_at=COMPLETED_AT)
    env = Envelope.new(
        type="matter.closed.v1", source="/services/ledger", community=community, subject=matter, data=data
    )
    return env, data


async def evaluate(store: ServiceStore, matter: str = "mat_1", principal: Principal = GRID, **kw):
    """Record one evaluation through the service function the API uses, committed."""
    body = EvaluationIn(**{"household": HOUSE, "rating": "satisfied", "method": "home_visit", "evidence": PHOTO, **kw})
    async with store.uow(actor=principal.sub) as uow:
        out = await record_evaluation(uow, principal, matter, body)
        await uow.commit()
    return out


async def revisits(store: ServiceStore) -> list[Revisit]:
    async with store.db.session() as s:
        return list((await s.exec(select(Revisit).order_by(Revisit.round))).all())


async def test_completion_plans_a_revisit_with_methods_and_due_time(store):
    env, data = completed(households=12, category="parking", level="yellow")
    await store.handle(handlers.on_entry_completed, env, data)
    [rev] = await revisits(store)
    assert rev.id.startswith("rev_")
    assert (rev.matter_id, rev.entry_id, rev.community, rev.round) == ("mat_1", "ent_mat_1", "jinshan", 1)
    assert rev.methods == ["questionnaire", "wechat_vote", "group_forum"]
    assert rev.status == "open"
    assert rev.due_at == min(revisit_due(COMPLETED_AT, m) for m in rev.methods)
    assert rev.due_at == revisit_due(COMPLETED_AT, "questionnaire")


async def test_red_single_household_gets_a_home_visit(store):
    env, data = completed(households=1, level="red", category="safety_fire")
    await store.handle(handlers.on_entry_completed, env, data)
    [rev] = await revisits(store)
    assert rev.methods == ["home_visit"]
    assert rev.due_at == revisit_due(COMPLETED_AT, "home_visit")


async def test_duplicate_completion_gives_one_revisit(store):
    env, data = completed()
    await store.handle(handlers.on_entry_completed, env, data)
    again, _ = completed()  # a different event id for the same (matter, round)
    await store.handle(handlers.on_entry_completed, again, data)
    await store.handle(handlers.on_entry_completed, env, data)
    assert len(await revisits(store)) == 1


async def test_completion_from_another_community_is_rejected(store):
    await store.handle(handlers.on_entry_completed, *completed())
    with pytest.raises(Reject):
        await store.handle(handlers.on_entry_completed, *completed(round=2, community="xueyuan"))
    with pytest.raises(Reject):
        await store.handle(handlers.on_matter_closed, *closed(community="xueyuan"))
    with pytest.raises(Reject):
        await store.handle(handlers.on_entry_completed, *completed("mat_x", community="nowhere"))


async def test_satisfied_evaluation_is_recorded_and_ends_the_revisit(store):
    await store.handle(handlers.on_entry_completed, *completed())
    out = await evaluate(store, rating="satisfied", solved="solved", is_reporter=True)
    assert out.round_outcome == "satisfied" and out.round_rate == 1.0
    [ev] = await store.outbox()
    assert ev.type == "evaluation.recorded.v1" and ev.subject == "mat_1" and ev.community == "jinshan"
    assert ev.data["round_outcome"] == "satisfied" and ev.data["round_rate"] == 1.0
    assert ev.data["evaluation_id"].startswith("evl_")
    [rev] = await revisits(store)
    assert rev.status == "done"


async def test_unsatisfied_evaluation_reopens_into_round_two(store):
    await store.handle(handlers.on_entry_completed, *completed())
    out = await evaluate(store, rating="unsatisfied", solved="partly", comment="下水道还是堵")
    assert out.round_outcome == "reopen" and out.reopened_round == 2
    recorded, reopened = await store.outbox()
    assert recorded.type == "evaluation.recorded.v1" and recorded.data["round_outcome"] == "reopen"
    assert reopened.type == "matter.reopened.v1" and reopened.subject == "mat_1"
    assert reopened.data["round"] == 2 and reopened.data["rate"] == 0.0
    assert reopened.data.get("escalate_to") is None
    assert reopened.data["reasons"]
    [rev] = await revisits(store)
    assert rev.status == "done"
    # The round is over: nobody else can vote on it.
    with pytest.raises(Problem) as exc:
        await evaluate(store, household="金泰和庄12-2-302")
    assert exc.value.status == 409


async def test_reporter_veto_reopens_even_when_others_are_satisfied(store):
    await store.handle(handlers.on_entry_completed, *completed(households=6))
    first = await evaluate(store, household="金泰和庄12-2-201", rating="satisfied")
    second = await evaluate(store, household="金泰和庄12-2-202", rating="basically_satisfied")
    assert first.round_outcome == second.round_outcome == "pending"  # waiting for enough voices
    out = await evaluate(store, rating="satisfied", solved="unsolved", is_reporter=True, comment="坡度没改，还会堵")
    assert out.round_outcome == "reopen" and out.round_rate == 1.0
    reopened = [e for e in await store.outbox() if e.type == "matter.reopened.v1"]
    assert len(reopened) == 1
    assert any("原报事人" in r for r in reopened[0].data["reasons"])


async def test_enough_satisfied_voices_decide_the_round(store):
    await store.handle(handlers.on_entry_completed, *completed(households=6))
    for room in ("201", "202"):
        assert (await evaluate(store, household=f"金泰和庄12-2-{room}")).round_outcome == "pending"
    assert (await evaluate(store, household="金泰和庄12-2-203")).round_outcome == "satisfied"
    assert not [e for e in await store.outbox() if e.type == "matter.reopened.v1"]


async def test_second_round_failure_escalates_to_party_org(store):
    await store.handle(handlers.on_entry_completed, *completed())
    await evaluate(store, rating="unsatisfied")
    await store.handle(handlers.on_entry_completed, *completed(round=2))
    out = await evaluate(store, rating="unsatisfied", solved="unsolved", is_reporter=True)
    assert out.round == 2 and out.round_outcome == "escalate" and out.escalate_to == "party_org"
    reopened = [e for e in await store.outbox() if e.type == "matter.reopened.v1"]
    assert [e.data["round"] for e in reopened] == [2, 3]
    assert reopened[1].data["escalate_to"] == "party_org"
    assert [r.status for r in await revisits(store)] == ["done", "done"]


async def test_one_household_one_voice_per_round(store):
    await store.handle(handlers.on_entry_completed, *completed(households=6))
    await evaluate(store, rating="satisfied")
    with pytest.raises(Problem) as exc:
        await evaluate(store, household=" 金泰和庄 12-2-301 ", rating="unsatisfied")  # same household, spaced
    assert exc.value.status == 409 and exc.value.errors[0]["field"] == "household"
    async with store.db.session() as s:
        assert len((await s.exec(select(EvaluationRow))).all()) == 1


async def test_no_evaluation_without_an_open_revisit(store):
    with pytest.raises(Problem) as exc:
        await evaluate(store, matter="mat_unknown")
    # Unknown: answered exactly like another community's matter (no existence oracle).
    assert exc.value.status == 404 and exc.value.detail_zh == "未找到该事项的回访记录"
    await store.handle(handlers.on_entry_completed, *completed())
    await store.handle(handlers.on_matter_closed, *closed())
    with pytest.raises(Problem) as exc:
        await evaluate(store)
    assert exc.value.status == 409
    [rev] = await revisits(store)
    assert rev.status == "done"
    async with store.db.session() as s:
        assert (await s.get(MatterRound, "mat_1")).closed


async def test_another_communitys_staff_cannot_evaluate(store):
    await store.handle(handlers.on_entry_completed, *completed())
    other = Principal(sub="grid-li", role="grid_worker", communities=frozenset({"xueyuan"}))
    with pytest.raises(Problem) as exc:
        await evaluate(store, principal=other)
    assert exc.value.status == 404


async def test_closed_matter_opens_no_revisit_on_a_late_completion(store):
    await store.handle(handlers.on_matter_closed, *closed())
    await store.handle(handlers.on_entry_completed, *completed())
    assert await revisits(store) == []


async def test_household_is_pseudonymous_everywhere(store):
    await store.handle(handlers.on_entry_completed, *completed())
    out = await evaluate(
        store, rating="unsatisfied", solved="unsolved", is_reporter=True, comment=f"我家{HOUSE}还是堵，电话13800001234"
    )
    assert out.household_ref != HOUSE and out.household_ref.startswith("hh_")
    async with store.db.session() as s:
        [row] = (await s.exec(select(EvaluationRow))).all()
    assert row.household_ref == out.household_ref
    assert "301" not in row.comment and "13800001234" not in row.comment
    emitted = await store.outbox()
    assert {e.type for e in emitted} == {"evaluation.recorded.v1", "matter.reopened.v1"}
    for env in emitted:
        body = env.to_bytes().decode()
        assert HOUSE not in body and "12-2-301" not in body and "13800001234" not in body
    assert emitted[0].data["household_ref"] == out.household_ref


async def test_overdue_sweep_is_idempotent(store):
    await store.handle(handlers.on_entry_completed, *completed())
    await store.handle(handlers.on_entry_completed, *completed("mat_2"))
    later = COMPLETED_AT + dt.timedelta(days=30)
    async with store.db.session() as s:
        assert await handlers.mark_overdue(s, COMPLETED_AT) == 0
    async with store.db.session() as s:
        assert await handlers.mark_overdue(s, later) == 2
    async with store.db.session() as s:
        assert await handlers.mark_overdue(s, later) == 0
    assert {r.status for r in await revisits(store)} == {"overdue"}
    # An overdue revisit still takes evaluations: late is better than never.
    assert (await evaluate(store)).round_outcome == "satisfied"


async def test_reminder_job_marks_due_revisits_once(store):
    await store.handle(handlers.on_entry_completed, *completed("mat_1", households=1, level="red"))
    await store.handle(handlers.on_entry_completed, *completed("mat_2", households=12))
    [home, questionnaire] = sorted(await revisits(store), key=lambda r: r.due_at)
    # The home visit (3 workdays) is within a day of its due time; the questionnaire (5 workdays) is not yet.
    now = home.due_at - dt.timedelta(hours=2)
    assert questionnaire.due_at - now > dt.timedelta(hours=24)
    assert await remind(store, now) == 1
    assert await remind(store, now) == 0
    assert await remind(store, now + dt.timedelta(minutes=5)) == 0
    reminded = {r.matter_id: r.reminded_at for r in await revisits(store)}
    assert reminded["mat_1"] is not None and reminded["mat_2"] is None
    # The reminder reaches a person: the community's grid worker (no assignee yet), once, outside quiet hours.
    async with store.db.session() as s:
        queued = await notices.of(s, home.id)
    assert [(n["kind"], n["recipient"]["name"]) for n in queued] == [("revisit_reminder", "徐志强")]
    local = queued[0]["due_at"].astimezone(TZ).time()
    assert dt.time(8) <= local < dt.time(22) and "回访" in queued[0]["body"] and "mat_" not in queued[0]["body"]


async def remind(store, now: dt.datetime) -> int:
    async with store.uow(actor="feedback") as uow:
        n = await handlers.remind_due(uow, now)
        await uow.commit()
    return n


async def test_completion_keeps_measures_and_triage_gives_the_title(store):
    await store.handle(handlers.on_entry_completed, *completed(measures="更换7号楼1单元楼道声控灯", note=" 已修好 "))
    [rev] = await revisits(store)
    assert rev.measures == "更换7号楼1单元楼道声控灯；办结说明：已修好"
    env, data = triaged("mat_1", "景湖花园7号楼楼道灯不亮了")
    await store.handle(handlers.on_matter_triaged, env, data)
    await store.handle(handlers.on_matter_triaged, *triaged("mat_1", "景湖花园7号楼楼道灯又不亮了"))
    async with store.db.session() as s:
        view = await s.get(MatterView, "mat_1")
    assert view.title == "景湖花园7号楼楼道灯又不亮了" and view.community == "jinshan"
    with pytest.raises(Reject):
        await store.handle(handlers.on_matter_triaged, *triaged("mat_1", "x", community="xueyuan"))
    async with store.db.session() as s:
        assert (await s.get(MatterView, "mat_1")).title == "景湖花园7号楼楼道灯又不亮了"  # another community's event
    with pytest.raises(Reject):
        await store.handle(handlers.on_matter_triaged, *triaged("mat_9", "x", community="nowhere"))


async def test_voices_recorded_together_are_all_or_nothing(store):
    await store.handle(handlers.on_entry_completed, *completed(households=5))
    await evaluate(store, household="景湖花园7-1-101")
    voices = [
        Voice(household_ref=household_ref("jinshan", h), rating="satisfied", method="group_forum")
        for h in ("景湖花园7-1-201", "景湖花园7-1-101")  # the second already spoke
    ]
    async with store.uow() as uow:
        mr, rev = await open_round(uow.session, "mat_1", GRID)
        with pytest.raises(Problem) as exc:
            await record_voices(uow, mr, rev, voices, recorded_by="party-zhang")
    assert exc.value.status == 409
    async with store.db.session() as s:
        assert len((await s.exec(select(EvaluationRow))).all()) == 1
    async with store.uow() as uow:
        mr, rev = await open_round(uow.session, "mat_1", GRID)
        with pytest.raises(Problem) as exc:
            await record_voices(uow, mr, rev, [voices[0], voices[0]], recorded_by="party-zhang")
    assert exc.value.status == 422


def test_home_visit_needs_evidence():
    base = {"household": HOUSE, "rating": "satisfied", "method": "home_visit"}
    with pytest.raises(ValidationError, match="evidence"):
        EvaluationIn(**base)
    with pytest.raises(ValidationError):
        EvaluationIn(**base, evidence={})
    with pytest.raises(ValidationError):
        EvaluationIn(**base, evidence={"photos": ["ftp://x/1.jpg"]})
    with pytest.raises(ValidationError):
        EvaluationIn(**base, evidence={"signature": "has blank"})
    assert EvaluationIn(**base, evidence={"signature": "sig/abc.png"}).evidence.signature == "sig/abc.png"
    assert EvaluationIn(**{**base, "method": "questionnaire"}).evidence is None


async def test_home_visit_evidence_and_recorder_are_stored(store):
    await store.handle(handlers.on_entry_completed, *completed())
    await evaluate(store, evidence={"photos": ["https://img.example.cn/a.jpg"], "signature": "sig/a.png"})
    async with store.db.session() as s:
        [row] = (await s.exec(select(EvaluationRow))).all()
    assert row.evidence == {"photos": ["https://img.example.cn/a.jpg"], "signature": "sig/a.png"}
    assert row.recorded_by == "grid-wang" and row.method == "home_visit"
