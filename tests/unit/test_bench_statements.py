"""bench.statements: per-report statement counts from the counters the service processes write."""

from __future__ import annotations

import collections
import json

import pytest

from bench.statements import counts, per_report

pytestmark = pytest.mark.unit


def test_counts_sum_each_services_processes(tmp_path):
    (tmp_path / "ledger-11.json").write_text(json.dumps({"SELECT 1": 2, "INSERT x": 1}))
    (tmp_path / "ledger-12.json").write_text(json.dumps({"SELECT 1": 3}))
    (tmp_path / "intake-13.json").write_text(json.dumps({"SELECT 1": 4}))
    got = counts(tmp_path)
    assert got["ledger"] == collections.Counter({"SELECT 1": 5, "INSERT x": 1})
    assert got["intake"] == collections.Counter({"SELECT 1": 4})


def test_startup_counts_are_subtracted_and_divided_by_the_reports():
    before = {"ledger": collections.Counter({"SELECT 1": 7})}
    after = {"ledger": collections.Counter({"SELECT 1": 27, "INSERT x": 10}), "intake": collections.Counter({"B": 5})}
    out = per_report(before, after, 10, top=1)
    assert out["ledger"] == {"statements_per_report": 3.0, "top": {"SELECT 1": 2.0}}
    assert out["intake"]["statements_per_report"] == 0.5
    assert out["triage"] == {"statements_per_report": 0.0, "top": {}}
    assert out["total_per_report"] == 3.5
