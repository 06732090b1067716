"""One page shape for every list endpoint of every service: `{items, total, limit, offset}`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=500, description="Page size (1–500)")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="Items to skip")]


class Page(BaseModel, Generic[T]):
    """One page of a list: the items, how many match in all, and the window asked for."""

    items: list[T]
    total: int = Field(ge=0, description="How many items match the filters, over all pages")
    limit: int
    offset: int


def window(rows: Sequence[T], limit: int, offset: int) -> Page[T]:
    """A page cut from a list computed whole (small lists ordered in code, e.g. the agenda order)."""
    return Page[T](items=list(rows[offset : offset + limit]), total=len(rows), limit=limit, offset=offset)
