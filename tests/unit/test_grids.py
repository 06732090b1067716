"""Grids in the directory (网格: buildings and members) and the door-knocking rules (households, coverage)."""

from __future__ import annotations

import copy

import pytest
import yaml

from services.intake import domain
from services.runtime.directory import DEFAULT_PATH, DirectoryError, load_directory, parse_directory

pytestmark = pytest.mark.unit


def _xueyuan(data: dict) -> dict:
    return next(c for c in data["communities"] if c["code"] == "xueyuan")


@pytest.fixture
def data() -> dict:
    return copy.deepcopy(yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8")))


def test_the_demo_grid_ties_members_to_buildings():
    xueyuan = load_directory().community("xueyuan")
    grid = xueyuan.grid_of("jintaihezhuang", "12")
    assert grid is not None and grid.code == "xy-g1" and xueyuan.grid("xy-g1") is grid
    head = grid.member("杨国庆")
    assert head.role == "building_head" and head.buildings == ["jintaihezhuang:12"]
    assert {m.role for m in grid.members} == {"grid_worker", "building_head", "party_member"}
    assert xueyuan.grid_of("shuxiangyayuan", "1") is None


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda g: g["buildings"].append("jintaihezhuang:99"), "grids[0].buildings[12]"),
        (lambda g: g["buildings"].append("nowhere:1"), "grids[0].buildings[12]"),
        (lambda g: g["members"].append({"name": "艾伟东", "role": "party_member"}), "grids[0].members[4].name"),
        (lambda g: g["members"].append({"name": "新人", "role": "mayor"}), "role"),
        (lambda g: g["members"][1]["buildings"].append("shuxiangyayuan:1"), "grids[0].members[1].buildings[1]"),
    ],
)
def test_grids_are_validated(data, change, where):
    change(_xueyuan(data)["grids"][0])
    with pytest.raises(DirectoryError) as exc:
        parse_directory(data)
    assert where in str(exc.value)


def test_a_building_belongs_to_one_grid(data):
    community = _xueyuan(data)
    community["grids"].append({"code": "xy-g2", "name": "第二网格", "buildings": ["jintaihezhuang:12"]})
    with pytest.raises(DirectoryError, match="already in grids"):
        parse_directory(data)
    community["grids"][1]["buildings"] = ["shuxiangyayuan:1"]
    assert parse_directory(data).community("xueyuan").grid_of("shuxiangyayuan", "1").code == "xy-g2"


def test_doors_and_households():
    assert domain.door(2, "301") == "2单元301"
    assert domain.door(2, "０３０１室") == "2单元301"  # full-width digits, a leading zero, 室
    assert domain.door(1, "1502号") == "1单元1502"
    assert domain.door(2, "三楼") is None and domain.door(0, "301") is None and domain.door(2, "30") is None
    assert domain.household_address("xueyuan", "jintaihezhuang", "12", "2单元301") == (
        "household:xueyuan:jintaihezhuang:12:2单元301"
    )
    assert domain.valid_month("2026-12") and not domain.valid_month("2026-13") and not domain.valid_month("26-1")


def test_coverage_counts_each_household_once_per_building():
    buildings = [("jth", "12", 40), ("jth", "3", 28), ("jth", "9", 0)]
    visits = [
        ("jth", "12", "hh_a", "2单元301"),
        ("jth", "12", "hh_a", "2单元301"),  # visited twice
        ("jth", "12", "hh_b", "10单元101"),
        ("jth", "12", "hh_c", "2单元502"),
        ("jth", "3", "hh_d", "1单元202"),
        ("other", "12", "hh_e", "1单元101"),  # another compound's 12号楼
    ]
    twelve, three, nine = domain.coverage(buildings, visits)
    assert (twelve.visited, twelve.doors, twelve.rate) == (3, ("2单元301", "2单元502", "10单元101"), 0.075)
    assert (three.visited, three.rate) == (1, round(1 / 28, 4))
    assert (nine.visited, nine.rate) == (0, None)  # no household count in the directory: no rate
