"""What crosses the wire: envelope, payload models, routing. Imports nothing else of the project."""

from services.contracts.catalog import (
    CATALOG,
    CHANNELS_EXCHANGE,
    DEAD_LETTER_EXCHANGE,
    EVENTS_EXCHANGE,
    RETRY_EXCHANGE,
    EventType,
    parse,
)
from services.contracts.envelope import CONTENT_TYPE, ContractError, Envelope

__all__ = [
    "CATALOG",
    "CHANNELS_EXCHANGE",
    "CONTENT_TYPE",
    "DEAD_LETTER_EXCHANGE",
    "EVENTS_EXCHANGE",
    "RETRY_EXCHANGE",
    "ContractError",
    "Envelope",
    "EventType",
    "parse",
]
