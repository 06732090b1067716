"""Identity: staff JWTs (built-in issuer or an external one's keys), channel adapter API keys.

`python -m services.runtime.auth mint --role party_org --community jinshan --sub zhang` prints a token.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from services.contracts import labels
from services.runtime.settings import NotReadyForProduction, Settings, create_once, get_settings, require_for_production

ROLES = (
    "county_operator",
    "party_org",
    "property_company",
    "owners_committee",
    "resident_rep",
    "partner_unit",
    "grid_worker",
    "department",
)
ALL_COMMUNITIES = "*"
ALGORITHMS = ["EdDSA", "RS256", "ES256"]


@dataclass(frozen=True)
class Principal:
    """Who is calling: subject, role and the communities they may see ('*' = the whole county)."""

    sub: str
    role: str
    communities: frozenset[str]
    name: str | None = None
    unit: str | None = None

    @property
    def county_wide(self) -> bool:
        """Tell whether this principal sees every community."""
        return ALL_COMMUNITIES in self.communities

    def words(self) -> str:
        """The principal as people read it: name and role, never the subject id (reasons shown to staff)."""
        role = labels.zh("role", self.role, "工作人员")
        return f"{self.name}（{role}）" if self.name else role

    def words_en(self) -> str:
        """The same in English words: the name as the directory has it, the role in English."""
        role = labels.en("role", self.role, "Staff")
        return f"{self.name} ({role})" if self.name else role

    def sees(self, community: str) -> bool:
        """Tell whether this principal may see a community's data."""
        return self.county_wide or community in self.communities


class AuthError(Exception):
    """A token that must be refused; the message says why (English, for logs)."""


def _private_key_path(settings: Settings) -> Path:
    return settings.jwt_private_key_file or settings.var_dir / "keys" / "jwt-ed25519.pem"


def builtin_private_key(settings: Settings | None = None) -> Ed25519PrivateKey:
    """The built-in issuer's key; created on first use under var/keys (development and tests)."""
    settings = settings or get_settings()
    path = _private_key_path(settings)
    if not path.exists():
        if settings.env == "production" and settings.jwt_private_key_file is None:
            try:
                require_for_production(settings, "jwt_private_key_file")
            except NotReadyForProduction as e:
                raise AuthError(str(e)) from e
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        create_once(path, pem)  # replicas starting together agree on one key
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(loaded, Ed25519PrivateKey)
    return loaded


def algorithms_for(key) -> list[str]:
    """Only the algorithm family of the configured key: a token naming another alg is refused, not tried."""
    if isinstance(key, Ed25519PublicKey):
        return ["EdDSA"]
    if isinstance(key, RSAPublicKey):
        return ["RS256"]
    if isinstance(key, EllipticCurvePublicKey):
        return ["ES256"]
    return ALGORITHMS


@lru_cache(maxsize=8)
def _verification_key(public_file: str | None, jwks_url: str | None, private_file: str):
    if jwks_url:
        return jwt.PyJWKClient(jwks_url, cache_keys=True)
    if public_file:
        return serialization.load_pem_public_key(Path(public_file).read_bytes())
    return serialization.load_pem_private_key(Path(private_file).read_bytes(), password=None).public_key()


def mint(
    *,
    sub: str,
    role: str,
    communities: list[str],
    hours: float = 12,
    name: str | None = None,
    unit: str | None = None,
    settings: Settings | None = None,
    audience: str | None = None,
    expires_at: dt.datetime | None = None,
) -> str:
    """Sign a staff token with the built-in issuer."""
    settings = settings or get_settings()
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    now = dt.datetime.now(dt.UTC)
    claims = {
        "iss": settings.jwt_issuer,
        "aud": audience or settings.jwt_audience,
        "sub": sub,
        "role": role,
        "communities": communities,
        "iat": now,
        "exp": expires_at or now + dt.timedelta(hours=hours),
    }
    if name:
        claims["name"] = name
    if unit:
        claims["unit"] = unit
    return jwt.encode(claims, builtin_private_key(settings), algorithm="EdDSA")


_VERIFIED: OrderedDict[tuple, tuple[Principal, float]] = OrderedDict()
_VERIFIED_MAX = 4096


def verify(token: str, settings: Settings | None = None) -> Principal:
    """Verify signature, issuer, audience and expiry; return the principal or raise AuthError."""
    settings = settings or get_settings()
    # A client sends the same token with every request; its signature check (EdDSA/RSA) need not be
    # repeated until it expires. Keyed on everything that decides validity, so a changed issuer, audience
    # or key source verifies afresh.
    ck = (
        token,
        settings.jwt_issuer,
        settings.jwt_audience,
        settings.jwt_public_key_file,
        settings.jwt_jwks_url,
        str(settings.var_dir),
    )
    hit = _VERIFIED.get(ck)
    if hit is not None and time.time() < hit[1]:
        _VERIFIED.move_to_end(ck)
        return hit[0]
    principal, exp = _verify(token, settings)
    _VERIFIED[ck] = (principal, exp)
    if len(_VERIFIED) > _VERIFIED_MAX:
        _VERIFIED.popitem(last=False)
    return principal


def _verify(token: str, settings: Settings) -> tuple[Principal, float]:
    local = settings.jwt_jwks_url is None and settings.jwt_public_key_file is None
    if local and not _private_key_path(settings).exists():
        builtin_private_key(settings)  # first use: create the local issuer's key
    source = _verification_key(
        str(settings.jwt_public_key_file) if settings.jwt_public_key_file else None,
        settings.jwt_jwks_url,
        str(_private_key_path(settings)),
    )
    try:
        key = source.get_signing_key_from_jwt(token).key if isinstance(source, jwt.PyJWKClient) else source
        claims = jwt.decode(
            token,
            key,
            algorithms=algorithms_for(key),
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "sub", "iss", "aud"]},
        )
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        # PyJWT answers some mismatches (an RSA alg against an Ed25519 key) with TypeError/ValueError.
        raise AuthError(str(exc)) from exc
    role = claims.get("role")
    communities = claims.get("communities")
    if role not in ROLES:
        raise AuthError("missing or unknown role")
    if not isinstance(communities, list) or not communities or not all(isinstance(c, str) for c in communities):
        raise AuthError("missing community scope")
    if ALL_COMMUNITIES in communities and role != "county_operator":
        raise AuthError("only county operators may hold the county-wide scope")
    principal = Principal(
        sub=str(claims["sub"]),
        role=role,
        communities=frozenset(communities),
        name=claims.get("name"),
        unit=claims.get("unit"),
    )
    return principal, float(claims["exp"])


def new_api_key() -> str:
    """A fresh random API key for a channel adapter (shown once)."""
    return "hk_" + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    """The stored form of an API key: SHA-256 (keys are 256-bit random, so no slow hash is needed)."""
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_matches(key: str, stored_hash: str) -> bool:
    """Compare a presented key with a stored hash in constant time."""
    return hmac.compare_digest(hash_api_key(key), stored_hash)


def main() -> None:
    """CLI: mint a staff token with the built-in issuer."""
    parser = argparse.ArgumentParser(prog="python -m services.runtime.auth")
    sub = parser.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("mint", help="print a signed staff token")
    m.add_argument("--sub", required=True)
    m.add_argument("--role", required=True, choices=ROLES)
    m.add_argument("--community", action="append", required=True, help="repeat; '*' for county-wide")
    m.add_argument("--hours", type=float, default=12)
    m.add_argument("--name")
    m.add_argument("--unit")
    args = parser.parse_args()
    print(
        mint(sub=args.sub, role=args.role, communities=args.community, hours=args.hours, name=args.name, unit=args.unit)
    )


if __name__ == "__main__":
    main()
