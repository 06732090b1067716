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


def public_directory() -> dict:
    """Communities, compounds and buildings by code and name: no rosters, no contacts."""
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
            }
            for c in d.communities
        ],
    }
