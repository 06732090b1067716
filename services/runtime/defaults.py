"""Default factories for table models' JSON columns.

SQLModel builds a table row through pydantic's `FieldInfo.get_default`, which inspects the factory's signature
on every call; for the builtins `list` and `dict` that parses their text signature with `tokenize`. A plain
function is about 40 times cheaper to inspect (issue 23: 12 % of the ledger's time went to constructing rows).
"""

from __future__ import annotations


def empty_list() -> list:
    """A new empty list."""
    return []


def empty_dict() -> dict:
    """A new empty dict."""
    return {}
