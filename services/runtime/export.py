"""What every list endpoint shares for search and export: a Beijing date range and an XLSX answer in words."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Query
from fastapi.responses import Response

BEIJING = ZoneInfo("Asia/Shanghai")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT_MAX = 10_000  # rows in one export; the list says how many match, so a person narrows the search

Keyword = Annotated[str | None, Query(max_length=100, description="Keyword (关键词), matched in the text and title")]
Since = Annotated[dt.date | None, Query(description="From this Beijing day (起始日期), inclusive")]
Until = Annotated[dt.date | None, Query(description="To this Beijing day (截止日期), inclusive")]
Lang = Annotated[str, Query(pattern="^(zh|en)$", description="Language of the export's words (zh|en)")]


def day_bounds(since: dt.date | None, until: dt.date | None) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The UTC instants [start, end) covering Beijing days since..until (either may be open)."""
    start = dt.datetime.combine(since, dt.time(), BEIJING).astimezone(dt.UTC) if since else None
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), BEIJING).astimezone(dt.UTC) if until else None
    return start, end


def within(column: Any, since: dt.date | None, until: dt.date | None, stored: Callable = lambda t: t) -> list:
    """Conditions keeping `column` inside Beijing days since..until (none when both are open); `stored` converts
    an instant to the column's form (e.g. naive UTC)."""
    start, end = day_bounds(since, until)
    return [*([column >= stored(start)] if start else []), *([column < stored(end)] if end else [])]


def like(text: str) -> str:
    """A LIKE pattern for a keyword, its wildcards taken literally (escape character: backslash)."""
    escaped = text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def beijing(value: Any) -> Any:
    """A datetime as Beijing wall time without zone (spreadsheets show it as is); other values unchanged."""
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return aware.astimezone(BEIJING).replace(tzinfo=None, microsecond=0)
    return value


def xlsx_response(title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]], filename: str) -> Response:
    """One sheet: a bold header row, then the rows (times in Beijing time), as an XLSX download."""
    # openpyxl (and numpy under it) costs every service ~0.4 s CPU at start; only an export needs it.
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    wb = Workbook()
    ws = wb.active
    ws.title = title[:31]
    ws.append(list(headers))
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="E8EEF7")
        cell.alignment = Alignment(vertical="center")
    for row in rows:
        ws.append([beijing(v) for v in row])
    for column in ws.columns:
        width = max((len(str(c.value)) if c.value is not None else 0) for c in column[:200])
        ws.column_dimensions[column[0].column_letter].width = min(60, max(10, width * 1.6))
        for c in column[1:]:
            if isinstance(c.value, dt.datetime):
                c.number_format = "yyyy-mm-dd hh:mm"
    ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return Response(
        buf.getvalue(),
        media_type=XLSX,
        headers={"Content-Disposition": f"attachment; filename=export.xlsx; filename*=UTF-8''{quote(filename)}"},
    )


def place_words(community: str | None, compound: str | None = None, building: str | None = None) -> str:
    """Community, compound and building by their directory names (a code the directory lacks is left out)."""
    from services.runtime.directory import load_directory

    c = load_directory().community(community) if community else None
    if c is None:
        return ""
    parts = [c.name]
    p = c.compound(compound) if compound else None
    if p is not None:
        parts.append(p.name)
        b = p.building(building) if building else None
        if b is not None:
            parts.append(b.name)
    return " ".join(parts)
