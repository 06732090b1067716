"""Authorisation: one role × action matrix and one FastAPI dependency that every route uses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.runtime.auth import ALL_COMMUNITIES, AuthError, Principal, verify
from services.runtime.problems import Problem

STAFF = (
    "party_org",
    "property_company",
    "owners_committee",
    "resident_rep",
    "partner_unit",
    "grid_worker",
    "department",
)
EVERYONE = ("county_operator", *STAFF)

# action -> roles allowed. Scope (which communities) is checked separately on each row.
MATRIX: dict[str, tuple[str, ...]] = {
    "report.read": ("county_operator", "party_org", "grid_worker", "property_company"),
    "report.create": EVERYONE,
    "report.import": ("county_operator", "party_org", "grid_worker"),
    # Calling a resident back: the community's own staff who revisit and verify, never the county or a company.
    "report.reveal": ("party_org", "grid_worker"),
    "reveal.read": ("county_operator", "party_org"),
    "matter.read": EVERYONE,
    "matter.regrade": ("county_operator", "party_org"),
    "matter.merge": ("county_operator", "party_org"),  # merge and split matters: as regrade, audited
    "session.read": EVERYONE,
    "session.manage": ("county_operator", "party_org"),
    "ledger.read": EVERYONE,
    "ledger.update": ("party_org", "property_company", "partner_unit", "department", "owners_committee"),
    "ledger.close": ("party_org",),
    "ledger.assign_support": ("party_org",),
    "disclosure.read": EVERYONE,
    "disclosure.publish": ("party_org",),
    "evaluation.read": ("county_operator", "party_org", "grid_worker"),
    "evaluation.record": ("party_org", "grid_worker", "resident_rep"),
    "revisit.manage": ("party_org",),
    "link.issue": ("party_org", "grid_worker"),
    "vote.manage": ("party_org",),
    "ballot.record": ("party_org", "grid_worker"),
    "apikey.manage": ("county_operator", "party_org"),
    "visit.manage": ("county_operator", "party_org"),
    "visit.record": ("party_org", "grid_worker"),
    "visit.read": ("county_operator", "party_org", "grid_worker"),
    "workcal.read": EVERYONE,
    # The official holiday arrangement is county-wide: only the county enters it.
    "workcal.manage": ("county_operator",),
}

_bearer = HTTPBearer(auto_error=False)


def _unauthorized(zh: str, en: str) -> Problem:
    return Problem(401, zh, en, headers={"WWW-Authenticate": "Bearer"})


async def current_principal(
    request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """The verified caller, or 401."""
    if creds is None or creds.scheme.lower() != "bearer":
        raise _unauthorized("请先登录（缺少 Bearer 令牌）", "Bearer token required")
    try:
        principal = verify(creds.credentials)
    except AuthError as exc:
        raise _unauthorized("登录凭证无效或已过期", f"Invalid token: {exc}") from exc
    request.state.principal = principal
    return principal


def require(action: str) -> Callable:
    """A dependency that admits principals whose role may perform `action`."""
    roles = MATRIX[action]

    async def _dep(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role not in roles:
            raise Problem(
                403, f"角色「{principal.role}」无权执行「{action}」", f"Role {principal.role!r} may not {action}"
            )
        return principal

    _dep.action = action  # type: ignore[attr-defined]  # read by the route walker in tests
    return _dep


def in_scope(principal: Principal, community: str, not_found: Problem | None = None) -> None:
    """Raise 404 when a row belongs to a community the principal may not see (no existence leak).

    Pass the route's own answer for an unknown id as `not_found`: another community's row must answer exactly
    like a row that does not exist, or the difference tells outsiders which ids exist.
    """
    if not principal.sees(community):
        raise not_found or Problem(404, "未找到", "Not found")


def scope_filter(principal: Principal, column, community: str | None = None):
    """A SQL condition limiting a query to what the principal may see (and to `community` if given)."""
    if community is not None:
        if not principal.sees(community):
            raise Problem(403, f"无权查看社区「{community}」", f"No access to community {community!r}")
        return column == community
    if principal.county_wide:
        return column.is_not(None)
    return column.in_(sorted(principal.communities))


def public(reason: str) -> Callable:
    """Mark a route as intentionally reachable without a staff token (the route walker checks every route)."""

    async def _dep() -> None:
        return None

    _dep.public = reason  # type: ignore[attr-defined]
    return _dep


@dataclass(frozen=True)
class KeyGrant:
    """A channel adapter's API key acting as the caller: the channels and communities it may submit for."""

    id: str
    channels: frozenset[str]
    communities: frozenset[str]

    @property
    def actor(self) -> str:
        """How the key appears in provenance and audit."""
        return f"apikey:{self.id}"

    def check(self, community: str, channel: str) -> None:
        """Raise 403 unless the key is scoped to this community and channel."""
        if community not in self.communities and ALL_COMMUNITIES not in self.communities:
            raise Problem(
                403, "此 API Key 无权提交该社区的报事", "API key not scoped to this community", field="community"
            )
        if channel not in self.channels:
            raise Problem(
                403,
                f"此 API Key 无权使用渠道「{channel}」",
                f"API key not scoped to channel {channel!r}",
                field="channel",
            )


KeyResolver = Callable[[Request, str], Awaitable[KeyGrant | None]]


def require_or_key(action: str, resolve: KeyResolver) -> Callable:
    """Admit a staff token allowed to `action`, or a valid channel adapter API key (X-API-Key)."""
    staff = require(action)

    async def _dep(
        request: Request,
        creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        x_api_key: Annotated[str | None, Header(max_length=200)] = None,
    ) -> Principal | KeyGrant:
        if x_api_key:
            grant = await resolve(request, x_api_key)
            if grant is None:
                raise _unauthorized("API Key 无效或已吊销", "Invalid or revoked API key")
            return grant
        if creds is None:
            raise _unauthorized("需要 Bearer 令牌或 X-API-Key", "Bearer token or X-API-Key required")
        return await staff(await current_principal(request, creds))

    _dep.action = action  # type: ignore[attr-defined]
    _dep.api_key = True  # type: ignore[attr-defined]
    return _dep
