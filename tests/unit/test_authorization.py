"""Every route declares how it is guarded, through the one mechanism in services/runtime/authz.py."""

from __future__ import annotations

import pytest

from services.runtime.authz import MATRIX
from tools import authz_doc

pytestmark = pytest.mark.unit

ROUTES = authz_doc.collect()


@pytest.mark.parametrize("route", ROUTES, ids=[f"{r.service}:{r.method}:{r.path}" for r in ROUTES])
def test_every_route_declares_an_action_or_why_it_is_public(route):
    assert route.action or route.public, (
        f"{route.service} {route.method} {route.path} uses neither require(action) nor public(reason)"
    )
    assert not (route.action and route.public), "a route is either guarded or public, not both"
    for action in (route.action or "").split(","):
        assert not action or action in MATRIX, f"unknown action {action!r}"


def test_every_action_in_the_matrix_is_used():
    used = {a for r in ROUTES if r.action for a in r.action.split(",")}
    unused = set(MATRIX) - used
    assert not unused, f"actions no route uses (remove or use them): {sorted(unused)}"


def test_authorization_doc_is_current():
    committed = authz_doc.OUT.read_text()
    assert committed == authz_doc.render(), "docs/authorization.md is stale: run `python -m tools.authz_doc`"
