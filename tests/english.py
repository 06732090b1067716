"""What a person reads in English: words only — no Chinese outside quotes, no identifiers, no codes.

The English twins of service-written sentences (triage reasons and history, meeting's tier and agenda words,
the ledger's notes, feedback's round reasons) are checked with these; words kept as written (a resident's, a
staff member's, a proper name) are quoted “…” or passed as `kept`.
"""

from __future__ import annotations

import re

from services.contracts import labels

QUOTE = re.compile(r"“[^”]*”")  # words kept as written, quoted
CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")
SNAKE = re.compile(r"\b[a-z]+_[a-z0-9_]+\b")  # an identifier (snake_case)


def codes(*groups: str, extra: str = "") -> re.Pattern:
    """The label codes of `groups` as bare lowercase words (plus `extra`, a regex alternative)."""
    words = sorted({c for g in groups for c in labels.GROUPS[g]}, key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join([*words, *([extra] if extra else [])]) + r")\b")


# The English label words are capitalised, so a lowercase grade code in a sentence is a code that slipped through.
GRADE_CODES = codes("level", "route", "kind", "category")


def unquoted(en: str, *kept: str) -> str:
    """`en` without its quoted words and the `kept` ones (titles, the staff's own words)."""
    for k in kept:
        en = en.replace(k, "") if k else en
    return QUOTE.sub("", en)


def assert_words(en: str, *kept: str, codes: re.Pattern | None = GRADE_CODES) -> None:
    """`en` is present and reads as English words: no Chinese outside quotes, no identifier, no code."""
    words = unquoted(en, *kept)
    assert en and not CJK.search(words), f"Chinese outside quotes: {en!r}"
    assert not SNAKE.search(words), f"an identifier: {en!r}"
    assert codes is None or not codes.search(words), f"a code: {en!r}"
