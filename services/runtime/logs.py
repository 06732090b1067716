"""Structured logging: one JSON object per line on stdout, tagged with the service."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

# Secrets that travel in URLs: one-time questionnaire (/q/), ballot (/b/) and red-alert acknowledgement
# (/ack/, /acks/) links, calendar feed tokens (/participants/), tracking codes (/track/, Open311 /tokens/), and
# tokens in query strings (the SSE stream).
_SECRET_SEGMENT = re.compile(
    r"(/(?:q|b|ack|acks|participants|track|tokens)/)([^/?#\s\"'<>]+?)(\.(?:ics|json|xml))?(?=[/?#\s\"'<>]|$)"
)
_SECRET_QUERY = re.compile(r"([?&](?:access_token|token|code|signature|sig|key)=)[^&#\s\"'<>]+", re.IGNORECASE)
REDACTED = "***"


def redact(text: str) -> str:
    """The text with one-time link parts, calendar tokens, tracking codes and URL tokens replaced by ***."""
    if "/" not in text and "=" not in text:
        return text
    text = _SECRET_SEGMENT.sub(lambda m: f"{m[1]}{REDACTED}{m[3] or ''}", text)
    return _SECRET_QUERY.sub(rf"\1{REDACTED}", text)


class RedactUrls(logging.Filter):
    """Redact secrets in URLs of every record (e.g. httpx's request lines, which are the console's access log)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, dict):  # a structlog event
            record.msg = {k: redact(v) if isinstance(v, str) else v for k, v in record.msg.items()}
        else:
            message = record.getMessage()
            cleaned = redact(message)
            if cleaned != message:
                record.msg, record.args = cleaned, ()
        return True


def configure(service: str, *, level: str = "INFO", json: bool = True) -> None:
    """Route stdlib and structlog logging through one JSON (or console) renderer."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        lambda _l, _m, ev: {**ev, "service": service},
    ]
    renderer = structlog.processors.JSONRenderer(ensure_ascii=False) if json else structlog.dev.ConsoleRenderer()
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    handler.addFilter(RedactUrls())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiormq", "aio_pika", "uvicorn.access", "alembic"):
        logging.getLogger(noisy).setLevel("WARNING")
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
