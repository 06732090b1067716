"""未诉先办: recurring problems found in the matters' history, proposed as topics before residents complain again.

Pure rules (no I/O). A problem is a place (compound and building) and a category. It is proposed for a month when
  - it **recurs**: matters of it in at least `RECURRING_MONTHS` different months of the twelve before, or
  - it is **seasonal**: matters of it in the same season (a named one such as 梅雨季 for drains, 冬季 for water and
    heating, or else the same calendar month) in at least `SEASONAL_YEARS` earlier years, and the month is in it;
and nothing of it is already waiting for a session (then it is on its way anyway).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from services.contracts import labels

RECURRING_MONTHS = 3
SEASONAL_YEARS = 2
LOOKBACK_MONTHS = 12

# Seasons named by the county's weather: Jiangxi's plum rains (梅雨季) and winter.
SEASONS: tuple[tuple[str, frozenset[int], frozenset[str]], ...] = (
    ("梅雨季", frozenset({5, 6, 7}), frozenset({"drainage"})),
    ("冬季", frozenset({12, 1, 2}), frozenset({"utilities"})),
)

CATEGORY_ZH = {
    "parking": "停车",
    "road": "道路",
    "lighting": "照明",
    "drainage": "排水",
    "elevator": "电梯",
    "greening": "绿化",
    "sanitation": "环境卫生",
    "safety_fire": "消防安全",
    "utilities": "水电气暖",
    "property_management": "物业管理",
    "noise": "噪音",
    "pets": "宠物",
    "construction": "施工",
    "neighbor_dispute": "邻里纠纷",
    "elderly_care": "养老",
    "children": "儿童",
    "accessibility": "无障碍",
    "security_access": "门禁安防",
    "public_facilities": "公共设施",
    "other": "其他",
}


@dataclass(frozen=True)
class Past:
    """One matter of the history: where, what, when (Beijing date), and whether it still waits for a session."""

    matter_id: str
    compound: str | None
    building: str | None
    category: str
    on: dt.date
    waiting: bool = False


@dataclass(frozen=True)
class Finding:
    """A problem to propose for a month, with the evidence in words and as data."""

    compound: str
    building: str | None
    category: str
    kind: str  # recurring | seasonal
    season: str | None
    dates: tuple[dt.date, ...]
    matter_ids: tuple[str, ...]
    evidence_zh: str

    @property
    def key(self) -> str:
        """The problem's identity: one proposal per problem and month."""
        return f"{self.compound}/{self.building or '-'}/{self.category}"


def _month_index(d: dt.date) -> int:
    return d.year * 12 + d.month - 1


def _dates_zh(dates: Sequence[dt.date]) -> str:
    return "、".join(f"{d.year}年{d.month}月{d.day}日" for d in dates)


_MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _dates_en(dates: Sequence[dt.date]) -> str:
    words = [f"{d.day} {_MONTHS_EN[d.month - 1]} {d.year}" for d in dates]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _n(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def building_en(code: str | None, name: str | None = None) -> str:
    """A building in English words: "Building 12" when it is numbered, else its directory name (or nothing)."""
    if code and code.isascii() and code.isalnum():
        return f"Building {code}"
    return name or ""


def evidence_en(
    place: str, category: str, kind: str, season: str | None, dates: Sequence[dt.date], year: int, month: int
) -> str:
    """The evidence of a proposal in English words, from the same facts as the Chinese (place already in words).

    `dates` are the matters' dates the proposal rests on: for a seasonal problem the in-season ones of earlier
    years, for a recurring one those of the last twelve months.
    """
    what = labels.en("category", category, "Other")
    head = f"{what} at {place}" if place else what
    listed = _dates_en(dates) if dates else "—"
    if kind == "seasonal":
        years = len({d.year for d in dates})
        when = (
            f"every {labels.en('season', season).lower()}"
            if season in labels.SEASON
            else f"around {_MONTHS_EN[month - 1]} every year"
        )
        return (
            f"{head}: reported on {listed} ({_n(len(dates), 'matter', 'matters')} in {_n(years, 'year', 'years')}); "
            f"it comes back {when}. Check and deal with it before {_MONTHS_EN[month - 1]} {year}."
        )
    months = len({(d.year, d.month) for d in dates})
    return (
        f"{head}: came back in {months} of the last {LOOKBACK_MONTHS} months "
        f"({_n(len(dates), 'matter', 'matters')}: {listed}). Make it a topic and solve it at the root."
    )


def _season(category: str, month: int) -> tuple[str, frozenset[int]] | None:
    for name, months, categories in SEASONS:
        if category in categories and month in months:
            return name, months
    return None


def detect(history: Iterable[Past], year: int, month: int, place_name=lambda c, b: f"{c}{b or ''}") -> list[Finding]:
    """The problems to propose for (year, month), most evidence first."""
    target = year * 12 + month - 1
    groups: dict[tuple[str, str | None, str], list[Past]] = {}
    for p in history:
        if p.compound and _month_index(p.on) < target:
            groups.setdefault((p.compound, p.building, p.category), []).append(p)
    found: list[Finding] = []
    for (compound, building, category), rows in groups.items():
        if any(r.waiting for r in rows):
            continue
        rows.sort(key=lambda r: (r.on, r.matter_id))
        where = f"{place_name(compound, building)}{CATEGORY_ZH.get(category, category)}问题"
        recent = [r for r in rows if target - _month_index(r.on) <= LOOKBACK_MONTHS]
        months = sorted({_month_index(r.on) for r in recent})
        season = _season(category, month)
        if season is not None:
            name, in_season = season
            seasonal = [r for r in rows if r.on.month in in_season and r.on.year < year]
        else:
            name = None
            seasonal = [r for r in rows if r.on.month == month and r.on.year < year]
        years = sorted({r.on.year for r in seasonal})
        if len(years) >= SEASONAL_YEARS:
            when = name or f"每年{month}月前后"
            text = (
                f"{where}：{_dates_zh([r.on for r in seasonal])}均有反映（{len(years)}年共{len(seasonal)}件），"
                f"{'每逢' + name if name else when}反复出现，建议在{year}年{month}月前先行排查处置。"
            )
            found.append(
                Finding(
                    compound,
                    building,
                    category,
                    "seasonal",
                    name,
                    tuple(r.on for r in seasonal),
                    tuple(r.matter_id for r in seasonal),
                    text,
                )
            )
        elif len(months) >= RECURRING_MONTHS:
            listed = _dates_zh([r.on for r in recent])
            text = (
                f"{where}：近{LOOKBACK_MONTHS}个月内有{len(months)}个月反复出现（共{len(recent)}件：{listed}），"
                "建议列为议题，从根本上解决。"
            )
            found.append(
                Finding(
                    compound,
                    building,
                    category,
                    "recurring",
                    None,
                    tuple(r.on for r in recent),
                    tuple(r.matter_id for r in recent),
                    text,
                )
            )
    found.sort(key=lambda f: (-len(f.dates), f.key))
    return found
