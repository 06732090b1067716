"""Triage service handlers on a real SQLite store: matters, clustering, idempotency, tenancy, regrades."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest
from sqlmodel import select

from services.contracts import Envelope, events
from services.runtime.consumer import Reject
from services.triage import handlers, history
from services.triage import service as triage_service
from services.triage.app import spec
from services.triage.models import Matter, MatterReport, Regrade
from tests.support import sqlite_store

pytestmark = pytest.mark.unit


def report(
    text: str,
    *,
    community: str = "jinshan",
    compound: str | None = "jinghuhuayuan",
    building: str | None = "3",
    reporter: str = "ref-a",
    report_id: str | None = None,
    received_at: dt.datetime | None = None,
    event_id: str | None = None,
) -> tuple[Envelope, events.ReportReceived]:
    """A report.received.v1 envelope and payload as intake would emit them."""
    rid = report_id or f"rpt_{uuid.uuid4().hex[:12]}"
    data = events.ReportReceived(
        report_id=rid,
        tracking_code="ABCD2345",
        channel="wechat_group",
        channel_message_id=f"m-{rid}",
        text=text,
        place=events.Place(compound=compound, building=building),
        received_at=received_at or dt.datetime.now(dt.UTC),
        reporter=events.MaskedReporter(ref=reporter),
    )
    env = Envelope.new(
        type="report.received.v1", source="/services/intake", community=community, subject=rid, data=data, id=event_id
    )
    return env, data


def closed(matter_id: str, community: str = "jinshan") -> tuple[Envelope, events.MatterClosed]:
    data = events.MatterClosed(matter_id=matter_id, entry_id="ent_1", by="u1", closed_at=dt.datetime.now(dt.UTC))
    env = Envelope.new(
        type="matter.closed.v1", source="/services/ledger", community=community, subject=matter_id, data=data
    )
    return env, data


async def matters(store) -> list[Matter]:
    async with store.db.session() as s:
        return list((await s.exec(select(Matter).order_by(Matter.created_at))).all())


@pytest.fixture
async def store(tmp_path):
    s = await sqlite_store(spec(), tmp_path)
    yield s
    await s.db.dispose()


async def test_new_report_makes_a_matter_and_emits_triaged(store):
    env, data = report("3号楼楼道灯坏了好几天，晚上看不见")
    await store.handle(handlers.on_report_received, env, data)
    [m] = await matters(store)
    assert m.id.startswith("mat_") and m.community == "jinshan" and m.status == "open"
    assert m.category == "lighting" and m.title == data.text and m.reporters == 1
    [out] = await store.outbox()
    assert out.type == "matter.triaged.v1" and out.subject == m.id and out.community == "jinshan"
    assert out.causationid == env.id
    # The event carries the reasons in both languages, line for line, as the matter stores them.
    assert out.data["reasons"] == m.reasons and "reasons_en" not in out.data  # no consumer reads it
    assert m.reasons_en[0].startswith("Category: Lighting (")
    payload = events.MatterTriaged.model_validate(out.data)
    assert payload.report_ids == [data.report_id] and payload.level == m.level and payload.category == "lighting"
    assert payload.place.compound == "jinghuhuayuan" and payload.reasons


async def test_duplicate_report_changes_nothing(store):
    env, data = report("3号楼楼道灯坏了")
    await store.handle(handlers.on_report_received, env, data)
    # The same report again under a new event id (the inbox would not catch it).
    env2, _ = report("3号楼楼道灯坏了", report_id=data.report_id)
    await store.handle(handlers.on_report_received, env2, data)
    assert len(await matters(store)) == 1
    assert len(await store.outbox()) == 1


async def test_second_report_same_place_joins_the_matter(store):
    e1, d1 = report("3号楼下水道堵了，污水冒出来", reporter="ref-a")
    e2, d2 = report("3号楼下水道又堵了，臭得很", reporter="ref-b")
    await store.handle(handlers.on_report_received, e1, d1)
    await store.handle(handlers.on_report_received, e2, d2)
    [m] = await matters(store)
    assert m.reporters == 2 and m.households == 2 and m.version == 2
    triaged = [e for e in await store.outbox() if e.type == "matter.triaged.v1"]
    assert len(triaged) == 2 and {e.subject for e in triaged} == {m.id}
    assert triaged[-1].data["report_ids"] == [d1.report_id, d2.report_id]
    assert triaged[-1].data["reporters"] == 2 and triaged[-1].sequence == 2


async def test_other_building_or_unlocated_reports_do_not_join(store):
    for text, building, compound in (
        ("3号楼下水道堵了", "3", "jinghuhuayuan"),
        ("5号楼下水道堵了", "5", "jinghuhuayuan"),
        ("下水道堵了", None, None),
        ("下水道也堵了", None, None),
    ):
        env, data = report(text, building=building, compound=compound)
        await store.handle(handlers.on_report_received, env, data)
    assert len(await matters(store)) == 4


async def test_old_matter_outside_window_is_not_joined(store):
    old = dt.datetime.now(dt.UTC) - handlers.CLUSTER_WINDOW - dt.timedelta(hours=1)
    e1, d1 = report("3号楼下水道堵了")
    await store.handle(handlers.on_report_received, e1, d1)
    async with store.db.session() as s:
        m = (await s.exec(select(Matter))).one()
        m.created_at = old
        s.add(m)
        await s.commit()
    e2, d2 = report("3号楼下水道又堵了", reporter="ref-b")
    await store.handle(handlers.on_report_received, e2, d2)
    assert len(await matters(store)) == 2


async def test_red_text_is_red_and_deliberate(store):
    env, data = report("3号楼电梯困人了，里面有老人，快来人", building="3")
    await store.handle(handlers.on_report_received, env, data)
    [m] = await matters(store)
    assert (m.level, m.route) == ("red", "deliberate")
    assert any("危险词" in r for r in m.reasons)


async def test_more_reporters_raise_the_grade_and_emit_regraded(store):
    for ref in ("ref-a", "ref-b", "ref-c"):
        env, data = report("3号楼楼道里有垃圾没人清", reporter=ref)
        await store.handle(handlers.on_report_received, env, data)
    [m] = await matters(store)
    assert m.reporters == 3 and m.route == "deliberate"
    out = await store.outbox()
    regraded = [e for e in out if e.type == "matter.regraded.v1"]
    assert len(regraded) == 1 and regraded[0].subject == m.id
    assert regraded[0].data["by"] == "triage" and regraded[0].data["reason"].startswith("新增报事 1 条")
    assert regraded[0].data["previous"]["route"] == "direct"
    assert [e.type for e in out].count("matter.triaged.v1") == 3
    async with store.db.session() as s:
        [audit] = (await s.exec(select(Regrade))).all()
    assert audit.by == "triage" and audit.before["route"] == "direct" and audit.after["route"] == "deliberate"
    assert history.english(audit.action, audit.reason, audit.before, audit.after) == (
        "1 new report (3 people reported it, 3 households affected): Route changed from Fix at once to Deliberate"
    )
    # The headcount regrade and the joined-reports line read in English too, in step with the Chinese.
    assert len(m.reasons_en) == len(m.reasons) and all(m.reasons_en)
    assert m.reasons[-1].startswith("合并报事 3 条")
    assert m.reasons_en[-1] == "3 reports joined (3 people reported it, 3 households affected)"
    assert "Deliberate: strong public feeling (3 people reported it)" in m.reasons_en


async def test_joining_never_lowers_the_level(store):
    e1, d1 = report("3号楼电梯困人了", reporter="ref-a")
    e2, d2 = report("3号楼电梯困人已经处理好了，人没事", reporter="ref-b")  # graded yellow on its own
    await store.handle(handlers.on_report_received, e1, d1)
    await store.handle(handlers.on_report_received, e2, d2)
    [m] = await matters(store)
    assert m.level == "red" and m.reporters == 2
    assert not [e for e in await store.outbox() if e.type == "matter.regraded.v1"]


async def test_same_place_different_problem_does_not_join(store):
    """电梯困人 and 电梯广告太吵 in one building are two matters: the wording differs, not only the category."""
    for text, reporter in (("8栋电梯困人了，快来人", "ref-a"), ("8栋电梯里的广告屏太吵了", "ref-b")):
        await store.handle(handlers.on_report_received, *report(text, building="8", reporter=reporter))
    assert len(await matters(store)) == 2


async def test_same_leak_in_other_words_joins_across_categories(store):
    """One roof leak reported as drainage and as property management joins one matter (building unknown once)."""
    texts = (
        ("5栋顶楼屋面漏水，下雨天我家天花板一直滴水", "5", "ref-a"),
        ("物业不管事，5栋楼顶渗水好几个月了，顶楼天花板滴水发霉", None, "ref-b"),
    )
    for text, building, reporter in texts:
        await store.handle(handlers.on_report_received, *report(text, building=building, reporter=reporter))
    [m] = await matters(store)
    assert m.reporters == 2


async def test_unknown_community_is_rejected(store):
    env, data = report("路灯坏了", community="nowhere")
    with pytest.raises(Reject):
        await store.handle(handlers.on_report_received, env, data)


async def test_matter_closed_closes_and_blocks_joining(store):
    e1, d1 = report("3号楼下水道堵了")
    await store.handle(handlers.on_report_received, e1, d1)
    [m] = await matters(store)
    await store.handle(handlers.on_matter_closed, *closed(m.id))
    [m] = await matters(store)
    assert m.status == "closed"
    e2, d2 = report("3号楼下水道又堵了", reporter="ref-b")
    await store.handle(handlers.on_report_received, e2, d2)
    assert len(await matters(store)) == 2


async def test_matter_closed_tenant_mismatch_is_rejected(store):
    e1, d1 = report("3号楼下水道堵了")
    await store.handle(handlers.on_report_received, e1, d1)
    [m] = await matters(store)
    with pytest.raises(Reject):
        await store.handle(handlers.on_matter_closed, *closed(m.id, community="xueyuan"))
    [m] = await matters(store)
    assert m.status == "open"


async def test_matter_closed_unknown_matter_is_ignored(store):
    await store.handle(handlers.on_matter_closed, *closed("mat_unknown"))
    assert await store.outbox() == []


async def test_regrade_flow(store):
    e1, d1 = report("3号楼楼道灯坏了")
    await store.handle(handlers.on_report_received, e1, d1)
    [m] = await matters(store)
    async with store.uow(actor="staff-1") as uow:
        m = await uow.session.get(Matter, m.id)
        m.needs_review = True
        audit = await triage_service.apply_regrade(
            uow, m, by="staff-1", level="red", route="deliberate", category="safety_fire", reason="灯下有裸露电线"
        )
        await uow.commit()
    assert audit.before["level"] == "yellow" and audit.after["level"] == "red" and "灯坏了" in audit.text
    [m] = await matters(store)
    assert (m.level, m.route, m.category, m.needs_review) == ("red", "deliberate", "safety_fire", False)
    assert m.cluster_key.endswith("|safety_fire")
    out = await store.outbox()
    assert [e.type for e in out] == ["matter.triaged.v1", "matter.regraded.v1"]
    assert out[1].data["by"] == "staff-1" and out[1].data["previous"]["category"] == "lighting"


async def test_regrade_supersedes_the_reasons_it_contradicts(store):
    """After a regrade red → yellow no live reason still says 等级：红; the old ones stay, marked superseded."""
    e1, d1 = report("8栋电梯困人了")
    await store.handle(handlers.on_report_received, e1, d1)
    [m] = await matters(store)
    assert m.level == "red" and any(r.startswith("等级：红") for r in m.reasons)
    async with store.uow(actor="staff-1") as uow:
        m = await uow.session.get(Matter, m.id)
        await triage_service.apply_regrade(uow, m, by="staff-1", who="王书记（社区党组织）",
                                     who_en="王书记 (Party organisation)", level="yellow",
                                     route="direct", category=None, reason="已核实：电梯停运，无人被困")  # fmt: skip
        await uow.commit()
    [m] = await matters(store)
    # The English twins follow line for line: superseded lines say so, the staff line names the change in words.
    assert len(m.reasons_en) == len(m.reasons)
    for zh, en in zip(m.reasons, m.reasons_en, strict=True):
        assert zh.endswith(handlers.SUPERSEDED) == en.endswith(handlers.SUPERSEDED_EN)
    assert m.reasons_en[-1] == (
        "Staff regrade (王书记 (Party organisation)): Level Red→Yellow, Route Deliberate→Fix at once; "
        "reason: 已核实：电梯停运，无人被困"
    )
    live = [r for r in m.reasons if not r.endswith(handlers.SUPERSEDED)]
    assert not any(r.startswith(("等级：红", "规则：红色一律上会议事", "危险词")) for r in live)
    assert any(r.startswith("等级：红") and r.endswith(handlers.SUPERSEDED) for r in m.reasons)
    assert any(r.startswith("类别：") for r in live)  # the category did not change: its reason stands
    # In words, by name and role: never the staff member's id or a level's code.
    assert live[-1].startswith("人工改判（王书记（社区党组织））：等级 红→黄，办理方式 上会议事→直接办理")


async def test_regrade_refuses_closed_and_red_direct(store):
    e1, d1 = report("3号楼楼道灯坏了")
    await store.handle(handlers.on_report_received, e1, d1)
    [m] = await matters(store)
    async with store.uow() as uow:
        m = await uow.session.get(Matter, m.id)
        with pytest.raises(triage_service.RegradeError) as err:
            await triage_service.apply_regrade(
                uow, m, by="x", level="red", route="direct", category=None, reason="试试"
            )
        assert err.value.status == 422
        m.status = "closed"
        with pytest.raises(triage_service.RegradeError) as err:
            await triage_service.apply_regrade(
                uow, m, by="x", level="green", route="direct", category=None, reason="试试"
            )
        assert err.value.status == 409


async def test_community_phrases_are_used():
    from services.runtime.directory import load_directory

    extra = handlers.phrase_additions(load_directory().community("xueyuan"))
    assert "下水主杠" in extra.categories["drainage"]
    assert handlers.phrase_additions(None).categories == {}


async def test_report_rows_are_stored(store):
    env, data = report("3号楼这12户都停水了", reporter="ref-z")
    await store.handle(handlers.on_report_received, env, data)
    async with store.db.session() as s:
        [row] = (await s.exec(select(MatterReport))).all()
    assert row.reporter_ref == "ref-z" and row.households_stated == 12
    [m] = await matters(store)
    assert m.households == 12


@pytest.fixture
def own_danger_phrase(tmp_path, monkeypatch):
    """A county directory where only jinshan lists '挡土墙鼓包' as a danger phrase."""
    import yaml

    from services.runtime import directory

    data = yaml.safe_load(directory.DEFAULT_PATH.read_text(encoding="utf-8"))
    [jinshan] = [c for c in data["communities"] if c["code"] == "jinshan"]
    jinshan.setdefault("phrases", {})["danger"] = ["挡土墙鼓包"]
    path = tmp_path / "county.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv(directory.ENV_VAR, str(path))
    directory.clear_cache()
    yield
    directory.clear_cache()


async def test_community_danger_phrase_is_red_only_there(store, own_danger_phrase):
    text = "小区后面的挡土墙鼓包了"
    for community in ("jinshan", "xueyuan"):
        env, data = report(text, community=community)
        await store.handle(handlers.on_report_received, env, data)
    by_community = {m.community: m for m in await matters(store)}
    assert by_community["jinshan"].level == "red" and by_community["jinshan"].route == "deliberate"
    assert any("挡土墙鼓包" in r for r in by_community["jinshan"].reasons)
    assert by_community["xueyuan"].level != "red"


async def test_stated_households_raise_a_group_need_to_yellow(store):
    env, data = report("3号楼的老人想申请助餐服务")
    await store.handle(handlers.on_report_received, env, data)
    env2, data2 = report("3号楼这边有12户老人都想申请助餐服务", reporter="ref-b")
    await store.handle(handlers.on_report_received, env2, data2)
    [m] = await matters(store)
    assert m.households == 12 and m.level == "yellow"
    [audit] = await audits(store)
    assert audit.action == "auto" and audit.before["level"] == "green" and audit.after["level"] == "yellow"


async def audits(store) -> list[Regrade]:
    async with store.db.session() as s:
        return list((await s.exec(select(Regrade).order_by(Regrade.id))).all())


async def test_confirm_clears_review_keeps_grade_and_is_a_label(store):
    env, data = report("家里闻到一点煤气味，不知道要不要紧")
    await store.handle(handlers.on_report_received, env, data)
    [m] = await matters(store)
    assert m.needs_review and m.level == "red"
    async with store.uow() as uow:
        row = await uow.session.get(Matter, m.id)
        await triage_service.confirm_grade(uow, row, by="u-party", note="已上门核实")
        await uow.commit()
    [after] = await matters(store)
    assert not after.needs_review and (after.level, after.route, after.category) == (m.level, m.route, m.category)
    assert after.version == m.version + 1 and after.reasons[-1].startswith("人工改判（工作人员）：确认原分级")
    assert after.reasons_en[-1] == "Staff regrade (Staff): grade confirmed as it was; note: 已上门核实"
    assert after.reasons_en[:-1] == m.reasons_en and len(after.reasons_en) == len(after.reasons)
    [audit] = await audits(store)
    assert audit.action == "confirm" and audit.before["needs_review"] and not audit.after["needs_review"]
    assert audit.reason == "确认原分级：已上门核实"
    assert history.english(audit.action, audit.reason) == "Grade confirmed as it was: 已上门核实"
    assert not [e for e in await store.outbox() if e.type == "matter.regraded.v1"]  # nothing changed downstream
    async with store.uow() as uow:
        row = await uow.session.get(Matter, m.id)
        with pytest.raises(triage_service.RegradeError) as err:
            await triage_service.confirm_grade(uow, row, by="u-party", note=None)
    assert err.value.status == 409
    from services.triage.cli import accepted_regrades

    [label] = await accepted_regrades(store.db)
    assert label["text"] == data.text and label["level"] == "red" and label["source"] == f"confirm:{m.id}"


async def test_staff_regrades_are_exported_and_retrained_on(store, tmp_path, monkeypatch):
    from services.runtime.settings import get_settings
    from services.triage import cli, labelled
    from services.triage.model import load

    env, data = report("楼顶平台的水箱一直在往下渗水")
    await store.handle(handlers.on_report_received, env, data)
    [m] = await matters(store)
    async with store.uow() as uow:
        row = await uow.session.get(Matter, m.id)
        await triage_service.apply_regrade(
            uow, row, by="u-party", level="yellow", route="deliberate", category="drainage", reason="影响整栋"
        )
        await uow.commit()
    [label] = await cli.accepted_regrades(store.db)
    assert (label["level"], label["route"], label["category"]) == ("yellow", "deliberate", "drainage")
    # `train --with-regrades` reads triage's own database; shrink the corpus so the test stays quick.
    monkeypatch.setenv("TRIAGE_DATABASE_URL", str(store.db.engine.url))
    monkeypatch.setenv("HALL_VAR_DIR", str(tmp_path))
    small = labelled.read_corpus()[::30]  # every writer, thinned
    monkeypatch.setattr(labelled, "read_corpus", lambda: small)
    get_settings.cache_clear()
    try:
        await asyncio.to_thread(cli.cmd_train, ["--with-regrades"])
    finally:
        get_settings.cache_clear()
    model = load(tmp_path / "triage-model.pkl")
    assert model is not None and model.trained_on["rows"] == len(small) + 1
