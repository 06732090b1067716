"""Publicity where residents look (一月一公示、议事成果群众评): a notice per compound board and party-building board.

Every month, once per board, the previous month's disclosure is cut into one notice for each compound's notice
board (小区公告栏: its own matters) and one for the community's party-building board (支部党建宣传栏: all of them),
each matter with its 一件一评价 result; a compound's notice is pushed to its owners' WeChat group. Idempotent by the
unique (community, board, month), audited in the hash chain, safe with any number of replicas.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from html import escape

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from services.contracts.vocabulary import GOOD_RATINGS
from services.ledger import audit, disclosure
from services.ledger.disclosure_api import _latest, freeze
from services.ledger.domain import TZ
from services.ledger.models import BoardNotice, Entry, EvaluationView, notices
from services.runtime.directory import Community, load_directory
from services.runtime.notices import Notice
from services.runtime.notify import Recipient

log = logging.getLogger(__name__)

MONTHLY = "system:monthly"
PARTY = "party"
PUBLISH_AT = dt.time(8, 0)  # the 1st of the month, 08:00 Beijing time: last month's notices go up
TXT_LIMIT = 1000
KIND_ZH = {"compound": "小区公告栏", "party_building": "支部党建宣传栏"}


# --- pure -----------------------------------------------------------------------------------------


def due_month(now: dt.datetime) -> str | None:
    """The month whose notices are due at `now`: the previous month, once the 1st's 08:00 has passed."""
    local = now.astimezone(TZ)
    if local.day == 1 and local.time() < PUBLISH_AT:
        return None  # too early on the 1st: the month's last day may still be reported on
    first = local.date().replace(day=1)
    return (first - dt.timedelta(days=1)).strftime("%Y-%m")


def satisfaction(ratings: Sequence[tuple[int, str]]) -> dict | None:
    """一件一评价 of a matter: its latest evaluated round's households (latest rating each), satisfied ones."""
    if not ratings:
        return None
    last = max(r for r, _ in ratings)
    round_ratings = [rating for r, rating in ratings if r == last]
    good = sum(1 for rating in round_ratings if rating in GOOD_RATINGS)
    n = len(round_ratings)
    return {"round": last, "good": good, "evaluated": n, "text": f"满意{good}/{n}户（{round(100 * good / n)}%）"}


def board_content(
    content: dict, *, board: str, kind: str, name: str, compound_name: str | None, evaluations: dict[str, dict]
) -> dict:
    """One board's notice from a frozen disclosure: its compound's matters (or all), each with its evaluation."""
    public = disclosure.public(content)
    place = disclosure.scrub(compound_name) if compound_name is not None else None
    rows = [m for m in public["matters"] if place is None or m.get("compound") == place]
    matters = []
    for i, m in enumerate(rows, 1):
        rated = evaluations.get(m["ref"])
        if rated is not None:
            verdict = rated["text"]
        elif m["state"] in ("completed",):
            verdict = "待回访评价"
        else:
            verdict = ""
        matters.append({**m, "no": i, "evaluation": verdict})
    done = [m for m in matters if m["state"] in ("completed", "evaluated", "closed")]
    rated = [evaluations[m["ref"]] for m in matters if m["ref"] in evaluations]
    good, n = sum(r["good"] for r in rated), sum(r["evaluated"] for r in rated)
    return {
        "community": content["community"],
        "community_name": content["community_name"],
        "month": content["month"],
        "board": board,
        "board_kind": kind,
        "board_name": name,
        "summary": {
            "listed": len(matters),
            "completed": len(done),
            "evaluated_households": n,
            "satisfied_households": good,
            "satisfaction": f"{round(100 * good / n)}%" if n else None,
        },
        "matters": matters,
    }


def _month_zh(month: str) -> str:
    y, m = month.split("-")
    return f"{y}年{int(m)}月"


def to_txt(notice: dict) -> str:
    """The notice as a WeChat group message (≤ 1000 characters; the board shows everything)."""
    s = notice["summary"]
    head = (
        f"【{notice['board_name']}】{notice['community_name']}五方议事厅{_month_zh(notice['month'])}事项办理情况公示\n"
        f"共{s['listed']}件，已办结{s['completed']}件"
        + (f"；回访{s['evaluated_households']}户，满意度{s['satisfaction']}" if s["satisfaction"] else "")
        + "。\n"
    )
    lines = []
    for m in notice["matters"]:
        where = f"{m['compound']}{m['building']}".strip()
        verdict = f"；居民评价：{m['evaluation']}" if m["evaluation"] else ""
        lines.append(f"{m['no']}. [{m['level_zh']}]{where} {m['title']} — {m['state_label']}{verdict}")
    tail = "\n对办理结果有意见，请联系社区或在业主群留言（一件一评价）。"
    body = head
    for line in lines:
        if len(body) + len(line) + 1 + len(tail) + 20 > TXT_LIMIT:
            body += f"……其余{len(lines) - lines.index(line)}件见公告栏\n"
            break
        body += line + "\n"
    return (body + tail)[:TXT_LIMIT]


def to_html(notice: dict) -> str:
    """The notice as a printable page for the board."""
    s = notice["summary"]
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{escape(str(v))}</td>"
            for v in (
                m["no"],
                f"{m['compound']}{m['building']}",
                m["category_zh"],
                m["level_zh"],
                m["title"],
                m["measures"],
                m["lead_unit"],
                m["state_label"],
                m["evaluation"],
            )
        )
        + "</tr>"
        for m in notice["matters"]
    )
    title = f"{notice['community_name']}五方议事厅{_month_zh(notice['month'])}事项办理情况公示"
    sat = f"，居民满意度{s['satisfaction']}" if s["satisfaction"] else ""
    return (
        '<!doctype html><html lang="zh-CN"><meta charset="utf-8">'
        f"<title>{escape(title)}</title>"
        "<body style=\"font-family: 'Noto Sans CJK SC', 'Source Han Sans SC', 'Microsoft YaHei', sans-serif\">"
        f"<h1>{escape(title)}</h1><p>{escape(notice['board_name'])} · 共{s['listed']}件，已办结{s['completed']}件"
        f"{escape(sat)}</p>"
        '<table border="1" cellspacing="0" cellpadding="4"><tr><th>序号</th><th>位置</th><th>类别</th><th>等级</th>'
        "<th>事项</th><th>措施</th><th>责任单位</th><th>状态</th><th>居民评价（一件一评价）</th></tr>"
        f"{rows}</table></body></html>"
    )


# --- the monthly run ------------------------------------------------------------------------------


def boards(community: Community) -> list[tuple[str, str, str, str | None]]:
    """(board, kind, board name, compound name) for every compound board and the party-building board."""
    out = [(c.code, "compound", c.board_name, c.name) for c in community.compounds]
    return [*out, (PARTY, "party_building", community.party_board_name, None)]


async def _evaluations(s, community: str) -> dict[str, dict]:
    """一件一评价 per matter, keyed by the public reference of its entry."""
    refs = {e.matter_id: e.id[-8:] for e in (await s.exec(select(Entry).where(Entry.community == community))).all()}
    ratings: dict[str, list[tuple[int, str]]] = {}
    q = select(EvaluationView).where(EvaluationView.community == community)
    for ev in (await s.exec(q)).all():
        ratings.setdefault(ev.matter_id, []).append((ev.round, ev.rating))
    out = {}
    for matter_id, rs in ratings.items():
        found = satisfaction(rs)
        if found is not None and matter_id in refs:
            out[refs[matter_id]] = found
    return out


async def publish_month(uow, community: Community, month: str, *, actor: str, now: dt.datetime) -> list[BoardNotice]:
    """Put up every board's notice of the month not yet up (freezing the disclosure if nobody has); idempotent."""
    s = uow.session
    have = {
        b.board
        for b in (
            await s.exec(select(BoardNotice).where(BoardNotice.community == community.code, BoardNotice.month == month))
        ).all()
    }
    wanted = [b for b in boards(community) if b[0] not in have]
    if not wanted:
        return []
    frozen = await _latest(s, community.code, month)
    if frozen is None:
        frozen, _ = await freeze(uow, community.code, month, actor=actor, now=now)
    evaluations = await _evaluations(s, community.code)
    made = []
    for board, kind, name, compound_name in wanted:
        content = board_content(
            frozen.content, board=board, kind=kind, name=name, compound_name=compound_name, evaluations=evaluations
        )
        row = BoardNotice(
            community=community.code,
            month=month,
            board=board,
            board_kind=kind,
            board_name=name[:128],
            disclosure_version=frozen.version,
            published_at=now,
            published_by=actor[:128],
            content=content,
            sha256=disclosure.digest(content),
        )
        try:
            async with s.begin_nested():
                s.add(row)
        except IntegrityError:
            continue  # another replica put this board's notice up meanwhile
        audit.stage(s, row, community=community.code, actor=actor, action="publicity", entry_id=None, at=now)
        compound = community.compound(board) if kind == "compound" else None
        if compound is not None and compound.owners_group is not None and content["matters"]:
            await notices.enqueue(
                uow,
                [
                    Notice(
                        key=f"publicity:{community.code}:{board}:{month}",
                        community=community.code,
                        to=Recipient(name=f"{compound.name}业主群", key=f"owners_group:{board}"),
                        subject=f"{name}·{_month_zh(month)}五方议事厅事项公示",
                        body=to_txt(content),
                        kind="publicity",
                        ref=f"board:{board}:{month}",
                        via=compound.owners_group,
                    )
                ],
                now=now,
            )
            row.pushed = True
            s.add(row)
        made.append(row)
    return made


UowFactory = Callable[[], AbstractAsyncContextManager]


async def run_monthly(uow_factory: UowFactory, now: dt.datetime | None = None) -> int:
    """The periodic job: last month's board notices of every community, once; return how many went up."""
    now = now or dt.datetime.now(dt.UTC)
    month = due_month(now)
    if month is None:
        return 0
    total = 0
    for community in load_directory().communities:
        try:
            async with uow_factory() as uow:
                total += len(await publish_month(uow, community, month, actor=MONTHLY, now=now))
                await uow.commit()
        except IntegrityError:
            log.info("publicity.raced community=%s month=%s (another replica published)", community.code, month)
        except Exception:
            log.exception("publicity.failed community=%s month=%s", community.code, month)
    return total
