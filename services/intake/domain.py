"""Intake rules: normalise any channel's input into one report; parse places out of free text."""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass, field

from services.runtime.directory import Community

# No 0/O, 1/I/L: tracking codes are read aloud and typed on phones.
TRACKING_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_NUM = r"(\d{1,3}|[一二两三四五六七八九十]{1,3})"
# Not after 月 or a digit: "3月5号" / "上个月28号" are dates, not buildings.
_BUILDING_RE = re.compile(r"(?<![月\d])" + _NUM + r"\s*(?:号楼|栋|幢|座|号|#|＃)")
_TRIPLE_RE = re.compile(r"(?<!\d)(\d{1,3})\s*[-－#＃]\s*(\d{1,2})\s*[-－]\s*(\d{3,4})(?!\d)")
_UNIT_RE = re.compile(_NUM + r"\s*单元")
_ROOM_RE = re.compile(r"(?:单元|号楼|栋)\s*(\d{3,4})(?:室|房|号)?|(?<!\d)(\d{3,4})\s*(?:室|房)")
SUGGESTION_RE = re.compile(r"建议|希望能|希望可以|能不能增加|可否|提议|能否|最好能")


def new_tracking_code() -> str:
    """An 8-character tracking code (查询码): 31^8 ≈ 8.5e11 values, so guessing is impractical."""
    return "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(8))


def valid_phone(phone: str) -> bool:
    """Mainland mobile numbers (11 digits starting 13–19)."""
    return bool(PHONE_RE.match(re.sub(r"[\s-]", "", phone)))


def _num(token: str) -> str:
    if token.isdigit():
        return str(int(token))
    if token in _CN_DIGITS:
        return str(_CN_DIGITS[token])
    if token.startswith("十"):  # 十二 -> 12
        return str(10 + _CN_DIGITS.get(token[1:], 0))
    if token.endswith("十"):  # 二十 -> 20
        return str(_CN_DIGITS[token[0]] * 10)
    if "十" in token:  # 二十三 -> 23
        a, b = token.split("十", 1)
        return str(_CN_DIGITS[a] * 10 + _CN_DIGITS[b])
    return token


@dataclass
class ParsedPlace:
    """A place read from free text; what could not be found is listed, never guessed."""

    compound: str | None = None
    building: str | None = None
    unit: str | None = None
    room: str | None = None
    unparsed: list[str] = field(default_factory=list)


def parse_place(text: str, community: Community | None) -> ParsedPlace:
    """Read compound (from the directory), building, unit and room from how people really write."""
    place = ParsedPlace()
    if community is not None:
        best = None
        for compound in community.compounds:
            for name in compound.names:
                if name and name in text and (best is None or len(name) > len(best[1])):
                    best = (compound, name)
        if best:
            place.compound = best[0].code
    triple = _TRIPLE_RE.search(text)
    if triple:
        place.building, place.unit, place.room = (str(int(triple.group(1))), str(int(triple.group(2))), triple.group(3))
    else:
        if m := _BUILDING_RE.search(text):
            place.building = _num(m.group(1))
        if m := _UNIT_RE.search(text):
            place.unit = _num(m.group(1))
        if m := _ROOM_RE.search(text):
            place.room = m.group(1) or m.group(2)
    for key in ("compound", "building", "unit"):
        if getattr(place, key) is None:
            place.unparsed.append(key)
    return place


def infer_kind(text: str, hint: str | None, channel: str) -> str:
    """problem or suggestion: the hint wins, else proposals read as suggestions; wish walls default to one."""
    if hint in ("problem", "suggestion"):
        return hint
    if SUGGESTION_RE.search(text) or channel == "wish_wall":
        return "suggestion"
    return "problem"


def clean_text(text: str) -> str:
    """Normalise whitespace and strip WeChat placeholders like [图片] while keeping the words."""
    text = re.sub(r"\[(图片|表情|语音|视频|链接)\]", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def redact_known(text: str, *, names: list[str | None], rooms: list[str | None]) -> str:
    """Replace the reporter's own name and room numbers wherever the text repeats them (scrubbing cannot know them).

    Neutral words, not masks: 王** or 5栋*** still points at one household among neighbours.
    """
    for name in sorted({n.strip() for n in names if n and len(n.strip()) >= 2}, key=len, reverse=True):
        text = text.replace(name, "居民")
    numbers = {d for r in rooms if r for d in re.findall(r"\d{3,4}", r)}
    for number in numbers:
        text = re.sub(rf"(?<!\d){number}(?!\d)", "某室", text)
    return text


_YES = {"是", "同意", "愿意", "可以", "√", "✓", "✔", "y", "yes", "true", "1"}
_NO = {"否", "不同意", "不愿意", "不可以", "×", "✗", "n", "no", "false", "0", ""}


def consent_value(raw: object) -> bool | None:
    """A consent cell or field as a yes/no (是/同意/√/yes/1 or 否/不同意/blank/no/0); None when unreadable."""
    if raw is None or isinstance(raw, bool):
        return bool(raw)
    word = unicodedata.normalize("NFKC", str(raw)).strip().lower()
    if word in _YES:
        return True
    if word in _NO:
        return False
    return None


# --- door-knocking (敲响邻里门): households and coverage ----------------------------------------------

_DOOR_ROOM_RE = re.compile(r"^(\d{3,4})(?:室|号|房)?$")
_MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def door(unit: int, room: str) -> str | None:
    """The canonical door of a household, "2单元301", or None when the room is not 3–4 digits (301, 1502室)."""
    m = _DOOR_ROOM_RE.match(unicodedata.normalize("NFKC", room or "").strip())
    return f"{unit}单元{int(m[1])}" if m and unit >= 1 else None


def household_address(community: str, compound: str, building: str, door_label: str) -> str:
    """The address a household's pseudonym is taken of (never stored in clear, never published)."""
    return f"household:{community}:{compound}:{building}:{door_label}"


def valid_month(month: str) -> bool:
    """A campaign month: YYYY-MM."""
    return bool(_MONTH_RE.match(month or ""))


@dataclass(frozen=True)
class BuildingCoverage:
    """How many of a building's households a campaign reached, and which doors."""

    compound: str
    building: str
    households: int
    visited: int
    doors: tuple[str, ...]

    @property
    def rate(self) -> float | None:
        """Share of the building's households visited (None when the directory gives no household count)."""
        return round(min(self.visited / self.households, 1.0), 4) if self.households else None


def coverage(buildings: list[tuple[str, str, int]], visits: list[tuple[str, str, str, str]]) -> list[BuildingCoverage]:
    """Per building (compound, building, households): distinct households visited, from (compound, building,
    household_ref, door) visits; a household visited twice counts once."""
    seen: dict[tuple[str, str], dict[str, str]] = {}
    for compound, building, ref, door_label in visits:
        seen.setdefault((compound, building), {}).setdefault(ref, door_label)
    out = []
    for compound, building, households in buildings:
        doors = seen.get((compound, building), {})
        ordered = tuple(sorted(doors.values(), key=lambda d: [int(x) for x in re.findall(r"\d+", d)]))
        out.append(BuildingCoverage(compound, building, households, len(doors), ordered))
    return out
