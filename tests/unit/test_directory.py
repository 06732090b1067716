"""The county directory: the demo file loads, lookups work, and every validation error names its field."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from services.runtime.directory import (
    DEFAULT_PATH,
    PARTIES,
    DirectoryError,
    clear_cache,
    load_directory,
)

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_cache()
    yield
    clear_cache()


@pytest.fixture()
def demo():
    return load_directory(DEFAULT_PATH)


@pytest.fixture()
def raw() -> dict:
    """The demo file as plain data, for tests that break one field."""
    return yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "county.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def load_error(tmp_path: Path, data: dict) -> str:
    path = write(tmp_path, data)
    with pytest.raises(DirectoryError) as info:
        load_directory(path)
    message = str(info.value)
    assert str(path.resolve()) in message, message
    return message


# --- the demo file -----------------------------------------------------------------------------------


def test_demo_file_loads(demo):
    assert demo.county.code == "jinxi"
    assert demo.county.name == "金溪县"
    assert [c.code for c in demo.communities] == ["jinshan", "xueyuan", "wenzhuang"]
    for community in demo.communities:
        assert set(community.roster) == set(PARTIES)
        assert all(community.roster[p] for p in PARTIES), community.code
        assert community.hall.place and community.hall.fixed_day
        assert 3 <= len(community.compounds) <= 4
        for compound in community.compounds:
            assert 3 <= len(compound.buildings) <= 12, compound.code
            assert all(b.households and b.area_m2 for b in compound.buildings)
    assert {c.hall.fixed_day for c in demo.communities} == {
        "每月15日 09:00",
        "每月第二个星期四 14:30",
        "每月20日 15:00",
    }


def test_demo_has_the_article_case(demo):
    xueyuan = demo.community("xueyuan")
    jintai = xueyuan.compound("jintaihezhuang")
    building = jintai.building("12")
    assert building is not None and building.name == "12号楼" and building.units >= 2
    assert xueyuan.departments_for("drainage")[0].name == "县住房保障中心"


def test_env_var_and_default(monkeypatch, tmp_path, raw):
    monkeypatch.delenv("HALL_DIRECTORY", raising=False)
    assert load_directory().county.code == "jinxi"
    raw["county"]["name"] = "测试县"
    monkeypatch.setenv("HALL_DIRECTORY", str(write(tmp_path, raw)))
    assert load_directory().county.name == "测试县"


def test_loading_is_cached(demo):
    assert load_directory(DEFAULT_PATH) is demo
    assert load_directory(str(DEFAULT_PATH)) is demo


# --- lookups -----------------------------------------------------------------------------------------


def test_community_by_code_and_name(demo):
    assert demo.community("jinshan").name == "金山社区"
    assert demo.community("学苑社区").code == "xueyuan"
    assert demo.community("nowhere") is None


def test_compound_by_code_name_alias(demo):
    jinshan = demo.community("jinshan")
    assert jinshan.compound("jinghuhuayuan").name == "景湖花园"
    assert jinshan.compound("景湖花园").code == "jinghuhuayuan"
    assert jinshan.compound("景湖花园小区").code == "jinghuhuayuan"
    assert jinshan.compound("金泰和庄") is None  # belongs to another community


@pytest.mark.parametrize(
    ("text", "community", "compound"),
    [
        ("金泰和庄3号楼下水道堵了", "xueyuan", "jintaihezhuang"),
        ("我住金泰和庄小区12号楼2单元301，下水管道又堵了", "xueyuan", "jintaihezhuang"),
        ("景湖花园门口路灯不亮", "jinshan", "jinghuhuayuan"),
        ("金东小区想加装电梯", "wenzhuang", "jindong"),
    ],
)
def test_find_compound_in_free_text(demo, text, community, compound):
    found = demo.find_compound(text)
    assert found is not None
    assert (found[0].code, found[1].code) == (community, compound)


def test_find_compound_none(demo):
    assert demo.find_compound("楼道里的灯坏了") is None


def test_find_compound_longest_match_wins(tmp_path, raw):
    compounds = raw["communities"][0]["compounds"]
    extra = copy.deepcopy(compounds[0])
    extra.update(code="jinghuhuayuan2", name="景湖花园二期", aliases=[])
    compounds.append(extra)
    directory = load_directory(write(tmp_path, raw))
    assert directory.find_compound("景湖花园二期5号楼漏水")[1].code == "jinghuhuayuan2"
    assert directory.find_compound("景湖花园5号楼漏水")[1].code == "jinghuhuayuan"


# --- validation errors name the file and the field path ---------------------------------------------


def test_duplicate_community_code(tmp_path, raw):
    raw["communities"][2]["code"] = "jinshan"
    assert "communities[2].code: duplicate 'jinshan'" in load_error(tmp_path, raw)


def test_duplicate_compound_code(tmp_path, raw):
    raw["communities"][1]["compounds"][2]["code"] = "jintaihezhuang"
    message = load_error(tmp_path, raw)
    assert "communities[1].compounds[2].code: duplicate 'jintaihezhuang'" in message


def test_duplicate_building_code(tmp_path, raw):
    raw["communities"][0]["compounds"][1]["buildings"][3]["code"] = "1"
    message = load_error(tmp_path, raw)
    assert "communities[0].compounds[1].buildings[3].code: duplicate '1'" in message


def test_duplicate_compound_alias(tmp_path, raw):
    raw["communities"][0]["compounds"][2]["aliases"] = ["景湖小区"]
    assert "communities[0].compounds[2]: name or alias '景湖小区'" in load_error(tmp_path, raw)


def test_unknown_roster_party(tmp_path, raw):
    raw["communities"][1]["roster"]["residents"] = raw["communities"][1]["roster"]["resident_rep"]
    message = load_error(tmp_path, raw)
    assert "communities[1].roster.residents: unknown party 'residents'" in message


def test_missing_roster_party(tmp_path, raw):
    del raw["communities"][2]["roster"]["partner_unit"]
    assert "communities[2].roster: missing party partner_unit" in load_error(tmp_path, raw)


def test_unknown_quorum_party(tmp_path, raw):
    raw["communities"][0]["hall"]["quorum"] = ["party_org", "owners_committee", "landlord"]
    message = load_error(tmp_path, raw)
    assert "communities[0].hall.quorum[2]: unknown party 'landlord'" in message


def test_topics_per_session_at_least_one(tmp_path, raw):
    raw["communities"][1]["hall"]["topics_per_session"] = 0
    assert "communities[1].hall.topics_per_session:" in load_error(tmp_path, raw)


def test_missing_required_field(tmp_path, raw):
    del raw["communities"][0]["hall"]["place"]
    assert "communities[0].hall.place: Field required" in load_error(tmp_path, raw)


def test_unknown_field_is_rejected(tmp_path, raw):
    raw["communities"][0]["compounds"][0]["buildings"][0]["househlds"] = 3
    message = load_error(tmp_path, raw)
    assert "communities[0].compounds[0].buildings[0].househlds:" in message


def test_unknown_department_category(tmp_path, raw):
    raw["communities"][0]["departments"][0]["categories"] = ["drainage", "plumbing"]
    message = load_error(tmp_path, raw)
    assert "communities[0].departments[0].categories[1]: unknown category 'plumbing'" in message


def test_bad_slug(tmp_path, raw):
    raw["communities"][0]["code"] = "金山"
    assert "communities[0].code:" in load_error(tmp_path, raw)


def test_invalid_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("county: [unclosed\n", encoding="utf-8")
    with pytest.raises(DirectoryError, match="invalid YAML"):
        load_directory(bad)
    with pytest.raises(DirectoryError, match="cannot read"):
        load_directory(tmp_path / "missing.yaml")
    top = tmp_path / "list.yaml"
    top.write_text("- a\n", encoding="utf-8")
    with pytest.raises(DirectoryError, match="top level must be a mapping"):
        load_directory(top)
