"""The e2e tier: the five services as OS processes on a private vhost, started like `make run` starts them."""

from __future__ import annotations

import pytest

from tests.e2e.platform import Platform


@pytest.fixture
def platform(tmp_path, vhost):
    """A running platform for one test; stopped gracefully afterwards."""
    with Platform(tmp_path, vhost).running() as p:
        yield p
