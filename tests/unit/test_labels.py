"""One vocabulary: every Literal value has words, the console's labels.js is generated from it and current."""

from typing import get_args

import pytest

from services.console import labels as console_labels
from services.contracts import labels, vocabulary

pytestmark = pytest.mark.unit


def test_every_literal_of_the_vocabulary_has_a_label_group():
    literals = {
        n
        for n in dir(vocabulary)
        if not n.startswith("_") and getattr(getattr(vocabulary, n), "__origin__", None) is not None
    }
    covered = {lit for lit in labels.LITERALS.values()}
    missing = [n for n in literals if getattr(vocabulary, n) not in covered]
    assert not missing, f"Literals without labels: {missing}"
    for group, literal in labels.LITERALS.items():
        assert set(labels.GROUPS[group]) == set(get_args(literal)), group


def test_every_word_is_chinese_first_with_english():
    for group, words in labels.GROUPS.items():
        for code, (zh, en) in words.items():
            assert any("\u4e00" <= ch <= "\u9fff" for ch in zh) or zh[0].isdigit(), (group, code, zh)
            assert en and en != code, (group, code)


def test_unknown_codes_never_come_back_as_codes():
    assert labels.zh("level", "purple") == "—"
    assert labels.zh("level", "red") == "红"
    assert labels.en("channel", "hotline_12345") == "12345 hotline"


@pytest.mark.parametrize(
    ("path", "zh", "en"),
    [
        ("resolutions.0.measures", "处置措施（第1项）", "Measures (item 1)"),
        ("resolutions[2].lead_unit", "责任单位（第3项）", "Responsible unit (item 3)"),
        ("starts_at", "时间", "Time"),
        ("something_unknown", "提交内容", "Submission"),
    ],
)
def test_field_paths_read_as_words(path, zh, en):
    assert labels.field_words(path) == zh
    assert labels.field_words(path, "en") == en


def test_committed_labels_js_is_up_to_date():
    assert console_labels.TARGET.read_text(encoding="utf-8") == console_labels.render(), (
        "run `python -m services.console.labels export` and commit services/console/web/src/shared/labels.js"
    )
    assert console_labels.main(["check"]) == 0


def test_services_use_the_same_words():
    from services.ledger import domain as ledger_domain
    from services.meeting import api as meeting_api
    from services.triage import grader, handlers

    assert ledger_domain.STATE_LABELS_ZH == labels.zh_map("ledger_state")
    assert meeting_api.KIND_ZH == labels.zh_map("session_kind")
    assert meeting_api.LEVEL_ZH == grader.LEVEL_LABELS == handlers.LEVEL_LABELS == labels.zh_map("level")
    assert grader.ROUTE_LABELS == handlers.ROUTE_LABELS == labels.zh_map("route")


def test_meetings_foresight_and_hall_words_are_the_consoles():
    from services.meeting import foresight, foresight_api, tier_api, tiers

    assert foresight_api.STATUS_ZH == labels.zh_map("foresight_status")
    assert foresight_api.KIND_ZH == labels.zh_map("foresight_kind")
    assert {name for name, _, _ in foresight.SEASONS} == set(labels.SEASON)
    assert tiers.TIER_ZH == labels.zh_map("tier") and set(tiers.TIERS) == set(labels.TIER)
    assert tier_api.ACTION_ZH == labels.zh_map("tier_action")


def test_the_public_directory_names_units_but_no_people():
    from services.console.login import public_directory
    from services.runtime.directory import load_directory

    d = public_directory()
    xueyuan = next(c for c in d["communities"] if c["code"] == "xueyuan")
    units = {(u["party"], u["name"]) for u in xueyuan["units"]}
    assert ("department", "县住建局") in units and ("property_company", "江西锦程物业服务有限公司") in units
    assert {u["party"] for u in xueyuan["units"]} <= set(labels.RESPONSIBLE_PARTY)
    people = {m.name for c in load_directory().communities for ms in c.roster.values() for m in ms}
    assert not people & {u["name"] for c in d["communities"] for u in c["units"]}
