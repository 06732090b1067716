"""Intake handlers on a real SQLite store: reports from channel messages, idempotency, PII, status read model."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid

import pytest
from sqlalchemy import event
from sqlmodel import select

from services.contracts import Envelope, events
from services.intake import handlers
from services.intake import service as intake_service
from services.intake.app import spec
from services.intake.models import Report
from services.runtime.consumer import Reject
from services.runtime.settings import get_settings
from tests.support import sqlite_store

pytestmark = pytest.mark.unit

PHONE_ANY = re.compile(r"1[3-9]\d{9}")
# Identifiers that are random hex (event ids, report ids, reporter refs) may contain digit runs: mask them.
HEX_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|(?:rpt|r)_[0-9a-f]{20}")


@pytest.fixture
async def store(tmp_path, monkeypatch):
    """A migrated intake store; PII keys in this test's own var dir."""
    monkeypatch.setenv("HALL_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setattr(intake_service, "_vault", None)
    get_settings.cache_clear()
    s = await sqlite_store(spec(), tmp_path)
    yield s
    await s.db.dispose()


def message(
    text: str,
    *,
    community: str = "xueyuan",
    channel: str = "wechat_group",
    msg_id: str | None = None,
    name: str | None = None,
    phone: str | None = None,
    room: str | None = None,
    sender_id: str | None = None,
    place: events.Place | None = None,
) -> tuple[Envelope, events.ChannelMessage]:
    """A channel.message.v1 as an adapter publishes it."""
    sender = None
    if name or phone or room or sender_id:
        sender = events.Sender(id=sender_id, name=name, phone=phone, room=room)
    data = events.ChannelMessage(
        channel=channel,
        channel_message_id=msg_id or f"wx-{uuid.uuid4().hex[:12]}",
        text=text,
        sender=sender,
        place=place,
        received_at=dt.datetime.now(dt.UTC),
    )
    env = Envelope.new(type="channel.message.v1", source="/adapters/wecom", community=community, data=data)
    return env, data


async def reports(store) -> list[Report]:
    async with store.db.session() as s:
        return list((await s.exec(select(Report).order_by(Report.received_at))).all())


async def one_report(store, report_id: str) -> Report:
    async with store.db.session() as s:
        return (await s.exec(select(Report).where(Report.id == report_id))).one()


# ---------------------------------------------------------------- channel messages become reports


async def test_wechat_group_message_becomes_one_report_and_one_event(store):
    env, data = message("@物业 金泰和庄12栋2单元楼道灯又不亮了[图片]", name="刘秀英", phone="13800002031")
    await store.handle(handlers.on_channel_message, env, data)

    [r] = await reports(store)
    assert r.community == "xueyuan" and r.channel == "wechat_group" and r.channel_message_id == data.channel_message_id
    assert (r.compound, r.building, r.unit) == ("jintaihezhuang", "12", "2")
    assert r.unparsed == [] and r.kind == "problem" and r.status == "received"
    assert r.text == "@物业 金泰和庄12栋2单元楼道灯又不亮了"
    assert r.reporter_name_masked == "刘**" and r.reporter_phone_masked == "138****2031"
    assert r.provenance == {"source": "/adapters/wecom", "event_id": env.id}

    [out] = await store.outbox()
    assert out.type == "report.received.v1" and out.source == "/services/intake"
    assert out.community == "xueyuan" and out.subject == r.id and out.causationid == env.id
    got = events.ReportReceived.model_validate(out.data)
    assert got.report_id == r.id and got.tracking_code == r.tracking_code
    assert got.place == events.Place(compound="jintaihezhuang", building="12", unit="2")
    # "No personal data": the reference only, not even masked (刘**, 138****2031 point at a person among neighbours).
    assert got.reporter == events.MaskedReporter(ref=r.reporter_ref)
    assert "**" not in json.dumps(out.data, ensure_ascii=False)


async def test_structured_place_from_adapter_wins_and_compound_names_become_codes(store):
    env, data = message("下水道又堵了", place=events.Place(compound="金泰和庄小区", building="12", unit="2"))
    await store.handle(handlers.on_channel_message, env, data)
    [r] = await reports(store)
    assert (r.compound, r.building, r.unit, r.unparsed) == ("jintaihezhuang", "12", "2", [])


async def test_message_without_place_lists_what_is_missing(store):
    env, data = message("路口的井盖不见了，晚上很危险")
    await store.handle(handlers.on_channel_message, env, data)
    [r] = await reports(store)
    assert (r.compound, r.building, r.unit) == (None, None, None)
    assert r.unparsed == ["compound", "building", "unit"]
    [out] = await store.outbox()
    assert out.data["place"] == {"compound": None, "building": None, "unit": None}


async def test_same_channel_message_again_is_the_same_report(store):
    env, data = message("金泰和庄3号楼下水道堵了 一楼都进不去", msg_id="wx-dup-1", phone="13912345678")
    await store.handle(handlers.on_channel_message, env, data)
    again = Envelope.new(type=env.type, source=env.source, community=env.community, data=data)
    assert again.id != env.id
    await store.handle(handlers.on_channel_message, again, data)
    assert len(await reports(store)) == 1
    assert len(await store.outbox()) == 1


def incoming(msg_id: str, text: str = "金泰和庄3号楼下水道堵了") -> intake_service.Incoming:
    """A report as a channel delivers it to accept()."""
    return intake_service.Incoming(community="xueyuan", channel="wechat_group", channel_message_id=msg_id, text=text)


async def test_a_replica_storing_the_same_message_first_makes_it_the_same_report(store, monkeypatch):
    """The replica race: another replica commits the message between this one's lookup and its insert."""
    async with store.uow() as uow:
        first, created = await intake_service.accept(uow, incoming("wx-race-1"))
        await uow.commit()
    assert created
    real, looked = intake_service.find_existing, []

    async def too_early(uow, channel, channel_message_id):
        looked.append(channel_message_id)  # the first lookup ran before the other replica's commit
        return None if len(looked) == 1 else await real(uow, channel, channel_message_id)

    monkeypatch.setattr(intake_service, "find_existing", too_early)
    async with store.uow() as uow:
        again, created = await intake_service.accept(uow, incoming("wx-race-1", "另一段文字"))
        assert uow.emitted == []
        await uow.commit()
    assert (again.id, created, len(looked)) == (first.id, False, 2)
    assert [r.id for r in await reports(store)] == [first.id]
    assert len(await store.outbox()) == 1


async def test_another_conflict_than_the_channel_message_still_fails(store, monkeypatch):
    """Only the same channel message is the same report: a clash of tracking codes is an error, nothing stored."""
    from sqlalchemy.exc import IntegrityError

    monkeypatch.setattr(intake_service.domain, "new_tracking_code", lambda: "SAMECODE")
    async with store.uow() as uow:
        await intake_service.accept(uow, incoming("wx-code-1"))
        await uow.commit()
    with pytest.raises(IntegrityError):
        async with store.uow() as uow:
            await intake_service.accept(uow, incoming("wx-code-2"))
    assert len(await reports(store)) == 1


async def test_a_stored_report_changed_after_accept_is_written(store):
    """accept() leaves its new report in the session: a caller's change to it (the hotline's deadline) is kept."""
    due = dt.datetime(2026, 12, 31, 9, tzinfo=dt.UTC)
    async with store.uow() as uow:
        report, _ = await intake_service.accept(uow, incoming("wx-due-1"))
        report.expected_at = due
        await uow.commit()
    assert (await one_report(store, report.id)).expected_at.replace(tzinfo=dt.UTC) == due


async def test_same_message_id_on_another_channel_is_another_report(store):
    for channel in ("wechat_group", "miniprogram"):
        env, data = message("12-2-301漏水", msg_id="m-1", channel=channel)
        await store.handle(handlers.on_channel_message, env, data)
    assert len(await reports(store)) == 2


async def test_unknown_community_is_rejected_and_nothing_stored(store):
    env, data = message("12栋楼道灯不亮", community="nowhere")
    with pytest.raises(Reject):
        await store.handle(handlers.on_channel_message, env, data)
    assert await reports(store) == [] and await store.outbox() == []


@pytest.mark.parametrize("phone", ["12345678901", "1391234567", "0794-1234567", "abc"])
async def test_bad_sender_phone_is_rejected(store, phone):
    env, data = message("12栋楼道灯不亮", phone=phone)
    with pytest.raises(Reject):
        await store.handle(handlers.on_channel_message, env, data)
    assert await reports(store) == [] and await store.outbox() == []


async def test_suggestion_and_wish_wall_kinds(store):
    for channel, text in (("opinion_box", "建议在小区门口增设电动车充电桩"), ("wish_wall", "想要一个儿童乐园")):
        env, data = message(text, channel=channel)
        await store.handle(handlers.on_channel_message, env, data)
    assert [r.kind for r in await reports(store)] == ["suggestion", "suggestion"]


# ---------------------------------------------------------------- personal data

SURNAMES = "张王李刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧"
GIVEN = ["伟", "秀英", "娜", "建国", "静", "磊", "敏", "桂兰", "强", "丽华"]
PHONES = [f"1{3 + i % 7}{(91234567 + 7919 * i) % 100000000:08d}{i % 10}" for i in range(30)]
ROOMS = ["502", "301", "1203", "402", "601", "202", "1502", "302", "701", "503"]


def _pii_messages() -> list[tuple[str, str, str, str, int, int]]:
    """30 realistic messages carrying the sender's name, phone and room inside the text too."""
    templates = [
        "我是{b}栋{room}的{name}，电话{phone}，楼道灯坏了一个星期了",
        "{b}-{u}-{room}漏水，楼上一直不处理，联系{name} {phone}",
        "金泰和庄{b}号楼{u}单元{room}室{name}：下水道反水，电话：{p3} {p4} {p5}",
        "@物业 {b}#{u}-{room} 电梯又坏了，我妈腿脚不好下不了楼。{name}，手机{p3}-{p4}-{p5}",
        "{name}（{b}栋{u}单元{room}房）反映：楼下门市装修噪音太大，晚上十点还在施工 {phone}",
        "你好，我{name}，住{b}号楼{room}，家门口的路灯不亮，麻烦看看，回电{phone}",
    ]
    out = []
    for i in range(30):
        name = SURNAMES[i] + GIVEN[i % len(GIVEN)]
        phone, room = PHONES[i], ROOMS[i % len(ROOMS)]
        b, u = 1 + i % 12, 1 + i % 3
        text = templates[i % len(templates)].format(
            b=b, u=u, room=room, name=name, phone=phone, p3=phone[:3], p4=phone[3:7], p5=phone[7:]
        )
        out.append((text, name, phone, room, b, u))
    return out


def _without_ids(body: bytes, tracking_code: str) -> str:
    return HEX_ID.sub("<id>", body.decode()).replace(tracking_code, "<code>")


async def test_no_personal_data_leaves_intake_in_events(store):
    msgs = _pii_messages()
    assert len({m[2] for m in msgs}) == 30 and all(PHONE_ANY.fullmatch(m[2]) for m in msgs)
    for i, (text, name, phone, room, _b, _u) in enumerate(msgs):
        env, data = message(text, name=name, phone=phone, room=room, sender_id=f"wxid_{i:04d}", msg_id=f"wx-pii-{i}")
        await store.handle(handlers.on_channel_message, env, data)

    rows = await store.outbox()
    assert len(rows) == 30 and len(await reports(store)) == 30
    async with store.db.session() as s:
        bodies = [r.body for r in (await s.exec(store.tables.outbox.select())).all()]
    for body, env, (_text, name, phone, room, b, _u) in zip(bodies, rows, msgs, strict=True):
        raw = body.decode()
        assert phone not in raw and name not in raw, raw
        view = _without_ids(body, env.data["tracking_code"])
        assert not PHONE_ANY.search(view), view
        assert not re.search(rf"(?<!\d){room}(?!\d)", view), view
        assert f"{room}室" not in raw and f"{room}房" not in raw
        # What is kept: the reporter's reference (not even masked name or phone), building and unit, the problem.
        rep = env.data["reporter"]
        assert rep["ref"].startswith("r_") and rep.get("name") is None and rep.get("phone") is None
        assert env.data["place"]["building"] == str(b)
    texts = [e.data["text"] for e in rows]
    assert "楼道灯坏了一个星期了" in texts[0] and "漏水" in texts[1] and "下水道反水" in texts[2]


async def test_reporter_ref_is_stable_for_the_same_phone(store):
    refs = []
    for i, text in enumerate(["12栋楼道灯不亮", "3号楼下水道堵了", "电梯坏了"]):
        env, data = message(text, phone="13912345678", name="张伟" if i else None, msg_id=f"m-ref-{i}")
        await store.handle(handlers.on_channel_message, env, data)
    env, data = message("电梯坏了", phone="13987654321", msg_id="m-ref-other")
    await store.handle(handlers.on_channel_message, env, data)
    out = await store.outbox()
    refs = [e.data["reporter"]["ref"] for e in out]
    assert refs[0] == refs[1] == refs[2] != refs[3]
    assert "13912345678" not in refs[0]


async def test_personal_data_encrypted_at_rest(store, tmp_path):
    text = "我是3栋502的张伟，电话13912345678，卫生间往楼下渗水"
    env, data = message(text, name="张伟", phone="13912345678", room="502", msg_id="m-enc")
    await store.handle(handlers.on_channel_message, env, data)
    [r] = await reports(store)
    v = handlers.vault()
    assert v.decrypt(r.reporter_phone_enc) == "13912345678" and v.decrypt(r.reporter_name_enc) == "张伟"
    assert v.decrypt(r.room_enc) == "502" and v.decrypt(r.text_raw_enc) == text
    await store.db.dispose()  # flush everything to the file
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("intake-*.db*"))
    assert b"SQLite format 3" in raw and b"report" in raw
    for secret in ("13912345678", "张伟", "3栋502"):
        assert secret.encode() not in raw, secret
        assert secret.encode("utf-16-le") not in raw, secret


# ---------------------------------------------------------------- status read model


def _event(type_: str, data, *, community: str = "xueyuan", sequence: int | None = None, source: str = "ledger"):
    return Envelope.new(
        type=type_,
        source=f"/services/{source}",
        community=community,
        subject=data.matter_id,
        data=data,
        sequence=sequence,
    )


def triaged(matter_id: str, report_ids: list[str]) -> events.MatterTriaged:
    return events.MatterTriaged(
        matter_id=matter_id,
        report_ids=report_ids,
        title="金泰和庄12号楼2单元下水道反复堵塞",
        place=events.Place(compound="jintaihezhuang", building="12", unit="2"),
        kind="problem",
        category="drainage",
        level="yellow",
        route="deliberate",
        confidence=0.8,
        triaged_at=dt.datetime.now(dt.UTC),
    )


def task(matter_id: str, state: str, *, note: str | None = None) -> events.EntryEvent:
    return events.EntryEvent(
        entry_id="ent_1",
        matter_id=matter_id,
        state=state,
        level="yellow",
        category="drainage",
        measures="更换主管道，物业负责恢复门市地面",
        lead_party="property_company",
        lead_unit="江西锦程物业服务有限公司",
        deadline=dt.datetime(2025, 7, 31, 18, tzinfo=dt.UTC),
        note=note,
        actor="u-party",
        at=dt.datetime.now(dt.UTC),
    )


async def _filed(store, n: int = 2) -> list[str]:
    for i in range(n):
        env, data = message(f"金泰和庄12号楼2单元下水道又堵了（{i}）", msg_id=f"m-status-{i}")
        await store.handle(handlers.on_channel_message, env, data)
    return [r.id for r in await reports(store)]


async def test_status_follows_triage_ledger_and_close(store):
    ids = await _filed(store)
    t = triaged("mat_1", ids)
    await store.handle(handlers.on_matter_triaged, _event("matter.triaged.v1", t, source="triage"), t)
    for rid in ids:
        r = await one_report(store, rid)
        assert (r.matter_id, r.status, r.level) == ("mat_1", "triaged", "yellow")

    a = task("mat_1", "assigned")
    await store.handle(handlers.on_entry, _event("entry.assigned.v1", a, sequence=1), a)
    r = await one_report(store, ids[0])
    assert r.status == "assigned" and r.responsible == "江西锦程物业服务有限公司" and r.status_seq == 1
    assert r.status_note == a.measures and r.expected_at.replace(tzinfo=dt.UTC) == a.deadline

    c = task("mat_1", "completed", note="主管道已更换，地面已恢复")
    await store.handle(handlers.on_entry, _event("entry.completed.v1", c, sequence=2), c)
    assert (await one_report(store, ids[1])).status == "completed"
    assert (await one_report(store, ids[1])).status_note == "主管道已更换，地面已恢复"

    closed = events.MatterClosed(matter_id="mat_1", entry_id="ent_1", by="u-party", closed_at=dt.datetime.now(dt.UTC))
    await store.handle(handlers.on_matter_closed, _event("matter.closed.v1", closed), closed)
    for rid in ids:
        assert (await one_report(store, rid)).status == "closed"
    # The read model emits nothing.
    assert [e.type for e in await store.outbox()] == ["report.received.v1"] * 2


async def test_stale_task_event_does_not_overwrite_a_newer_one(store):
    [rid] = await _filed(store, 1)
    t = triaged("mat_2", [rid])
    await store.handle(handlers.on_matter_triaged, _event("matter.triaged.v1", t, source="triage"), t)
    done = task("mat_2", "completed", note="已修好")
    await store.handle(handlers.on_entry, _event("entry.completed.v1", done, sequence=3), done)
    late = task("mat_2", "in_progress", note="正在维修")
    await store.handle(handlers.on_entry, _event("entry.progressed.v1", late, sequence=2), late)
    r = await one_report(store, rid)
    assert (r.status, r.status_note, r.status_seq) == ("completed", "已修好", 3)


async def test_late_task_event_does_not_reopen_a_closed_report(store):
    [rid] = await _filed(store, 1)
    t = triaged("mat_3", [rid])
    await store.handle(handlers.on_matter_triaged, _event("matter.triaged.v1", t, source="triage"), t)
    closed = events.MatterClosed(matter_id="mat_3", entry_id="ent_1", by="u-party", closed_at=dt.datetime.now(dt.UTC))
    await store.handle(handlers.on_matter_closed, _event("matter.closed.v1", closed), closed)
    late = task("mat_3", "completed")
    await store.handle(handlers.on_entry, _event("entry.completed.v1", late, sequence=5), late)
    assert (await one_report(store, rid)).status == "closed"


async def test_reopened_and_regraded(store):
    [rid] = await _filed(store, 1)
    t = triaged("mat_4", [rid])
    await store.handle(handlers.on_matter_triaged, _event("matter.triaged.v1", t, source="triage"), t)
    ro = events.MatterReopened(
        matter_id="mat_4", round=2, reasons=["仍然反水", "地面未恢复"], reopened_at=dt.datetime.now(dt.UTC)
    )
    await store.handle(handlers.on_matter_reopened, _event("matter.reopened.v1", ro, source="feedback"), ro)
    rg = events.MatterRegraded(
        matter_id="mat_4",
        level="red",
        route="deliberate",
        category="drainage",
        previous=events.GradeSnapshot(level="yellow", route="deliberate", category="drainage"),
        by="u-party",
        reason="污水倒灌进门市",
        regraded_at=dt.datetime.now(dt.UTC),
    )
    await store.handle(handlers.on_matter_regraded, _event("matter.regraded.v1", rg, source="triage"), rg)
    r = await one_report(store, rid)
    # The reasons quote residents and stay with staff; reporters see that the matter is being redone.
    assert (r.status, r.status_note, r.level) == ("reopened", handlers.REOPENED_NOTE, "red")


async def test_triage_event_of_another_community_is_rejected(store):
    [rid] = await _filed(store, 1)
    t = triaged("mat_5", [rid])
    with pytest.raises(Reject):
        await store.handle(handlers.on_matter_triaged, _event("matter.triaged.v1", t, community="jinshan"), t)
    r = await one_report(store, rid)
    assert r.matter_id is None and r.status == "received"


@pytest.mark.parametrize("kind", ["task", "closed", "reopened"])
async def test_status_event_of_another_community_is_rejected(store, kind):
    [rid] = await _filed(store, 1)
    t = triaged("mat_6", [rid])
    await store.handle(handlers.on_matter_triaged, _event("matter.triaged.v1", t, source="triage"), t)
    if kind == "task":
        data, handler, type_ = task("mat_6", "assigned"), handlers.on_entry, "entry.assigned.v1"
    elif kind == "closed":
        data = events.MatterClosed(matter_id="mat_6", entry_id="e", by="x", closed_at=dt.datetime.now(dt.UTC))
        handler, type_ = handlers.on_matter_closed, "matter.closed.v1"
    else:
        data = events.MatterReopened(matter_id="mat_6", round=2, reasons=["x"], reopened_at=dt.datetime.now(dt.UTC))
        handler, type_ = handlers.on_matter_reopened, "matter.reopened.v1"
    with pytest.raises(Reject):
        await store.handle(handler, _event(type_, data, community="wenzhuang", sequence=1), data)
    assert (await one_report(store, rid)).status == "triaged"


async def test_a_matter_of_many_reports_moves_them_all_in_one_statement(store):
    # A whole building's outage: every status event updates its reports without loading one of them.
    ids = await _filed(store, 40)
    statements: list[str] = []

    @event.listens_for(store.db.engine.sync_engine, "before_cursor_execute")
    def _seen(_conn, _cursor, statement, _params, _context, _many):
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE")) and " report" in statement:
            statements.append(statement.split()[0])

    t = triaged("mat_40", ids)
    await store.handle(handlers.on_matter_triaged, _event("matter.triaged.v1", t, source="triage"), t)
    a = task("mat_40", "assigned")
    await store.handle(handlers.on_entry, _event("entry.assigned.v1", a, sequence=1), a)
    assert statements == ["UPDATE", "UPDATE"]
    assert {(r.matter_id, r.status, r.status_seq) for r in await reports(store)} == {("mat_40", "assigned", 1)}


async def test_status_events_for_unknown_matter_are_ignored(store):
    a = task("mat_none", "assigned")
    await store.handle(handlers.on_entry, _event("entry.assigned.v1", a, sequence=1), a)
    t = triaged("mat_none", ["rpt_missing"])
    await store.handle(handlers.on_matter_triaged, _event("matter.triaged.v1", t, source="triage"), t)
    assert await reports(store) == []
