"""Dev login with the built-in issuer (development and test only) and the public directory of names."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from services.console.config import ConsoleConfig
from services.runtime.auth import ALL_COMMUNITIES, mint
from services.runtime.directory import load_directory
from services.runtime.problems import Problem

Role = Literal[
    "county_operator",
    "party_org",
    "property_company",
    "owners_committee",
    "resident_rep",
    "partner_unit",
    "grid_worker",
    "department",
]
DEV_TOKEN_HOURS = 8


class DevLoginIn(BaseModel):
    """Who to be in a development session: a role, a community ('*' for the county operator), a name."""

    role: Role
    community: str = Field(min_length=1, max_length=64)
    name: str = Field("", max_length=32)
    unit: str = Field("", max_length=128)


def dev_token(body: DevLoginIn, config: ConsoleConfig) -> dict:
    """Mint a short-lived staff token for the chosen role and community."""
    if body.community == ALL_COMMUNITIES:
        if body.role != "county_operator":
            raise Problem(
                422, "只有县级管理员可以查看全县", "Only county operators see the whole county", field="community"
            )
    elif load_directory().community(body.community) is None:
        raise Problem(422, f"未知社区「{body.community}」", f"Unknown community {body.community!r}", field="community")
    name = body.name.strip() or None
    sub = f"dev-{body.role}-{body.community if body.community != ALL_COMMUNITIES else 'county'}"
    token = mint(
        sub=sub,
        role=body.role,
        communities=[body.community],
        hours=DEV_TOKEN_HOURS,
        name=name,
        unit=body.unit.strip() or None,
        settings=config.settings,
    )
    return {
        "token": token,
        "sub": sub,
        "role": body.role,
        "communities": [body.community],
        "name": name,
        "expires_in": DEV_TOKEN_HOURS * 3600,
    }


def _units(c) -> list[dict]:
    """The organisations of a community's five parties and its departments (names only, never a person)."""
    out: list[dict] = [{"party": "department", "code": d.code, "name": d.name} for d in c.departments]
    seen = {(u["party"], u["name"]) for u in out}
    for party, members in c.roster.items():
        for m in members:
            if m.unit and (party, m.unit) not in seen:
                seen.add((party, m.unit))
                out.append({"party": party, "code": None, "name": m.unit})
    for p in c.compounds:
        if p.property_company and ("property_company", p.property_company) not in seen:
            seen.add(("property_company", p.property_company))
            out.append({"party": "property_company", "code": None, "name": p.property_company})
    return out


def public_directory() -> dict:
    """Communities, compounds, buildings and units (organisations) by code and name: no people, no contacts."""
    d = load_directory()
    return {
        "county": {"code": d.county.code, "name": d.county.name},
        "communities": [
            {
                "code": c.code,
                "name": c.name,
                "compounds": [
                    {
                        "code": p.code,
                        "name": p.name,
                        "buildings": [{"code": b.code, "name": b.name, "units": b.units} for b in p.buildings],
                    }
                    for p in c.compounds
                ],
                "units": _units(c),
            }
            for c in d.communities
        ],
    }
