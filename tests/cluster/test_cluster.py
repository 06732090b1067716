"""The five services on a 3-node RabbitMQ cluster and a PostgreSQL primary + hot standby, while nodes fail.

One platform runs through the module's cases in order, under a steady stream of reports: the leader of the
queues crashes (SIGKILL) and comes back; a follower is shut down and comes back; the leader is frozen (SIGSTOP)
past the net tick time and thawed; last, the database primary stops and the standby is promoted. After each:
every report in one matter, every matter one ledger entry, every outbox row sent, no queue holding a message,
DLQs empty; the recovery time is printed as `CLUSTER <case> ... recovery_s=<s>` (docs/faults.md).

Each service's database URL names both PostgreSQL servers (`host=…&host=…&target_session_attrs=read-write`), so
its connections go to whichever accepts writes.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest

from tests.cluster.nodes import NET_TICKTIME_S, PgPair, RabbitCluster, RabbitNode
from tests.cluster.reconcile import Stream, in_background, settle
from tests.e2e.platform import SERVICES, Platform, eventually

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(600)]  # a first test also boots the nodes

PROBE_QUEUE = "triage.reports"  # the queue whose leader the faults aim at (every report passes through it)
PER_CASE = 20  # reports streamed around each fault


@pytest.fixture(scope="module")
def db_urls(pg_pair: PgPair) -> dict[str, str]:
    """A database per service on the primary, each reached through the multi-host URL."""
    asyncio.run(_create_databases(pg_pair.single_url(0, "postgres").replace("+asyncpg", "")))
    return {s: pg_pair.url(s) for s in SERVICES}


@pytest.fixture(scope="module")
def cluster_platform(tmp_path_factory, rabbit_cluster: RabbitCluster, cluster_vhost, db_urls):
    """The platform connected through the list of the cluster's nodes (queues with 3 replicas) and both databases."""
    _, url = cluster_vhost
    env = {
        "HALL_AMQP_NODES": rabbit_cluster.addresses,
        "HALL_QUORUM_GROUP_SIZE": "3",
        **{f"{s.upper()}_DATABASE_URL": u for s, u in db_urls.items()},
    }
    p = Platform(tmp_path_factory.mktemp("cluster"), url, extra_env=env)
    with p.running():
        yield p


async def _create_databases(admin_url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url)
    try:
        for s in SERVICES:
            await conn.execute(f'CREATE DATABASE "{s}"')
    finally:
        await conn.close()


async def _is_primary(url: str) -> bool:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return not await conn.fetchval("SELECT pg_is_in_recovery()")
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def stream(cluster_platform):
    """The report stream shared by the cases (report numbers go on from case to case)."""
    return Stream(cluster_platform)


def _queues(cluster: RabbitCluster, vhost: str) -> dict[str, list[str]]:
    """Each queue's type, leader, members, ready and unacked messages."""
    out = cluster.any_up().ctl(
        "list_queues", "-q", "--no-table-headers", "-p", vhost, "name", "type", "leader", "members",
        "messages_ready", "messages_unacknowledged",
    )  # fmt: skip
    rows = {}
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) == 6:
            rows[parts[0]] = parts[1:]
    return rows


def _leader(cluster: RabbitCluster, vhost: str) -> RabbitNode:
    return cluster.by_name(_queues(cluster, vhost)[PROBE_QUEUE][1])


def _idle(cluster: RabbitCluster, vhost: str):
    def check() -> bool:
        busy = {q: r[3:] for q, r in _queues(cluster, vhost).items() if r[3:] != ["0", "0"]}
        assert not busy, busy
        return True

    return check


def _all_running(cluster: RabbitCluster) -> None:
    """Every node sees every node running (asked of each: a node that paused itself answers for itself only)."""
    want = str(len(cluster.nodes))

    def running(n) -> str:
        try:
            return n.ctl("eval", "length(rabbit_nodes:all_running()).", check=False, timeout=60).strip()
        except subprocess.TimeoutExpired:  # rabbitmqctl boots an Erlang VM: on a loaded machine, "not yet"
            return ""

    def check() -> bool:
        return all(running(n) == want for n in cluster.nodes)

    try:
        eventually(check, timeout=240, interval=2, what="every node of the cluster running")
    except AssertionError:
        for n in cluster.nodes:  # what each node thinks, and the end of its log, before the directories go
            print(n.name, n.ctl("cluster_status", check=False, timeout=30), n.log_tail(), sep="\n", file=sys.stderr)
        raise


def _rejoined(cluster: RabbitCluster, vhost: str, background) -> None:
    """The node back in the cluster, then no queue holding a ready or unacknowledged message."""
    thread, errors = background
    thread.join(240)
    assert not thread.is_alive(), "the node did not come back"
    assert not errors, errors
    _all_running(cluster)
    eventually(_idle(cluster, vhost), timeout=60, interval=2, what="every queue drained and acked")


def _urls(cluster: RabbitCluster, url: str) -> list[str]:
    from services.runtime.amqp import node_urls

    return node_urls(url, cluster.addresses)


def test_queues_are_quorum_with_three_replicas(cluster_platform, rabbit_cluster, cluster_vhost, stream, db_urls):
    """Every queue the services declared is a quorum queue with a member on each node."""
    vhost, url = cluster_vhost
    stream.post(5)
    queues = _queues(rabbit_cluster, vhost)
    assert PROBE_QUEUE in queues and len(queues) >= 21  # 7 consumer queues, each with 2 retry queues and a DLQ
    names = {n.name for n in rabbit_cluster.nodes}
    for name, (kind, _leader_name, members, *_) in queues.items():
        if name.startswith("console.live."):
            continue  # the console's exclusive live queue: classic, one node, gone with its connection
        assert kind == "quorum", name
        assert set(members.strip("[]").replace(" ", "").split(",")) == names, (name, members)
    settle("baseline", cluster_platform, stream, _urls(rabbit_cluster, url), time.monotonic(), db_urls)
    eventually(_idle(rabbit_cluster, vhost), timeout=60, interval=2, what="every queue drained and acked")


def test_leader_node_crashes_and_comes_back(cluster_platform, rabbit_cluster, cluster_vhost, stream, db_urls):
    """SIGKILL the node leading the queues mid-stream; restart it later in the stream."""
    vhost, url = cluster_vhost
    leader = _leader(rabbit_cluster, vhost)
    at: list[float] = []

    def crash():
        at.append(time.monotonic())
        leader.kill()

    restarted: list = []
    stream.post(PER_CASE, on={5: crash, 15: lambda: restarted.append(in_background(leader.start))})
    # Recovery is the platform's (every report through), whether or not the node has finished booting again.
    settle("leader-crash-restart", cluster_platform, stream, _urls(rabbit_cluster, url), at[0], db_urls)
    _rejoined(rabbit_cluster, vhost, restarted[0])


def test_follower_node_stopped_and_restarted(cluster_platform, rabbit_cluster, cluster_vhost, stream, db_urls):
    """Shut down a node that follows the queues (its clients move); start it again later in the stream."""
    vhost, url = cluster_vhost
    leader = _leader(rabbit_cluster, vhost)
    follower = next(n for n in rabbit_cluster.nodes if n is not leader)
    at: list[float] = []

    def stop_then_start():
        follower.ctl("shutdown", timeout=120)  # graceful: its clients are closed and move to another node
        follower.start()

    back: list = []

    def fault():
        at.append(time.monotonic())
        back.append(in_background(stop_then_start))

    stream.post(PER_CASE, on={5: fault})
    settle("follower-stop-restart", cluster_platform, stream, _urls(rabbit_cluster, url), at[0], db_urls)
    _rejoined(rabbit_cluster, vhost, back[0])


def test_leader_node_paused_past_the_net_tick_time(cluster_platform, rabbit_cluster, cluster_vhost, stream, db_urls):
    """SIGSTOP the leader for longer than net_ticktime (the others declare it down), then SIGCONT."""
    vhost, url = cluster_vhost
    leader = _leader(rabbit_cluster, vhost)
    at: list[float] = []

    def freeze_and_thaw():
        at.append(time.monotonic())
        leader.pause()
        try:
            time.sleep(NET_TICKTIME_S * 1.5)  # the others declare it down within 1.25 × the tick time
        finally:
            leader.resume()

    paused: list = []
    stream.post(PER_CASE, on={5: lambda: paused.append(in_background(freeze_and_thaw))})
    settle("leader-paused", cluster_platform, stream, _urls(rabbit_cluster, url), at[0], db_urls)
    _rejoined(rabbit_cluster, vhost, paused[0])


def test_database_standby_promoted(cluster_platform, rabbit_cluster, cluster_vhost, stream, db_urls, pg_pair):
    """Stop the PostgreSQL primary (fast: the standby has every committed record) and promote the standby."""
    vhost, url = cluster_vhost
    at: list[float] = []

    def fail_over():
        at.append(time.monotonic())
        pg_pair.pg_ctl(0, "stop", "-m", "fast")
        pg_pair.pg_ctl(1, "promote")

    promoted: list = []
    stream.post(PER_CASE + 10, on={5: lambda: promoted.append(in_background(fail_over))})
    settle("postgresql-standby-promoted", cluster_platform, stream, _urls(rabbit_cluster, url), at[0], db_urls)
    thread, errors = promoted[0]
    thread.join(120)
    assert not errors, errors
    assert asyncio.run(_is_primary(pg_pair.single_url(1, "postgres").replace("+asyncpg", "")))
    eventually(_idle(rabbit_cluster, vhost), timeout=60, interval=2, what="every queue drained and acked")
