"""A refusal a use case raises (status, words in Chinese and English); the HTTP edge turns it into problem+json.

Kept apart from `problems` (which needs FastAPI) so use cases, handlers and rules never import the web framework.
"""

from __future__ import annotations

from typing import Any


class Problem(Exception):
    """A refused request: the API reports it as problem+json (the status is its kind: 404, 409, 422...)."""

    def __init__(
        self,
        status: int,
        detail_zh: str,
        detail_en: str,
        *,
        field: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ):
        super().__init__(detail_en)
        self.status, self.detail_zh, self.detail_en = status, detail_zh, detail_en
        self.errors = errors or ([field_error(field, detail_zh, detail_en)] if field else [])
        self.headers = headers
        self.extra = extra or {}


def field_error(field: str, zh: str, en: str) -> dict[str, str]:
    """One field-level error entry."""
    return {"field": field, "message": zh, "message_en": en}
