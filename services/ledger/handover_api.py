"""HTTP routes of handover: parse, call handover, map refusals to problem+json."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from services.ledger import routing
from services.runtime.auth import Principal
from services.runtime.authz import in_scope, require
from services.runtime.directory import load_directory
from services.runtime.pages import Limit, Offset, Page, window
from services.runtime.problems import Problem

router = APIRouter(prefix="/v1", tags=["ledger"])


class UnitOut(BaseModel):
    """A unit a matter can be handed over to (转办), from the directory."""

    party: str
    party_label: str
    code: str | None
    name: str
    categories: list[str]


PARTY_ZH = {"department": "职能部门", "partner_unit": "结对共建单位"}


@router.get("/handover-units/{community}", response_model=Page[UnitOut], summary="Units for 转办 (可转办单位)")
async def handover_units(
    community: str,
    principal: Annotated[Principal, Depends(require("ledger.read"))],
    limit: Limit = 500,
    offset: Offset = 0,
) -> Page[UnitOut]:
    """The departments (with the categories they handle) and partner units a community's matters can go to."""
    in_scope(principal, community)
    found = load_directory().community(community)
    if found is None:
        raise Problem(404, "名录中没有该社区", "Community not in the directory")
    units = [UnitOut(**u, party_label=PARTY_ZH[u["party"]]) for u in routing.handover_units(found)]
    return window(units, limit, offset)
