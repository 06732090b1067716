"""The county's holiday table travels as an event: a year entered on meeting reaches the ledger's and feedback's own
databases over the real broker (a private vhost), and changes the ledger's deadlines; a duplicate or older version
changes nothing, and a bad message is dead-lettered while the consumer goes on.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools

import aio_pika
import pytest
from fastapi.testclient import TestClient

from services.contracts import EVENTS_EXCHANGE, Envelope
from services.contracts.events import WorkcalYearEntered
from services.feedback import models as feedback_models
from services.feedback.app import spec as feedback_spec
from services.ledger import models as ledger_models
from services.ledger.app import spec as ledger_spec
from services.ledger.domain import TZ, deadline_for
from services.meeting import cli
from services.meeting import models as meeting_models
from services.meeting.app import spec as meeting_spec
from services.runtime import directory, holidays, workcal, workcal_store
from services.runtime.auth import mint
from services.runtime.service import create_app
from services.runtime.settings import get_settings
from tests import support

pytestmark = pytest.mark.integration
wait_for = functools.partial(support.wait_for, timeout=60.0, interval=0.2)

# A fictional arrangement (test data only, never a real notice): what the county would enter for 2027.
BODY = {
    "source": "测试用安排（非真实通知）",
    "holidays": ["2027-01-01", "2027-01-02", "2027-01-03"],
    "workdays": ["2027-01-09"],
}
START = dt.datetime(2026, 12, 30, 10, 0, tzinfo=TZ)  # a Wednesday; a red matter has 3 workdays
TABLES = {m.__name__.split(".")[1]: m.workcal_years for m in (meeting_models, ledger_models, feedback_models)}


def _quiet(spec):
    return create_app(dataclasses.replace(spec, periodic=lambda _ctx: []))  # no planner, sweeps or notices


@pytest.fixture
def apps(hall_env, tmp_path, monkeypatch):
    """Meeting, ledger and feedback, each with its lifespan (migrations, consumers, relay) and own SQLite file."""
    for name in ("meeting", "ledger", "feedback"):
        monkeypatch.setenv(f"{name.upper()}_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / f'{name}.db'}")
    monkeypatch.setenv(holidays.ENV_VAR, str(tmp_path / "holidays.yaml"))  # an empty seed
    get_settings.cache_clear()
    directory.clear_cache()
    holidays.reset()
    workcal.clear_cache()
    with (
        TestClient(_quiet(meeting_spec())) as meeting,
        TestClient(_quiet(ledger_spec())) as ledger,
        TestClient(_quiet(feedback_spec())) as feedback,
    ):
        for c in (meeting, ledger, feedback):
            c.portal.call(c.app.state.ctx.bus.wait_ready)
        yield meeting, ledger, feedback
    holidays.reset()
    workcal.clear_cache()


def table_of(client: TestClient):
    return TABLES[client.app.state.ctx.service]


def stored(client: TestClient) -> dict[int, holidays.Year]:
    """The years in this service's own database."""
    ctx = client.app.state.ctx

    async def read():
        async with ctx.db.session() as s:
            return await workcal_store.load(s, table_of(client))

    return client.portal.call(read)


def consumed(client: TestClient, event_id: str) -> bool:
    """Whether the service's workcal consumer has committed this event (its inbox row)."""
    ctx = client.app.state.ctx

    async def read():
        t = ctx.bus.tables.inbox
        async with ctx.db.session() as s:
            q = t.select().where(t.c.consumer == f"{ctx.service}.workcal", t.c.event_id == event_id)
            return (await s.exec(q)).first() is not None

    return client.portal.call(read)


def outbox(client: TestClient) -> list[Envelope]:
    ctx = client.app.state.ctx

    async def read():
        t = ctx.bus.tables.outbox
        async with ctx.db.session() as s:
            return [Envelope.from_bytes(r.body) for r in (await s.exec(t.select().order_by(t.c.id))).all()]

    return [e for e in client.portal.call(read) if e.type == workcal_store.EVENT]


async def publish(url: str, *messages: tuple[bytes, dict, str]) -> None:
    """Publish raw bodies on hall.events with confirms, as a service (or an intruder) would."""
    conn = await aio_pika.connect(url)
    async with conn:
        ch = await conn.channel(publisher_confirms=True)
        ex = await ch.get_exchange(EVENTS_EXCHANGE)
        for body, headers, message_id in messages:
            msg = aio_pika.Message(body, message_id=message_id, headers=headers, content_type="application/json")
            await ex.publish(msg, routing_key=workcal_store.EVENT, mandatory=True)


async def dlq_depth(url: str, queue: str) -> int:
    conn = await aio_pika.connect(url)
    async with conn:
        ch = await conn.channel()
        q = await ch.declare_queue(queue, passive=True)
        return q.declaration_result.message_count


def version(year: int, updated_at: dt.datetime, off: list[str], on: list[str] | None = None, **env) -> Envelope:
    data = WorkcalYearEntered(year=year, source=BODY["source"], holidays=off, workdays=on or [], updated_at=updated_at)
    fields = {"community": "jinxi", "source": "/services/meeting", "subject": str(year)} | env
    return Envelope.new(type=workcal_store.EVENT, data=data, **fields)


def test_a_year_entered_on_meeting_reaches_the_ledgers_own_copy_and_its_deadlines(apps, hall_env):
    meeting, ledger, feedback = apps
    assert workcal.source_of(2027) is None
    before = deadline_for("red", START)  # Mon-Fri fallback: Thu 31, Fri 1, Mon 4
    assert before == dt.datetime(2027, 1, 4, 18, 0, tzinfo=TZ)

    county = {"Authorization": f"Bearer {mint(sub='county-op-1', role='county_operator', communities=['*'])}"}
    r = meeting.put("/v1/workcal/years/2027", json=BODY, headers=county)
    assert r.status_code == 200, r.text
    [event] = outbox(meeting)
    wait_for(lambda: 2027 in stored(ledger), what="the ledger's database keeps 2027")
    wait_for(lambda: 2027 in stored(feedback), what="feedback's database keeps 2027")
    copy = stored(ledger)[2027]
    assert sorted(d.isoformat() for d in copy.holidays) == BODY["holidays"] and copy.source == BODY["source"]
    assert copy.updated_by == "" and copy.changes == ()  # who entered it stays in meeting's table of record
    assert copy.updated_at == stored(meeting)[2027].updated_at

    # A ledger process knows only its own database: forget everything, read the ledger's copy, count again.
    holidays.reset()
    workcal.clear_cache()
    assert deadline_for("red", START) == before
    ledger.portal.call(workcal_store.refresh, ledger.app.state.ctx.db, table_of(ledger))
    assert deadline_for("red", START) == dt.datetime(2027, 1, 5, 18, 0, tzinfo=TZ)  # Thu 31, Mon 4, Tue 5

    # The same event again (a redelivery) and an older version under a new id (late): both change nothing.
    older = version(2027, event.time - dt.timedelta(days=1), ["2027-01-01"])
    url = hall_env.amqp_urls_for("ledger")[0]
    ledger.portal.call(
        publish,
        url,
        (event.to_bytes(), support.signed(event), event.id),
        (older.to_bytes(), support.signed(older), older.id),
    )
    wait_for(lambda: consumed(ledger, older.id), what="the ledger consumed the late version")
    assert stored(ledger)[2027] == copy

    # Bad messages are dead-lettered with their reason; the consumer goes on and takes the next good version.
    monday = version(2027, event.time + dt.timedelta(days=1), ["2027-01-01"], ["2027-01-04"])  # 调休 on a Monday
    other = version(2027, event.time + dt.timedelta(days=1), ["2027-01-01"], community="xueyuan")  # not the county
    broken = Envelope.new(
        type=workcal_store.EVENT, source="/services/meeting", community="jinxi", data={"year": 2027}
    )  # no arrangement: a schema error
    unsigned = version(2027, event.time + dt.timedelta(days=1), ["2027-01-01"])
    newer = version(2027, event.time + dt.timedelta(days=2), ["2027-01-01", "2027-01-02", "2027-01-03"], [])
    ledger.portal.call(
        publish,
        url,
        (monday.to_bytes(), support.signed(monday), monday.id),
        (other.to_bytes(), support.signed(other), other.id),
        (broken.to_bytes(), support.signed(broken), broken.id),
        (unsigned.to_bytes(), {}, unsigned.id),
        (newer.to_bytes(), support.signed(newer), newer.id),
    )
    wait_for(lambda: not stored(ledger)[2027].workdays, what="the newer version replaces the year")
    wait_for(lambda: ledger.portal.call(dlq_depth, url, "ledger.workcal.dlq") == 4, what="four dead-lettered")
    assert stored(ledger)[2027].updated_at == holidays.stamp(newer.data["updated_at"]).isoformat()


def test_a_copy_that_missed_the_year_gets_it_when_meeting_announces_its_table_again(apps):
    meeting, ledger, feedback = apps
    county = {"Authorization": f"Bearer {mint(sub='county-op-1', role='county_operator', communities=['*'])}"}
    assert meeting.put("/v1/workcal/years/2027", json=BODY, headers=county).status_code == 200
    wait_for(lambda: 2027 in stored(feedback) and 2027 in stored(ledger), what="both copies keep 2027")
    kept = stored(ledger)[2027]

    async def lose():  # a restored feedback database without the year
        async with feedback.app.state.ctx.db.session() as s:
            await s.exec(TABLES["feedback"].delete())
            await s.commit()

    feedback.portal.call(lose)
    assert stored(feedback) == {}
    assert meeting.portal.call(cli.announce, meeting.app.state.ctx.db) == [2027]
    wait_for(lambda: 2027 in stored(feedback), what="feedback takes the year announced again")
    assert stored(feedback)[2027] == kept and len(outbox(meeting)) == 2
    wait_for(lambda: all(consumed(ledger, e.id) for e in outbox(meeting)), what="the ledger saw both")
    assert stored(ledger)[2027] == kept  # the same version again: nothing changes


async def test_the_newest_wins_rule_holds_on_postgresql_too():
    """The copy's upsert (insert, else lock and compare) on PostgreSQL: newer replaces, older and equal don't."""
    t0 = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.UTC)

    def year(at: dt.datetime, off: list[str]) -> holidays.Year:
        return workcal_store.year_of(WorkcalYearEntered(**version(2027, at, off).data))

    async with support.pg_store(ledger_spec(), "workcal") as store:
        table = TABLES["ledger"]
        for candidate, kept in (
            (year(t0, ["2027-01-01"]), True),
            (year(t0, ["2027-01-01", "2027-01-02"]), False),  # the same stamp again
            (year(t0 - dt.timedelta(hours=1), ["2027-01-03"]), False),  # late
            (year(t0 + dt.timedelta(hours=1), ["2027-01-01", "2027-01-02", "2027-01-03"]), True),
        ):
            async with store.db.session() as s:
                assert await workcal_store.store(s, table, candidate, dialect="postgresql") is kept
                await s.commit()
        async with store.db.session() as s:
            [final] = (await workcal_store.load(s, table)).values()
        assert len(final.holidays) == 3 and holidays.stamp(final.updated_at) == t0 + dt.timedelta(hours=1)
