"""Reading a resident's words: normalised text, numbers in Chinese, negation, clauses, durations (pure)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from services.triage import gloss, rules

NOISE_TOKENS = re.compile(r"\[[^\]\[]{1,6}\]|@\S+?(?=\s|$)")
CLAUSE_SPLIT = re.compile(r"[，,。.！!？?；;、\n]")
CN_DIGITS = {
    "零": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
NUM = r"(\d+|[零一二两三四五六七八九十几半]+)"
DURATION = re.compile(NUM + r"(多)?(个)?(小时|天|晚|星期|礼拜|周|月|年)")
HOUSEHOLDS = re.compile(NUM + r"多?户")
DAYS_PER_UNIT = {"小时": 1 / 24, "天": 1, "晚": 1, "星期": 7, "礼拜": 7, "周": 7, "月": 30, "年": 365}


def normalise(text: str) -> str:
    """Fold full-width forms, read English through the glossary, drop chat artefacts ([图片], @物业), whitespace."""
    text = gloss.to_chinese(unicodedata.normalize("NFKC", text or ""))
    text = NOISE_TOKENS.sub(" ", text)
    return re.sub(r"\s+", "", text)


def cn_number(token: str) -> float:
    """Parse '12', '三', '十几', '半' into a number; '几' counts as 3 (a cautious 'several')."""
    if token.isdigit():
        return float(token)
    if token == "半":
        return 0.5
    total, current = 0.0, 0.0
    for ch in token:
        if ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch == "几":
            current = 3
        elif ch == "半":
            current += 0.5
        else:
            current = CN_DIGITS.get(ch, 0)
    return total + current


def occurrences(text: str, phrase: str) -> Iterable[int]:
    start = text.find(phrase)
    while start != -1:
        yield start
        start = text.find(phrase, start + 1)


def is_negated(text: str, start: int, phrase: str) -> bool:
    """True when the phrase is denied/prevented just before it, or reported resolved just after it."""
    before = text[max(0, start - 4) : start]
    after = text[start + len(phrase) : start + len(phrase) + 10]
    lead_in = text[clause_start(text, start) : start][-8:]
    return (
        any(before.endswith(n) for n in rules.NEGATION_PREFIXES)
        or any(w in lead_in for w in rules.PREVENTION_WORDS)
        or any(r in after[: len(r) + 6] for r in rules.RESOLVED_SUFFIXES)
    )


def clause_start(text: str, start: int) -> int:
    return max((m.end() for m in CLAUSE_SPLIT.finditer(text, 0, start)), default=0)


def clause_at(text: str, start: int) -> str:
    left = clause_start(text, start)
    right_match = CLAUSE_SPLIT.search(text, start)
    return text[left : right_match.start() if right_match else len(text)]


def affirmed(text: str, phrases: Iterable[str]) -> list[tuple[str, bool]]:
    """Non-negated hits as (phrase, hedged); a phrase inside a longer hit is dropped."""
    hits: dict[str, bool] = {}
    for phrase in dict.fromkeys(p for p in phrases if p):
        if phrase not in text:  # most phrases are absent, and `in` is far cheaper than starting the search
            continue
        for start in occurrences(text, phrase):
            if is_negated(text, start, phrase):
                continue
            clause = clause_at(text, start)
            hedged = any(h in clause for h in rules.HEDGE_WORDS)
            hits[phrase] = hits.get(phrase, True) and hedged
    return [(p, h) for p, h in hits.items() if not any(p != q and p in q for q in hits)]


def first_of(text: str, phrases: Iterable[str]) -> str | None:
    hits = [p for p, _ in affirmed(text, phrases)]
    return hits[0] if hits else None


def longest_duration(text: str) -> tuple[float, str] | None:
    """Longest stated duration in days, with the phrase, e.g. (3, '三天'); dates like '5月' are skipped."""
    best: tuple[float, str] | None = None
    for m in DURATION.finditer(text):
        number, _more, ge, unit = m.groups()
        if unit == "月" and not ge:  # '5月3日' is a date, '三个月' is a duration
            continue
        value = cn_number(number)
        if unit == "年" and value > 50:  # '2023年' is a year
            continue
        days = value * DAYS_PER_UNIT[unit]
        if best is None or days > best[0]:
            best = (days, m.group(0))
    return best


def quoted(phrases: Iterable[str]) -> str:
    return "、".join(f"“{p}”" for p in phrases)
