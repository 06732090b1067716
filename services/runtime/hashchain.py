"""Append-only hash chains, one per community: canonical JSON, chained sha256, the head row, verification.

A chain is a records table (community, seq, prev_hash, hash, ... the service's own fields) and a head
table (community primary key, seq, hash). Writers reserve numbers by upserting the head, which locks it
until commit, so concurrent writers of one community take turns and the chain has no forks; the head also
reveals a deleted tail. What a record's hash covers is the owning service's choice (`fields_of`).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

GENESIS = "0" * 64


def iso(moment: dt.datetime) -> str:
    """A datetime as UTC ISO text (naive values are taken as UTC), stable across databases."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
    return aware.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(record: dict[str, Any]) -> bytes:
    """Canonical JSON bytes: sorted keys, no spaces, UTF-8."""
    return json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def chain_hash(fields: dict[str, Any], prev_hash: str) -> str:
    """sha256(canonical JSON of the record's fields + prev_hash)."""
    return hashlib.sha256(canonical(fields) + prev_hash.encode()).hexdigest()


@functools.cache
def reserve_statement(dialect: str, head: Table):
    """The upsert that takes `count` numbers of a `community`'s chain (parameters); it returns (last seq, head hash).

    Built once per dialect and table, run with parameters (issue 23: one statement a commit in the ledger).
    """
    ins = pg_insert(head) if dialect == "postgresql" else sqlite_insert(head)
    count = bindparam("count", type_=head.c.seq.type)
    return (
        ins.values(community=bindparam("community", type_=head.c.community.type), seq=count, hash="")
        .on_conflict_do_update(index_elements=[head.c.community], set_={"seq": head.c.seq + count})
        .returning(head.c.seq, head.c.hash)
    )


def first_link(last: int, head_hash: str | None, count: int) -> tuple[int, str]:
    """(first seq, prev_hash) of `count` records just reserved, from what the reserve statement returned."""
    return int(last) - count + 1, head_hash or GENESIS


@dataclass(frozen=True)
class Broken:
    """The first record of a chain that does not verify, and why."""

    community: str
    seq: int
    record_id: int | None
    reason: str

    def __str__(self) -> str:
        return f"community={self.community} seq={self.seq} id={self.record_id}: {self.reason}"


def check_chain(
    community: str, rows: Sequence[Any], head: Any | None, fields_of: Callable[[Any], dict[str, Any]]
) -> Broken | None:
    """Recompute one community's chain (rows in seq order); return the first broken record or None."""
    prev, expected = GENESIS, 1
    for r in rows:
        if r.seq != expected:
            return Broken(community, expected, None, f"record seq {expected} is missing (next found: {r.seq})")
        if r.prev_hash != prev:
            return Broken(community, r.seq, r.id, "prev_hash does not match the previous record's hash")
        if chain_hash(fields_of(r), prev) != r.hash:
            return Broken(community, r.seq, r.id, "content does not match its hash (record altered)")
        prev, expected = r.hash, expected + 1
    if head is not None and (head.seq != expected - 1 or (head.seq and head.hash != prev)):
        return Broken(community, expected, None, f"chain head says seq {head.seq}; records end at {expected - 1}")
    return None
