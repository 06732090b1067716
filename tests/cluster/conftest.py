"""The cluster tier: a 3-node RabbitMQ cluster and a PostgreSQL primary + hot standby, started on this host.

Skipped, with the reason, where the server binaries are missing. Every node the fixtures start is killed and its
directory removed by a finalizer, whatever the tests did.
"""

from __future__ import annotations

import sys
import tempfile
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.cluster.nodes import PgPair, RabbitCluster, missing


def pytest_collection_modifyitems(config, items):
    """Skip a test, with why, on a machine without the server binaries it needs."""
    why = missing("rabbitmq") or missing("postgresql")
    for item in items:
        if why and "tests/cluster/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.skip(reason=f"cluster tier: {why}"))


def pytest_terminal_summary(terminalreporter):
    """The recovery times measured, in the run's summary (docs/faults.md records them)."""
    from tests.cluster.reconcile import RESULTS

    if RESULTS:
        terminalreporter.section("cluster recovery times")
        for line in RESULTS:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def rabbit_cluster():
    """Three RabbitMQ nodes joined into one cluster, for the session; killed and removed afterwards."""
    cluster = RabbitCluster(Path(tempfile.mkdtemp(prefix="hall-rabbit-cluster-")))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop_all()


@pytest.fixture(scope="module")
def cluster_vhost(rabbit_cluster):
    """A vhost on the cluster; yields (name, AMQP URL of node 1)."""
    name = f"hall-cluster-{uuid.uuid4().hex[:8]}"
    node = rabbit_cluster.nodes[0]
    node.ctl("add_vhost", name)
    node.ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    # A short heartbeat: a client of a frozen node notices within seconds (aiormq allows 3 missed beats).
    yield name, f"amqp://guest:guest@127.0.0.1:{node.port}/{quote(name, safe='')}?heartbeat=2"
    try:
        rabbit_cluster.any_up().ctl("delete_vhost", name)
    except Exception as exc:  # the cluster is removed by its own finalizer anyway
        print(f"delete_vhost {name}: {exc}", file=sys.stderr)


@pytest.fixture(scope="module")
def pg_pair():
    """A PostgreSQL primary and a hot standby on their own ports; both stopped and removed afterwards."""
    pair = PgPair(Path(tempfile.mkdtemp(prefix="hall-pg-pair-")))
    try:
        pair.start()
        yield pair
    finally:
        pair.stop_all()
