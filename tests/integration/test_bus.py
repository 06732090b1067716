"""The runtime's reliability claims (DESIGN.md §3) against a real RabbitMQ, SQLite and PostgreSQL.

Outbox: a commit publishes exactly once, a rollback publishes nothing, two relays never double-send,
a commit wakes the relay at once. Inbox: a duplicate changes nothing. Failures: retries then DLQ,
bad payloads and rejections straight to the DLQ, and the consumer keeps serving throughout.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections import Counter

import aio_pika
import pytest
from sqlalchemy import event

from services.contracts import CONTENT_TYPE, EVENTS_EXCHANGE, Envelope
from services.runtime.consumer import ATTEMPT_HEADER, QUEUE_HEADER, REASON_HEADER, Reject
from services.runtime.db import Database
from services.runtime.relay import Relay
from services.runtime.topology import declare_exchanges
from services.runtime.uow import UnitOfWork, write_outbox
from tests.integration.bus_kit import (
    COMMUNITY,
    EVENT,
    QUEUE,
    Probe,
    closed,
    drain,
    emit,
    envelope,
    eventually,
    peek,
    probe_bus,
    probe_store,
    publish_raw,
    running,
    tap,
    track_deliveries,
)

pytestmark = pytest.mark.integration

DLQ = f"{QUEUE}.dlq"


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request, tmp_path):
    """The probe's database, on SQLite and on PostgreSQL."""
    async with probe_store(request.param, tmp_path) as s:
        yield s


@pytest.fixture
async def sqlite_store(tmp_path):
    """The probe's database on SQLite only (for claims that do not depend on the database)."""
    async with probe_store("sqlite", tmp_path) as s:
        yield s


async def dead(url: str, event_id: str):
    """The DLQ copy of one event, or None."""
    return next((p for p in await peek(url, DLQ) if p.message_id == event_id), None)


# 1 -----------------------------------------------------------------------------------------


async def test_outbox_commit_publishes_exactly_once(hall_env, store):
    async with running(probe_bus(store, hall_env)) as bus, tap(hall_env.amqp_url) as t:
        env = await emit(bus, "m1")
        await eventually(lambda: env.id in t.ids, what="the event arrives")
        # Nothing else is on its way: a later event arrives behind it, and nothing in between.
        later = await emit(bus, "m2")
        await eventually(lambda: later.id in t.ids, what="the later event arrives")
        assert t.ids == [env.id, later.id]

        got = t.received[0]
        assert got.body == env.to_bytes()
        assert got.type == EVENT and got.content_type == CONTENT_TYPE

        async def both_marked_sent():
            rows = await store.outbox()
            return len(rows) == 2 and all(r.sent_at is not None for r in rows) and rows

        rows = await eventually(both_marked_sent, what="outbox rows marked sent")
        assert [r.event_id for r in rows] == [env.id, later.id]
        assert all(r.claim is None for r in rows)
        assert await bus.relay.pending() == 0


# 2 -----------------------------------------------------------------------------------------


async def test_crash_before_commit_publishes_nothing(hall_env, sqlite_store):
    store = sqlite_store
    async with running(probe_bus(store, hall_env)) as bus, tap(hall_env.amqp_url) as t:
        with pytest.raises(RuntimeError, match="crash"):
            async with bus.uow() as uow:
                await uow.emit(EVENT, community=COMMUNITY, subject="m1", data=closed("m1"))
                await uow.session.exec(store.effects.insert().values(id="x", event_id="x"))
                raise RuntimeError("crash before commit")
        # A unit of work left without commit is no different.
        async with bus.uow() as uow:
            await uow.emit(EVENT, community=COMMUNITY, subject="m2", data=closed("m2"))

        assert await store.outbox() == []
        assert await store.count(store.effects) == 0
        assert await store.count(store.tables.subject_seq) == 0
        # Two relay cycles find nothing to publish.
        assert await bus.relay.run_once() == 0
        assert await bus.relay.run_once() == 0
        # Messages of one relay reach a queue in order: once a committed event arrives, anything
        # published before it would have arrived too.
        sentinel = await emit(bus, "m3")
        await eventually(lambda: sentinel.id in t.ids, what="the committed event arrives")
        assert t.ids == [sentinel.id]
        assert [r.event_id for r in await store.outbox()] == [sentinel.id]


# 3 -----------------------------------------------------------------------------------------


async def test_same_event_three_times_has_one_effect(hall_env, store):
    probe = Probe(store)
    async with running(probe_bus(store, hall_env, probe)) as bus:
        deliveries = track_deliveries(bus)
        env = envelope("m1")
        await publish_raw(hall_env.amqp_url, QUEUE, env.to_bytes(), message_id=env.id, type=EVENT, copies=3)
        await eventually(lambda: len(deliveries) == 3, what="three deliveries processed")

        assert await store.effects_of(env.id) == 1
        assert await store.count(store.tables.inbox) == 1
        assert await store.count(store.tables.inbox, store.tables.inbox.c.event_id == env.id) == 1
        assert probe.calls == ["m1"]  # the duplicates never reached the handler
        assert await peek(hall_env.amqp_url, DLQ) == []
        assert await drain(hall_env.amqp_url, QUEUE) == []  # all three acked


# 4 -----------------------------------------------------------------------------------------


async def test_failing_handler_retries_then_dead_letters_while_serving_others(hall_env, sqlite_store):
    store = sqlite_store

    async def behave(env, data):
        if data.matter_id.startswith("bad"):
            raise RuntimeError("boom")

    probe = Probe(store, behave=behave)
    async with running(probe_bus(store, hall_env, probe, retry_delays_ms=(200, 400))) as bus:
        bad = await emit(bus, "bad1")
        await eventually(lambda: probe.calls_for("bad1") >= 1, what="first failed attempt")
        # While the bad one waits in a retry queue, the consumer keeps serving.
        good = await emit(bus, "good1")
        await eventually(lambda: store.effects_of(good.id), what="good event handled")

        parked = await eventually(lambda: dead(hall_env.amqp_url, bad.id), what="bad event in the DLQ")
        assert parked.headers[REASON_HEADER] == "failed 3 times: RuntimeError('boom')"
        assert parked.headers[QUEUE_HEADER] == QUEUE
        assert parked.headers[ATTEMPT_HEADER] == 2  # the two retries, through both delays
        assert probe.calls_for("bad1") == 3
        assert await store.effects_of(bad.id) == 0

        after = await emit(bus, "good2")
        await eventually(lambda: store.effects_of(after.id), what="consumer still serving")
        assert [p.message_id for p in await peek(hall_env.amqp_url, DLQ)] == [bad.id]
        for delay in (200, 400):
            assert await drain(hall_env.amqp_url, f"{QUEUE}.retry.{delay}") == []


# 5 -----------------------------------------------------------------------------------------


async def test_malformed_messages_go_to_dlq_on_first_delivery(hall_env, sqlite_store):
    store = sqlite_store
    probe = Probe(store)
    url = hall_env.amqp_url
    no_community = json.loads(envelope("m1").to_bytes())
    del no_community["community"]
    unknown = json.loads(envelope("m2").to_bytes())
    unknown["type"] = "widget.exploded.v1"
    bad_payload = json.loads(envelope("m3").to_bytes())
    del bad_payload["data"]["matter_id"]
    cases = {
        "not-json": (b"\xffthis is not json{", "schema: body is not JSON"),
        "no-community": (json.dumps(no_community).encode(), "schema: community: Field required"),
        "unknown-type": (json.dumps(unknown).encode(), "schema: unknown event type 'widget.exploded.v1'"),
        "bad-payload": (json.dumps(bad_payload).encode(), "schema: data.matter_id: Field required"),
    }
    async with running(probe_bus(store, hall_env, probe)) as bus:
        deliveries = track_deliveries(bus)
        for message_id, (body, _) in cases.items():
            await publish_raw(url, QUEUE, body, message_id=message_id)

        async def all_parked():
            got = {p.message_id: p for p in await peek(url, DLQ)}
            return got if set(got) == set(cases) else None

        parked = await eventually(all_parked, what="every malformed message in the DLQ")
        for message_id, (_, reason) in cases.items():
            headers = parked[message_id].headers
            assert headers[REASON_HEADER].startswith(reason), (message_id, headers[REASON_HEADER])
            assert headers[QUEUE_HEADER] == QUEUE
            assert ATTEMPT_HEADER not in headers  # never went through a retry queue
        # Each was delivered exactly once: no retry, no redelivery.
        assert sorted(m.message_id for m in deliveries) == sorted(cases)
        assert probe.calls == []

        good = await emit(bus, "good")
        await eventually(lambda: store.effects_of(good.id), what="consumer still serving")
        assert await store.count(store.tables.inbox) == 1


# 6 -----------------------------------------------------------------------------------------


async def test_two_relays_publish_each_event_exactly_once(hall_env, tmp_path):
    url, total = hall_env.amqp_url, 500
    async with probe_store("postgresql", tmp_path) as store:
        conn = await aio_pika.connect_robust(url)
        replicas = [Database(store.db.url), Database(store.db.url)]
        try:
            ch = await conn.channel()
            exchanges = await declare_exchanges(ch)
            queue = await ch.declare_queue("probe.count", durable=True)
            await queue.bind(exchanges[EVENTS_EXCHANGE], routing_key=EVENT)

            async def connection():
                return conn

            relays = [Relay(db, store.tables, connection, service="probe", batch=20) for db in replicas]
            committed: list[str] = []
            done_committing = asyncio.Event()

            async def commit_all():
                # Committed while the relays run, in transactions of 50.
                for chunk in range(total // 50):
                    async with store.db.session() as s:
                        uow = UnitOfWork(s, store.tables, service="probe", on_commit=lambda: None)
                        for i in range(50):
                            m = f"m{chunk}-{i}"
                            committed.append((await uow.emit(EVENT, community=COMMUNITY, subject=m, data=closed(m))).id)
                        await uow.commit()
                    await asyncio.sleep(0)
                done_committing.set()

            async def pump(relay: Relay) -> int:
                published = 0
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    n = await relay.run_once()
                    published += n
                    if n == 0:
                        if done_committing.is_set() and await relay.pending() == 0:
                            return published
                        await asyncio.sleep(0.01)
                raise AssertionError("relays did not drain the outbox")

            _, a, b = await asyncio.gather(commit_all(), pump(relays[0]), pump(relays[1]))
            print(f"\nrelay A published {a}, relay B published {b}")
            assert a + b == total  # no row was marked sent twice
            assert len(set(committed)) == total

            # Every publish was confirmed before its row was marked sent, so all are in the queue now.
            received = Counter(await drain(url, "probe.count"))
            assert set(received) == set(committed)
            assert [i for i, n in received.items() if n != 1] == []
            assert sum(received.values()) == total
            assert await store.count(store.tables.outbox, store.tables.outbox.c.sent_at.is_(None)) == 0
        finally:
            await conn.close()
            for db in replicas:
                await db.dispose()


# 7 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("poll_ms", [100, 10_000], ids=["poll-100ms", "poll-10s"])
async def test_commit_wakes_the_relay(hall_env, sqlite_store, poll_ms):
    # With a 10 s poll, only the wake-up after commit can explain a sub-second delivery.
    settings = hall_env.model_copy(update={"relay_poll_ms": poll_ms})
    latencies = []
    async with running(probe_bus(sqlite_store, settings)) as bus, tap(settings.amqp_url) as t:
        for i in range(10):
            async with bus.uow() as uow:
                env = await uow.emit(EVENT, community=COMMUNITY, subject=f"m{i}", data=closed(f"m{i}"))
                started = time.perf_counter()
                await uow.commit()
            got = await eventually(
                lambda env=env: next((r for r in t.received if r.message_id == env.id), None), interval=0.001
            )
            latencies.append(got.at - started)
    ms = sorted(round(x * 1000, 1) for x in latencies)
    print(f"\nrelay wake latency (poll {poll_ms} ms), commit -> received, ms: {ms} median {statistics.median(ms)}")
    assert max(latencies) < 1.0


async def test_a_group_publishes_its_own_events_after_commit_without_a_claim(hall_env, store):
    # Poll every 10 s and count the relay's claim statements: only the hand-over after commit can explain it.
    settings = hall_env.model_copy(update={"relay_poll_ms": 10_000})
    claims: list[str] = []

    @event.listens_for(store.db.engine.sync_engine, "before_cursor_execute")
    def _claims(_conn, _cursor, statement, _params, _context, _many):
        if statement.lstrip().upper().startswith("UPDATE OUTBOX SET AVAILABLE_AT"):
            claims.append(statement)

    async def work(uow):
        return [await uow.emit(EVENT, community=COMMUNITY, subject=f"g{i}", data=closed(f"g{i}")) for i in range(3)]

    async with running(probe_bus(store, settings)) as bus, tap(settings.amqp_url) as t:
        first = await emit(bus, "opens-the-channel")  # the loop publishes it; hand-over needs an open channel
        await eventually(lambda: first.id in t.ids, what="the first event arrives")
        claims.clear()
        envs = await bus.run(work)
        await eventually(lambda: len(t.ids) == 4, timeout=2, what="the group's events arrive")
        assert sorted(t.ids[1:]) == sorted(e.id for e in envs)

        async def all_sent():
            rows = await store.outbox()
            return all(r.sent_at is not None and r.claim is None for r in rows) and rows

        await eventually(all_sent, timeout=2, what="rows marked sent")
        assert claims == []


async def test_rows_handed_to_a_publisher_that_died_are_published_after_the_lease(hall_env, store):
    async with running(probe_bus(store, hall_env)) as bus, tap(hall_env.amqp_url) as t:
        relay = Relay(store.db, store.tables, bus.get_connection, service="probe", lease_s=1)
        assert relay.lease() is None  # its loop does not run: committers wake it instead
        relay.running = True
        assert relay.lease() is None  # no open channel (none yet, or the broker is away): the same
        await relay._open()  # as if its loop had published before
        rows = [{**row, "attempts": 0} for row in await _outbox_rows(store, "orphan")]
        async with store.db.session() as s:
            await write_outbox(s, store.tables, rows, relay.lease())
            await s.commit()
        written = time.monotonic()
        # The publisher "died" before adopt(): nobody may take the rows while the lease lasts...
        assert await bus.relay.run_once() == 0
        # ...and the running relay's loop publishes them once it ended.
        await eventually(lambda: t.ids == [rows[0]["event_id"]], what="the orphaned event arrives")
        assert time.monotonic() - written >= 0.9


async def test_an_unroutable_event_is_retried_when_its_backoff_ends_not_at_the_next_poll(hall_env, sqlite_store):
    # Poll every 60 s: only the relay waking for the backoff it set explains a retry within seconds.
    settings = hall_env.model_copy(update={"relay_poll_ms": 60_000})
    async with running(probe_bus(sqlite_store, settings)) as bus:
        env = await emit(bus, "nobody-listens-yet")  # no queue is bound: the broker returns it

        async def failed_once():
            rows = await sqlite_store.outbox()
            return rows[0].attempts >= 1 and rows[0].sent_at is None and rows[0]

        row = await eventually(failed_once, what="the first publish returned")
        assert "not delivered" in row.last_error
        async with tap(settings.amqp_url) as t:
            bound = time.monotonic()
            # Backoffs double from 0.5 s: even if a few retries fail before the tap is bound (binding takes seconds
            # on a loaded machine), the next ends well before the 60 s poll would.
            await eventually(lambda: env.id in t.ids, timeout=45, what="the event after its backoff")
            assert time.monotonic() - bound < 45


async def test_a_restarted_process_takes_over_the_leases_its_previous_run_died_holding(hall_env, store):
    # Its previous run committed events leased to itself and was killed before publishing them; another
    # instance (a replica elsewhere) did the same. The restart publishes its own at once, not after 30 s.
    me, other = "host-a:probe:8101", "host-b:probe:8101"
    conn = await aio_pika.connect_robust(hall_env.amqp_url)
    try:

        async def connection():
            return conn

        for instance, subject in ((me, "mine"), (other, "theirs")):
            previous = Relay(store.db, store.tables, connection, service="probe", instance=instance)
            previous.running = True
            await previous._open()  # as if its loop had published before: it leases
            rows = [{**row, "attempts": 0} for row in await _outbox_rows(store, subject)]
            async with store.db.session() as s:
                await write_outbox(s, store.tables, rows, previous.lease())
                await s.commit()
        mine, theirs = [Envelope.from_bytes(r.body).id for r in await store.outbox()]
        settings = hall_env.model_copy(update={"instance": me})
        async with tap(hall_env.amqp_url) as t:
            started = time.monotonic()
            async with running(probe_bus(store, settings)):
                await eventually(lambda: mine in t.ids, timeout=15, what="its own orphaned event")
                assert time.monotonic() - started < 15  # the lease would hold it for 30 s
                # A row free for any relay, written after theirs: once it is out, a poll passed theirs over.
                [marker] = await _outbox_rows(store, "marker")
                async with store.db.session() as s:
                    await write_outbox(s, store.tables, [marker])
                    await s.commit()
                await eventually(lambda: marker["event_id"] in t.ids, timeout=15, what="the marker, a poll later")
                assert theirs not in t.ids  # the other instance's lease still holds
    finally:
        await conn.close()


async def test_stop_ends_even_when_the_broker_stops_answering(hall_env, sqlite_store, monkeypatch):
    # The broker link freezes (a proxy holds every byte for an hour): each step of the graceful stop gives
    # up after its bound instead of waiting forever, so the process can exit and be restarted.
    from services.runtime import bus as bus_module
    from services.runtime import consumer as consumer_module
    from tests.e2e.faultproxy import FaultProxy

    monkeypatch.setattr(consumer_module, "STOP_STEP_S", 1.0)
    monkeypatch.setattr(bus_module, "STOP_STEP_S", 1.0)
    proxy = FaultProxy().start()
    try:
        url = hall_env.amqp_url.replace(":5672/", f":{proxy.port}/")
        settings = hall_env.model_copy(update={"amqp_url": url})
        bus = probe_bus(sqlite_store, settings, Probe(sqlite_store))
        await bus.start()
        await bus.wait_ready()
        await emit(bus, "before-the-freeze")
        proxy.delay_s = 3600
        started = time.monotonic()
        await asyncio.wait_for(bus.stop(), 60)
        assert time.monotonic() - started < 30
    finally:
        proxy.stop()


async def _outbox_rows(store, subject: str) -> list[dict]:
    """The outbox row a unit of work would write for one event (not written)."""
    async with store.db.session() as s:
        uow = UnitOfWork(s, store.tables, service="probe", on_commit=lambda: None)
        await uow.emit(EVENT, community=COMMUNITY, subject=subject, data=closed(subject))
        rows = uow.take_outbox()
        await s.rollback()
    return rows


# 8 -----------------------------------------------------------------------------------------


async def test_reject_goes_straight_to_dlq(hall_env, sqlite_store):
    store = sqlite_store

    async def behave(env, data):
        if data.matter_id.startswith("foreign"):
            raise Reject("matter belongs to another community")

    probe = Probe(store, behave=behave)
    async with running(probe_bus(store, hall_env, probe)) as bus:
        deliveries = track_deliveries(bus)
        rejected = await emit(bus, "foreign1")
        parked = await eventually(lambda: dead(hall_env.amqp_url, rejected.id), what="rejected event in the DLQ")
        assert parked.headers[REASON_HEADER] == "rejected: matter belongs to another community"
        assert ATTEMPT_HEADER not in parked.headers
        assert probe.calls == ["foreign1"]  # no retry
        assert [m.message_id for m in deliveries] == [rejected.id]
        assert await store.effects_of(rejected.id) == 0
        assert await store.count(store.tables.inbox) == 0  # rolled back with the handler's work

        good = await emit(bus, "good")
        await eventually(lambda: store.effects_of(good.id), what="consumer still serving")
