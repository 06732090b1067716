"""One-time signed links (services/runtime/links.py): issue, verify, expiry, forgery, purpose and key handling."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest

from services.runtime.links import Expired, Forged, LinkSigner, load_link_keys
from services.runtime.settings import Settings

pytestmark = pytest.mark.unit

NOW = dt.datetime(2025, 6, 3, 2, 0, tzinfo=dt.UTC)
KEY = b"k" * 32
PURPOSE = ("feedback.questionnaire",)


def issue(signer: LinkSigner | None = None, **kw):
    args = {"purpose": "feedback.questionnaire", "subject": "mat_1", "audience": "hh_abc", "ttl": dt.timedelta(hours=2)}
    return (signer or LinkSigner([KEY])).issue(**{**args, **kw}, now=NOW)


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_issue_and_verify_round_trip():
    token, link = issue()
    got = LinkSigner([KEY]).verify(token, purposes=PURPOSE, subject="mat_1", now=NOW)
    assert got == link
    assert (got.purpose, got.subject, got.audience) == ("feedback.questionnaire", "mat_1", "hh_abc")
    assert got.expires_at == NOW + dt.timedelta(hours=2)
    assert len(got.nonce) >= 20


def test_every_token_has_its_own_nonce():
    (_, a), (_, b) = issue(), issue()
    assert a.nonce != b.nonce


def test_expired_token_is_expired_exactly_at_expiry():
    token, link = issue(ttl=dt.timedelta(minutes=5))
    signer = LinkSigner([KEY])
    signer.verify(token, purposes=PURPOSE, now=link.expires_at - dt.timedelta(seconds=1))
    with pytest.raises(Expired):
        signer.verify(token, purposes=PURPOSE, now=link.expires_at)


def test_tampered_payload_is_forged():
    token, _ = issue()
    head, mac = token.split(".")
    body = json.loads(_unb64(head))
    body["s"] = "mat_2"  # try to use the link on another matter
    forged = f"{_b64(json.dumps(body, separators=(',', ':')).encode())}.{mac}"
    with pytest.raises(Forged):
        LinkSigner([KEY]).verify(forged, purposes=PURPOSE, now=NOW)


def test_forged_expiry_is_forged_not_expired():
    token, _ = issue()
    head, mac = token.split(".")
    body = json.loads(_unb64(head))
    body["e"] = 0
    with pytest.raises(Forged):
        LinkSigner([KEY]).verify(f"{_b64(json.dumps(body).encode())}.{mac}", purposes=PURPOSE, now=NOW)


@pytest.mark.parametrize("bad", ["", "abc", "a.b.c", "!!!.???", "x" * 2000, "eyJ9.AAAA"])
def test_malformed_tokens_are_forged(bad):
    with pytest.raises(Forged):
        LinkSigner([KEY]).verify(bad, purposes=PURPOSE, now=NOW)


def test_token_of_another_key_is_forged():
    token, _ = issue(LinkSigner([b"other-key-0123456789"]))
    with pytest.raises(Forged):
        LinkSigner([KEY]).verify(token, purposes=PURPOSE, now=NOW)


def test_wrong_purpose_or_subject_is_forged():
    token, _ = issue()
    signer = LinkSigner([KEY])
    with pytest.raises(Forged):
        signer.verify(token, purposes=("feedback.owner_vote",), now=NOW)
    with pytest.raises(Forged):
        signer.verify(token, purposes=PURPOSE, subject="mat_2", now=NOW)


def test_rotation_old_key_still_verifies_new_key_signs():
    old_token, _ = issue(LinkSigner([KEY]))
    rotated = LinkSigner([b"n" * 32, KEY])
    assert rotated.verify(old_token, purposes=PURPOSE, now=NOW).subject == "mat_1"
    new_token, _ = issue(rotated)
    with pytest.raises(Forged):
        LinkSigner([KEY]).verify(new_token, purposes=PURPOSE, now=NOW)


def test_bad_issue_arguments():
    with pytest.raises(ValueError):
        LinkSigner([])
    with pytest.raises(ValueError):
        LinkSigner([b"short"])
    with pytest.raises(ValueError):
        issue(subject="")
    with pytest.raises(ValueError):
        issue(audience="x" * 129)
    with pytest.raises(ValueError):
        issue(ttl=dt.timedelta(0))


def test_keys_created_once_in_development(tmp_path):
    settings = Settings(var_dir=tmp_path, env="development")
    first = load_link_keys(settings)
    assert first == load_link_keys(settings)
    assert (tmp_path / "keys" / "links.keys").stat().st_mode & 0o777 == 0o600
    token, _ = issue(LinkSigner(first))
    assert LinkSigner(load_link_keys(settings)).verify(token, purposes=PURPOSE, now=NOW)


def test_keys_refused_missing_in_production(tmp_path):
    with pytest.raises(RuntimeError, match="HALL_LINK_KEY"):
        load_link_keys(Settings(var_dir=tmp_path, env="production"))
    assert not (tmp_path / "keys" / "links.keys").exists()
    keys = load_link_keys(
        Settings(var_dir=tmp_path, env="production", link_key="new-key-0123456789,old-key-0123456789")
    )
    assert keys == [b"new-key-0123456789", b"old-key-0123456789"]
