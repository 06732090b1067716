"""Residents' one-time links: questionnaires (调查问卷) and WeChat votes (微信投票), and the public vote count.

Staff issue one signed link per household; the household answers once without logging in. The link's
nonce is stored with the answer in one transaction, under a unique key, so a link works exactly once.
"""

from __future__ import annotations

from services.runtime.errors import Problem
from services.runtime.links import Expired, Forged, Link, link_signer

PURPOSES = {"questionnaire": "feedback.questionnaire", "wechat_vote": "feedback.wechat_vote"}

signer = link_signer  # one signer per process (services.runtime.links)


def verify_link(token: str) -> Link:
    """The link behind a token: 404 for anything not genuine (no hint why), 410 once expired."""
    try:
        return signer().verify(token, purposes=tuple(PURPOSES.values()))
    except Forged as exc:
        raise Problem(404, "未找到", "Not found") from exc
    except Expired as exc:
        raise Problem(
            410, "链接已过期，请联系社区重新获取", "The link has expired; ask the community for a new one"
        ) from exc


def link_used() -> Problem:
    return Problem(409, "该链接已使用过，每个链接只能提交一次", "This link has already been used (one answer per link)")
