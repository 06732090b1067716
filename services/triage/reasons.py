"""A grade's reasons in two languages: each line is its Chinese text with an English twin in words (pure).

`Reason` is a `str` (the Chinese, which the rules test with `startswith` and keep in the database's `reasons`)
carrying `en`, the same line in English words: levels, routes, kinds and categories from `contracts.labels`,
hazards from `hazards.LABELS_EN`, people by name and role. Residents' own words stay quoted as they wrote them.
Lists of reasons keep their twins through slicing and filtering, so the two languages never drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from services.contracts import labels

MAX_LINE = 500
REVIEW_EN = "treated as Red, with a review by a person"


class Reason(str):
    """One reason line: the Chinese text (the str itself) and `en`, its English twin."""

    en: str

    def __new__(cls, zh: str, en: str) -> Reason:
        line = super().__new__(cls, zh)
        line.en = en
        return line

    def __reduce__(self):  # pickle both halves
        return (Reason, (str(self), self.en))

    def cut(self, n: int = MAX_LINE) -> Reason:
        """Both halves cut to `n` characters (the stored limit of a line)."""
        return Reason(self[:n], self.en[:n])

    def then(self, zh: str, en: str) -> Reason:
        """This line with text appended to both halves."""
        return Reason(f"{self}{zh}", f"{self.en}{en}")


def en_of(line: str) -> str:
    """The English twin of a line; "" for a line stored before twins existed (shown in Chinese)."""
    return line.en if isinstance(line, Reason) else ""


def paired(zh: Sequence[str], en: Sequence[str] | None) -> list[Reason]:
    """Stored columns back to lines; a legacy row (no or mismatched English list) gets empty twins."""
    twins = list(en or ())
    if len(twins) != len(zh):
        twins = [""] * len(zh)
    return [Reason(z, e) for z, e in zip(zh, twins, strict=True)]


def columns(lines: Iterable[str]) -> tuple[list[str], list[str]]:
    """Lines to the two stored lists (Chinese, English), in the same order."""
    items = list(lines)
    return [str(r) for r in items], [en_of(r) for r in items]


def quoted_en(phrases: Iterable[str]) -> str:
    """Residents' words quoted as written, separated the English way."""
    return ", ".join(f"“{p}”" for p in phrases)


def level_en(code: str) -> str:
    return labels.en("level", code)


def route_en(code: str) -> str:
    return labels.en("route", code)


def kind_en(code: str) -> str:
    return labels.en("kind", code)


def category_en(code: str) -> str:
    return labels.en("category", code)


def who_en(name: str | None, role: str | None) -> str:
    """A person as the English reasons name them: name and role in words, never an id."""
    word = labels.en("role", role, "Staff")
    return f"{name} ({word})" if name else word


def count_en(n: int, noun: str, plural: str | None = None) -> str:
    """A count in English words: "1 report", "3 reports", "1 person", "2 people"."""
    return f"{n} {noun if n == 1 else (plural or noun + 's')}"


def days_en(days: float) -> str:
    """A stated duration in English words: "about 3 days", "about 2 weeks", "about 6 months"."""

    def about(n: float, unit: str) -> str:
        return f"about {n:g} {unit}" + ("" if n == 1 else "s")

    if days >= 365:
        return about(round(days / 365, 1), "year")
    if days >= 60:
        return about(round(days / 30), "month")
    if days >= 14 and days % 7 == 0:
        return about(days / 7, "week")
    return about(round(days, 1), "day")
