"""Monthly disclosure (一月一公示): an anonymous snapshot of every matter, and its four printed forms."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from collections.abc import Sequence
from pathlib import Path

import jinja2

from services.contracts import labels
from services.ledger import audit
from services.ledger.domain import DONE_STATES, STATE_LABELS_ZH, TZ
from services.ledger.models import Entry, SupportingTask, TimelineItem
from services.runtime.directory import load_directory
from services.runtime.inputs import printable
from services.runtime.privacy import scrub_text

LEVEL_ZH = labels.zh_map("level")
LEVEL_COLOURS = {"red": "D93025", "yellow": "F2B400", "green": "188038"}
CATEGORY_ZH = labels.zh_map("category")
# Notes that say nothing about the work itself are not shown as progress.
_SILENT_ACTIONS = frozenset({"register", "regrade", "remind", "overdue"})
# Residents' verdicts are shown as the verdict only: the note behind them quotes who said what (督促整改 text).
_PUBLIC_NOTES = {
    "evaluate_unsatisfied": "居民评价不满意，督促责任单位重新整改",
    "evaluate_satisfied": "居民评价满意",
}
TXT_LIMIT = 1000
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
COLUMNS = (
    "序号",
    "小区",
    "楼栋",
    "类别",
    "等级",
    "事项",
    "措施",
    "责任单位",
    "配合单位",
    "办结时限",
    "状态",
    "最新进展",
)


def scrub(text: str | None) -> str:
    """Published free text: no phone, ID number, room, household reference or name, masked or not."""
    return scrub_text(text or "").strip()


_PUBLIC_FIELDS = ("compound", "building", "title", "measures", "lead_unit", "progress")


def public(content: dict) -> dict:
    """A disclosure's content scrubbed again as it is rendered: versions frozen under an older scrubber leak nothing.

    Scrubbing is idempotent, so a version built by this code renders exactly as stored.
    """
    matters = [
        {
            **m,
            **{k: scrub(m.get(k)) for k in _PUBLIC_FIELDS if k in m},
            "supporting_units": [scrub(u) for u in m.get("supporting_units", [])],
        }
        for m in content.get("matters", [])
    ]
    return {**content, "matters": matters}


def _place(community: str, compound: str | None, building: str | None) -> tuple[str, str]:
    """Compound and building names only (never a unit or room)."""
    c = load_directory().community(community)
    found = c.compound(compound) if c is not None and compound else None
    name = found.name if found is not None else (compound or "")
    bname = ""
    if building:
        b = found.building(building) if found is not None else None
        bname = (
            b.name if b is not None else (building if building.endswith(("号楼", "栋", "幢")) else f"{building}号楼")
        )
    return scrub(name), scrub(bname)


def _day(moment: dt.datetime | None) -> str:
    if moment is None:
        return ""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
    return aware.astimezone(TZ).strftime("%Y-%m-%d")


def _in(moment: dt.datetime | None, start: dt.datetime, end: dt.datetime) -> bool:
    if moment is None:
        return False
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
    return start <= aware < end


def listed(e: Entry, start: dt.datetime, end: dt.datetime) -> bool:
    """An entry appears in a month's disclosure if registered before the month ends and not closed before it began.

    An entry merged into another matter (合并) never appears: the surviving matter's entry is published.
    """
    if e.state == "merged":
        return False  # merged into another matter (合并): published under that matter
    created = e.created_at if e.created_at.tzinfo else e.created_at.replace(tzinfo=dt.UTC)
    closed = e.closed_at if e.closed_at is None or e.closed_at.tzinfo else e.closed_at.replace(tzinfo=dt.UTC)
    return created < end and (closed is None or closed >= start)


def summarise(entries: Sequence[Entry], start: dt.datetime, end: dt.datetime) -> dict[str, int]:
    """new = registered in the month; completed = completed in the month; overdue/open = of those listed, now."""
    shown = [e for e in entries if listed(e, start, end)]
    return {
        "listed": len(shown),
        "new": sum(1 for e in shown if _in(e.created_at, start, end)),
        "completed": sum(1 for e in shown if _in(e.completed_at, start, end)),
        "overdue": sum(1 for e in shown if e.overdue and e.state not in DONE_STATES),
        "open": sum(1 for e in shown if e.state not in DONE_STATES),
    }


def _progress(items: Sequence[TimelineItem]) -> str:
    for item in reversed(items):
        if item.note and item.action not in _SILENT_ACTIONS:
            return f"{_day(item.at)} {_PUBLIC_NOTES.get(item.action) or scrub(item.note)}"[:300]
    return ""


def build(
    community: str,
    month: str,
    entries: Sequence[Entry],
    timelines: dict[str, list[TimelineItem]],
    supporting: dict[str, list[SupportingTask]],
    start: dt.datetime,
    end: dt.datetime,
    previous: dict | None,
    now: dt.datetime,
) -> dict:
    """The anonymous content of a community's disclosure for a month (previous: last month's summary)."""
    c = load_directory().community(community)
    shown = sorted((e for e in entries if listed(e, start, end)), key=lambda e: (e.created_at, e.id))
    matters = []
    for i, e in enumerate(shown, 1):
        compound, building = _place(e.community, e.compound, e.building)
        matters.append(
            {
                "no": i,
                # = contracts.refs.ledger_ref(matter_id) (entry ids derive from matter ids): Open311 and
                # tracking pages carry the same reference.
                "ref": e.id[-8:],
                "compound": compound,
                "building": building,
                "category": e.category,
                "category_zh": CATEGORY_ZH.get(e.category, e.category),
                "level": e.level,
                "level_zh": LEVEL_ZH.get(e.level, e.level),
                "title": scrub(e.title)[:200],
                "measures": scrub(e.measures)[:500],
                "lead_unit": scrub(e.lead_unit),
                "supporting_units": [scrub(t.unit) for t in supporting.get(e.id, [])]
                or [scrub(u) for u in e.supporting_units],
                "deadline": _day(e.deadline),
                "state": e.state,
                "state_label": STATE_LABELS_ZH.get(e.state, e.state),
                "overdue": bool(e.overdue and e.state not in DONE_STATES),
                "completed_on": _day(e.completed_at),
                "progress": _progress(timelines.get(e.id, [])),
            }
        )
    summary = summarise(entries, start, end)
    change = None
    if previous is not None:
        change = {k: summary[k] - previous.get(k, 0) for k in summary}
    return {
        "community": community,
        "community_name": c.name if c is not None else community,
        "month": month,
        "as_of": audit.iso(now),
        "summary": summary,
        "previous": previous,
        "change_from_previous_month": change,
        "matters": matters,
    }


def digest(content: dict) -> str:
    """sha256 of the canonical JSON of a disclosure's content."""
    return hashlib.sha256(audit.canonical(content)).hexdigest()


def diff(old: dict, new: dict) -> dict:
    """What a correction changed: matters added, removed and changed (by ref), summary deltas."""
    before = {m["ref"]: m for m in old.get("matters", [])}
    after = {m["ref"]: m for m in new.get("matters", [])}
    changed = {}
    for ref in sorted(before.keys() & after.keys()):
        fields = {
            k: [before[ref].get(k), after[ref].get(k)]
            for k in sorted(after[ref])
            if k != "no" and before[ref].get(k) != after[ref].get(k)
        }
        if fields:
            changed[ref] = fields
    return {
        "added": sorted(after.keys() - before.keys()),
        "removed": sorted(before.keys() - after.keys()),
        "changed": changed,
        "summary": {k: new["summary"][k] - old.get("summary", {}).get(k, 0) for k in new["summary"]},
    }


_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _month_zh(month: str) -> str:
    y, m = month.split("-")
    return f"{y}年{int(m)}月"


def _row(m: dict) -> list[str]:
    return [
        str(m["no"]),
        m["compound"],
        m["building"],
        m["category_zh"],
        m["level_zh"],
        m["title"],
        m["measures"],
        m["lead_unit"],
        "、".join(m["supporting_units"]),
        m["deadline"],
        m["state_label"] + ("（超期）" if m["overdue"] else ""),
        m["progress"],
    ]


def to_html(content: dict, meta: dict) -> str:
    """A printable A4 page."""
    content = public(content)
    return _ENV.get_template("disclosure.html").render(
        c=content, meta=meta, month_zh=_month_zh(content["month"]), colours=LEVEL_COLOURS
    )


def formula_leading(value: str) -> bool:
    """A cell a spreadsheet would evaluate (OWASP CSV injection: = + - @ tab CR)."""
    return value.startswith(FORMULA_LEADS)


def csv_cell(value: str) -> str:
    """A CSV cell a spreadsheet reads as text: a formula-leading one gets the OWASP `'` prefix."""
    value = printable(value)
    return "'" + value if formula_leading(value) else value


def to_csv(content: dict) -> bytes:
    """CSV with a BOM so spreadsheet programs read the Chinese correctly; no cell is a formula."""
    content = public(content)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(COLUMNS)
    for m in content["matters"]:
        w.writerow([csv_cell(v) for v in _row(m)])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def _text_cells(ws, row: int) -> None:
    """Every text cell of a row stays a string: never a formula, quote-prefixed if it looks like one."""
    for cell in ws[row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"
            cell.quotePrefix = formula_leading(cell.value)  # Excel keeps it text even when edited


def to_xlsx(content: dict, meta: dict) -> bytes:
    """An Excel workbook: the matters with level colours, and the month's summary."""
    content = public(content)
    # Imported here: openpyxl (and numpy under it) would cost the service ~0.4 s CPU at every start.
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    wb = Workbook()
    ws = wb.active
    ws.title = "公示"
    ws.append(
        [f"{content['community_name']} {_month_zh(content['month'])} 议事事项办理情况公示（第{meta['version']}版）"]
    )
    _text_cells(ws, 1)
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(list(COLUMNS))
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for m in content["matters"]:
        ws.append([printable(v) for v in _row(m)])  # XML 1.0 cannot carry control characters
        _text_cells(ws, ws.max_row)
        level_cell = ws.cell(row=ws.max_row, column=5)
        level_cell.fill = PatternFill("solid", fgColor=LEVEL_COLOURS.get(m["level"], "FFFFFF"))
        level_cell.font = Font(color="FFFFFF", bold=True)
    for row in ws.iter_rows(min_row=3):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    s = wb.create_sheet("汇总")
    labels = {
        "listed": "公示事项",
        "new": "本月新增",
        "completed": "本月办结",
        "overdue": "超期未办结",
        "open": "办理中",
    }
    s.append(["指标", "本月", "上月", "变化"])
    prev = content.get("previous") or {}
    change = content.get("change_from_previous_month") or {}
    for k, label in labels.items():
        s.append([label, content["summary"][k], prev.get(k, ""), change.get(k, "")])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _signed(n: int | None) -> str:
    return "" if n is None else f"{n:+d}"


def to_txt(content: dict) -> str:
    """A short text for WeChat groups (at most 1000 characters)."""
    content = public(content)
    s, ch = content["summary"], content.get("change_from_previous_month") or {}
    head = (
        f"【{content['community_name']}{_month_zh(content['month'])}议事事项公示】"
        f"本月新增{s['new']}件{('（较上月' + _signed(ch.get('new')) + '）') if ch else ''}，"
        f"办结{s['completed']}件{('（较上月' + _signed(ch.get('completed')) + '）') if ch else ''}，"
        f"超期{s['overdue']}件，办理中{s['open']}件。\n"
    )
    tail = "完整台账请见小区公示栏、党建宣传栏。"
    lines, used = [], len(head) + len(tail) + 20
    for m in content["matters"]:
        line = f"{m['no']}.{m['compound']}{m['building']} {m['title'][:40]}：{m['state_label']}"
        line += "（超期）\n" if m["overdue"] else "\n"
        if used + len(line) > TXT_LIMIT:
            lines.append(f"……另有{len(content['matters']) - len(lines)}件\n")
            break
        lines.append(line)
        used += len(line)
    return (head + "".join(lines) + tail)[:TXT_LIMIT]
