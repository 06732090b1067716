"""Prometheus metrics every service exposes on /metrics."""

from typing import Any, TypeVar

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

_CHILDREN: dict[tuple, Any] = {}
M = TypeVar("M", bound=MetricWrapperBase)


def child(metric: M, *values: object) -> M:
    """`metric.labels(*values)`, looked up once per label set (it runs for every delivery, publish and request)."""
    # labels() validates and locks on every call (about 8 Python calls); the label sets are few and fixed.
    key = (metric, values)
    found = _CHILDREN.get(key)
    if found is None:
        found = _CHILDREN[key] = metric.labels(*values)
    return found


CONSUMED = Counter("hall_events_consumed_total", "Events handled", ["service", "queue", "type", "result"])
HANDLER_SECONDS = Histogram(
    "hall_handler_seconds", "Time to handle one event (inbox + state + outbox, committed)", ["service", "queue"]
)
DEAD_LETTERED = Counter("hall_events_dead_lettered_total", "Events sent to a DLQ", ["service", "queue", "why"])
RETRIED = Counter("hall_events_retried_total", "Events sent to a retry queue", ["service", "queue"])
RELAY_PUBLISHED = Counter("hall_outbox_published_total", "Outbox events published and confirmed", ["service"])
RELAY_UNROUTABLE = Counter(
    "hall_outbox_unroutable_total", "Publishes returned by the broker (no queue bound yet)", ["service", "type"]
)
OUTBOX_PENDING = Gauge("hall_outbox_pending", "Outbox events not yet published", ["service"])
HTTP_REQUESTS = Counter("hall_http_requests_total", "HTTP requests", ["service", "method", "route", "status"])
HTTP_SECONDS = Histogram("hall_http_request_seconds", "HTTP request time", ["service", "route"])
REDIS_DOWN = Counter("hall_redis_unavailable_total", "Operations that went on without Redis", ["service", "what"])
GROUP_COMMIT_SIZE = Histogram(
    "hall_group_commit_size",
    "Units of work committed together in one transaction",
    ["service"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)

# The emergency path (docs/emergency.md), refreshed by the ledger's alert job: what an operator must see at once.
RED_UNACKNOWLEDGED = Gauge("hall_ledger_red_alerts_unacknowledged", "Red alerts still paging: nobody acknowledged")
RED_LATE = Gauge(
    "hall_ledger_red_overdue_open", "Open red matters past their first-action deadline or their handling deadline"
)
