"""The broker node list: one URL per node, the service's credentials, vhost and query on each."""

from __future__ import annotations

import pytest

from services.runtime.amqp import node_urls
from services.runtime.settings import Settings

pytestmark = pytest.mark.unit


def test_without_nodes_the_url_alone():
    assert node_urls("amqp://u:p@h:5672/v", "") == ["amqp://u:p@h:5672/v"]
    assert node_urls("amqp://u:p@h:5672/v", None) == ["amqp://u:p@h:5672/v"]


def test_each_node_gets_the_urls_user_vhost_and_query():
    urls = node_urls("amqp://u:p@broker:5672/hall?heartbeat=5", " a:5701, b ,[::1]:5703,")
    assert urls == [
        "amqp://u:p@a:5701/hall?heartbeat=5",
        "amqp://u:p@b/hall?heartbeat=5",
        "amqp://u:p@[::1]:5703/hall?heartbeat=5",
    ]


def test_a_services_own_user_on_every_node(monkeypatch):
    monkeypatch.setenv("INTAKE_AMQP_URL", "amqp://intake:s3@broker:5672/hall")
    settings = Settings(amqp_nodes="n1:5672,n2:5672")
    assert settings.amqp_urls_for("intake") == ["amqp://intake:s3@n1:5672/hall", "amqp://intake:s3@n2:5672/hall"]
    assert settings.amqp_urls_for("triage")[0].startswith("amqp://guest:guest@n1:5672")


def test_a_standby_still_refusing_writes_is_the_database_away_not_the_message():
    from sqlalchemy.exc import IntegrityError

    from services.runtime.consumer import database_unavailable

    class TargetServerAttributeNotMatched(Exception):  # asyncpg's, by name: no server matched read-write
        pass

    class CannotConnectNowError(Exception):
        sqlstate = "57P03"

    wrapped = RuntimeError("pool")
    wrapped.__cause__ = TargetServerAttributeNotMatched("None of the hosts match the target attribute")
    assert database_unavailable(wrapped)
    assert database_unavailable(CannotConnectNowError("the database system is starting up"))
    assert not database_unavailable(ValueError("bad payload"))
    assert not database_unavailable(IntegrityError("insert", {}, Exception("unique")))
