"""The measures the ledger writes by itself (not a session's or a person's), in Chinese and English.

A direct, red or supervised entry gets fixed measures; the feedback service shows them on a revisit with the
completion note (办结说明). Both services read the English here; measures a session decided stay as written.
"""

from __future__ import annotations

DIRECT = "按职责直接处理（一般性问题立即解决）"
RED = "红色事项：值班责任单位立即到场处置、控制险情，紧急议事会随后议定办理措施"
SUPERVISED = "社区党组织督办：牵头重新研究整改措施"
BY_SESSION = "按议事会决议办理"
COMPLETION_NOTE = "办结说明："  # the feedback service's label before the completion note

MEASURES_EN = {
    DIRECT: "Handled directly by the unit responsible (everyday problems are fixed at once)",
    RED: (
        "Red matter: the unit on duty goes at once to deal with it and contain the danger; an urgent session "
        "then decides the measures"
    ),
    SUPERVISED: "Supervised by the community party organisation, which leads a new plan to put it right",
    BY_SESSION: "As the session decided",
}


def measures_en(text: str | None) -> str | None:
    """The English of fixed measures, else None (a session's or a person's words)."""
    return MEASURES_EN.get((text or "").strip())


def revisit_measures_en(text: str | None) -> str | None:
    """A revisit's "measures；办结说明：note" in English: fixed measures in words, other text quoted as written."""
    if not text:
        return text
    note: str | None
    if text.startswith(COMPLETION_NOTE):
        head, note = "", text[len(COMPLETION_NOTE) :]
    else:
        head, sep, rest = text.partition("；" + COMPLETION_NOTE)
        note = rest if sep else None
    parts = [measures_en(head) or f"“{head}”"] if head else []
    if note is not None:
        parts.append(f"Completion note: “{note}”")
    return "; ".join(parts)
