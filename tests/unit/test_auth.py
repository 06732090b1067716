"""Staff tokens: what is accepted and everything that must be refused."""

from __future__ import annotations

import datetime as dt
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.runtime.auth import AuthError, api_key_matches, hash_api_key, mint, new_api_key, verify
from services.runtime.settings import Settings

pytestmark = pytest.mark.unit


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(var_dir=tmp_path)


def test_minted_token_verifies_with_role_and_scope(settings):
    p = verify(mint(sub="wu", role="party_org", communities=["jinshan"], settings=settings), settings)
    assert (p.sub, p.role, p.sees("jinshan"), p.sees("xueyuan"), p.county_wide) == (
        "wu",
        "party_org",
        True,
        False,
        False,
    )


def test_county_operator_sees_everything(settings):
    p = verify(mint(sub="op", role="county_operator", communities=["*"], settings=settings), settings)
    assert p.county_wide and p.sees("wenzhuang")


def test_a_cached_verification_still_expires(settings):
    # Verified tokens are remembered (one signature check per token), but never past their expiry.
    token = mint(
        sub="wu",
        role="party_org",
        communities=["jinshan"],
        settings=settings,
        expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2),
    )
    assert verify(token, settings).sub == "wu"
    assert verify(token, settings).sub == "wu"
    time.sleep(2.1)
    with pytest.raises(AuthError):
        verify(token, settings)


def test_a_cached_verification_does_not_carry_over_to_another_key_source(settings, tmp_path):
    token = mint(sub="wu", role="party_org", communities=["jinshan"], settings=settings)
    assert verify(token, settings).sub == "wu"
    with pytest.raises(AuthError):  # another deployment's built-in issuer: another key
        verify(token, Settings(var_dir=tmp_path / "other"))
    with pytest.raises(AuthError):
        verify(token, Settings(var_dir=settings.var_dir, jwt_audience="someone-else"))


def _claims(**over):
    now = dt.datetime.now(dt.UTC)
    base = {
        "iss": "hall-local",
        "aud": "hall",
        "sub": "x",
        "role": "party_org",
        "communities": ["jinshan"],
        "iat": now,
        "exp": now + dt.timedelta(hours=1),
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def _own_key(settings):
    from services.runtime.auth import builtin_private_key

    return builtin_private_key(settings)


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        (_claims(exp=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)), "expired"),
        (_claims(aud="someone-else"), "audience"),
        (_claims(iss="evil"), "issuer"),
        (_claims(communities=None), "community"),
        (_claims(communities=[]), "community"),
        (_claims(role="emperor"), "role"),
        (_claims(role="party_org", communities=["*"]), "county-wide"),
    ],
)
def test_bad_claims_are_refused(settings, claims, why):
    token = jwt.encode(claims, _own_key(settings), algorithm="EdDSA")
    with pytest.raises(AuthError):
        verify(token, settings)


def test_wrong_signature_is_refused(settings):
    token = jwt.encode(_claims(), Ed25519PrivateKey.generate(), algorithm="EdDSA")
    with pytest.raises(AuthError):
        verify(token, settings)


def test_alg_none_is_refused(settings):
    token = jwt.encode(_claims(), None, algorithm="none")
    with pytest.raises(AuthError):
        verify(token, settings)


def test_another_algorithm_than_the_keys_is_refused_not_crashed(settings):
    """RS256/ES256 against the built-in Ed25519 key made PyJWT raise TypeError (a 500 on every service)."""
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tokens = [
        jwt.encode(_claims(), rsa_key, algorithm="RS256"),
        jwt.encode(_claims(), ec.generate_private_key(ec.SECP256R1()), algorithm="ES256"),
        jwt.encode(_claims(), rsa_key, algorithm="PS256"),
        jwt.encode(_claims(), "a-shared-secret-that-is-long-enough-for-hs256", algorithm="HS256"),
    ]
    for token in tokens:
        with pytest.raises(AuthError):
            verify(token, settings)


def test_external_issuer_public_key(tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pub = tmp_path / "idp.pem"
    pub.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    s = Settings(var_dir=tmp_path, jwt_public_key_file=pub, jwt_issuer="https://idp.example", jwt_audience="hall")
    token = jwt.encode(_claims(iss="https://idp.example"), key, algorithm="RS256")
    assert verify(token, s).role == "party_org"
    with pytest.raises(AuthError):
        verify(mint(sub="x", role="party_org", communities=["jinshan"], settings=Settings(var_dir=tmp_path)), s)
    with pytest.raises(AuthError):  # an ES256 token where the issuer signs RS256
        verify(jwt.encode(_claims(iss="https://idp.example"), ec.generate_private_key(ec.SECP256R1()), "ES256"), s)


def test_production_refuses_to_invent_a_signing_key(tmp_path):
    with pytest.raises(AuthError):
        mint(sub="x", role="party_org", communities=["a"], settings=Settings(var_dir=tmp_path, env="production"))


def test_api_keys_are_random_and_stored_hashed():
    a, b = new_api_key(), new_api_key()
    assert a != b and len(a) > 40
    assert hash_api_key(a) != a and api_key_matches(a, hash_api_key(a)) and not api_key_matches(b, hash_api_key(a))
