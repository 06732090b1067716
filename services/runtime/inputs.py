"""Guards against hostile input shared by every service: control characters, dates out of any sane range."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator

from services.runtime.problems import Problem

# C0 controls but tab, LF and CR; the two non-characters and lone surrogates. None of them is legal in XML 1.0
# (so they break Open311 XML and XLSX cells), PostgreSQL refuses NUL in text, and no keyboard types them.
CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Dates a report, meeting, deadline or disclosure can sensibly carry; outside it arithmetic and time zone
# conversion overflow (year 1 minus an offset, year 9999 plus one).
YEAR_MIN, YEAR_MAX = 2000, 2099
_LABELS = {
    "text": "内容",
    "name": "姓名",
    "phone": "电话",
    "compound": "小区",
    "building": "楼栋",
    "unit": "单元",
    "room": "房号",
    "photos": "照片",
    "description": "描述",
    "address_string": "地址",
    "address": "地址",
    "content": "诉求内容",
    "contact_name": "联系人",
    "contact_phone": "联系电话",
    "order_no": "工单编号",
}


def control_at(value: Any) -> bool:
    """True when a string (or any string in a list) holds a control character."""
    if isinstance(value, str):
        return CONTROL_RE.search(value) is not None
    if isinstance(value, list | tuple):
        return any(control_at(v) for v in value)
    return False


def refuse_controls(fields: Mapping[str, Any]) -> None:
    """422 naming the first field that holds a control character (tab, newline and CR are allowed)."""
    for name, value in fields.items():
        if control_at(value):
            label = _LABELS.get(name.rsplit(".", 1)[-1], "内容")
            raise Problem(
                422,
                f"{label}中含有不可见的控制字符，请删除后重新提交",
                f"Field {name} contains control characters",
                field=name,
            )


def printable(value: str) -> str:
    """The text without control characters: for output formats (XML, XLSX) fed by data stored long ago."""
    return CONTROL_RE.sub("", value)


def year_in_range(year: int) -> bool:
    """A year the platform can hold and compute with."""
    return YEAR_MIN <= year <= YEAR_MAX


def _sane_moment(value: dt.datetime | dt.date) -> dt.datetime | dt.date:
    # The year as written: inside the range no UTC offset (at most ±24 h) can push it out of datetime's range.
    if not year_in_range(value.year):
        raise ValueError(
            f"日期超出范围（应在 {YEAR_MIN}–{YEAR_MAX} 年之间） / Date out of range (years {YEAR_MIN}–{YEAR_MAX})"
        )
    return value


Moment = Annotated[dt.datetime, AfterValidator(_sane_moment)]
"""A datetime input (body or query) bounded to YEAR_MIN..YEAR_MAX: 422 naming the field otherwise."""
Day = Annotated[dt.date, AfterValidator(_sane_moment)]


def check_year(year: int, field: str) -> None:
    """422 naming `field` when a parsed year lies outside the range."""
    if not year_in_range(year):
        raise Problem(
            422,
            f"日期超出范围（应在 {YEAR_MIN}–{YEAR_MAX} 年之间）",
            f"Date out of range (years {YEAR_MIN}-{YEAR_MAX})",
            field=field,
        )
