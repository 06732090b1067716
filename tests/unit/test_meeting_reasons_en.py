"""The reasons meeting writes into a matter's hall history and a session's agenda history, in English words."""

from __future__ import annotations

import pytest

from services.meeting import agenda_log
from tests.english import CJK, assert_words

pytestmark = pytest.mark.unit


def test_meetings_own_reasons_read_in_english_words():
    assert set(agenda_log.REASONS_EN) == {agenda_log.TO_THIS_SESSION, agenda_log.TO_SITE_INSPECTION}
    for zh, en in agenda_log.REASONS_EN.items():
        assert CJK.search(zh) and agenda_log.reason_en(zh) == en
        assert_words(en, codes=None)


def test_a_staff_reason_reads_as_typed_and_none_stays_none():
    assert agenda_log.reason_en("涉及小区外市政道路划线，需社区协调") == "涉及小区外市政道路划线，需社区协调"
    assert agenda_log.reason_en(None) is None and agenda_log.reason_en("") == ""
