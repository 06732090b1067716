"""Which unit takes a direct matter, by category and the directory (not always the property company)."""

from __future__ import annotations

import copy

import pytest
import yaml

from services.ledger.routing import handover_unit, handover_units, route_direct
from services.runtime.directory import DEFAULT_PATH, DirectoryError, load_directory, parse_directory

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def xueyuan():
    return load_directory().community("xueyuan")


@pytest.mark.parametrize(
    ("category", "compound", "party", "unit"),
    [
        # Compound upkeep in a compound with a property company: that company.
        ("drainage", "jintaihezhuang", "property_company", "江西锦程物业服务有限公司"),
        ("elevator", "jintaihezhuang", "property_company", "江西锦程物业服务有限公司"),
        # Matters between residents and of particular groups: the community itself.
        ("neighbor_dispute", "jintaihezhuang", "party_org", "学苑社区党委"),
        ("elderly_care", "jintaihezhuang", "party_org", "学苑社区党委"),
        ("noise", None, "party_org", "学苑社区党委"),
        # A partner unit (结对共建) that handles the category: 县自来水公司 for utilities in 学苑社区.
        ("utilities", "jintaihezhuang", "partner_unit", "县自来水公司"),
        # Otherwise the functional department for the category.
        ("road", "jintaihezhuang", "department", "县城管局"),
        ("safety_fire", "jintaihezhuang", "department", "县消防救援大队"),
        # Upkeep without a known compound: the property company on the roster, as before.
        ("lighting", None, "property_company", "江西锦程物业服务有限公司"),
    ],
)
def test_direct_matters_go_to_the_unit_of_their_category(xueyuan, category, compound, party, unit):
    route = route_direct(xueyuan, category, compound)
    assert (route.lead_party, route.lead_unit) == (party, unit)
    assert route.why


def test_a_partner_unit_of_another_community_is_its_own_answer():
    jinshan = load_directory().community("jinshan")
    route = route_direct(jinshan, "utilities", "jinghuhuayuan")
    assert (route.lead_party, route.lead_unit) == ("partner_unit", "国网金溪县供电公司")


def test_the_directory_can_route_a_category_elsewhere(xueyuan):
    routed = xueyuan.model_copy(update={"direct_routes": {"noise": "chengxi_pcs", "pets": "县住建局"}})

    def who(category, compound=None):
        route = route_direct(routed, category, compound)
        return route.lead_party, route.lead_unit

    assert who("noise") == ("department", "县公安局城西派出所")
    assert who("pets") == ("partner_unit", "县住建局")
    assert who("drainage", "jintaihezhuang") == ("property_company", "江西锦程物业服务有限公司")


def test_direct_routes_in_the_directory_are_validated():
    data = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    bad = copy.deepcopy(data)
    bad["communities"][0]["direct_routes"] = {"noise": "县教育局"}
    with pytest.raises(DirectoryError, match=r"direct_routes\.noise"):
        parse_directory(bad)
    bad["communities"][0]["direct_routes"] = {"nois": "party_org"}
    with pytest.raises(DirectoryError, match="nois"):
        parse_directory(bad)
    good = copy.deepcopy(data)
    good["communities"][0]["direct_routes"] = {"noise": "chengxi_pcs", "pets": "party_org"}
    assert parse_directory(good).communities[0].direct_routes == {"noise": "chengxi_pcs", "pets": "party_org"}


def test_handover_units_come_from_the_directory(xueyuan):
    assert handover_unit(xueyuan, "zhufang_baozhang") == ("department", "县住房保障中心")
    assert handover_unit(xueyuan, " 县住房保障中心 ") == ("department", "县住房保障中心")
    assert handover_unit(xueyuan, "县教育局") is None
    units = handover_units(xueyuan)
    names = [u["name"] for u in units]
    assert names[0] == "县住房保障中心" and len(names) == len(set(names))  # 县住建局 is both: listed once
    assert {"department"} == {u["party"] for u in units if u["name"] == "县住建局"}
