"""The sentences of a matter's grading history (the `regrade` audit rows) in two languages (pure).

Every sentence triage writes into `Regrade.reason` is built here, in Chinese with its English twin in words
(`reasons.Reason`). Only the Chinese is stored; `english` rebuilds the twin when a row is read, from the row's
action, its before/after grades and the fixed wording of the Chinese (no migration: rows written before the twins
existed read in English too). Staff-typed text (a regrade's reason, a note, a merge or split reason) and matter
titles (residents' words) stay as they were written. A row whose Chinese matches none of these sentences (a staff
regrade's reason, or a sentence from an older wording) reads the same in both languages.
"""

from __future__ import annotations

import re

from services.contracts import labels
from services.triage.reasons import Reason, count_en, level_en, route_en

TITLE = 40  # characters of a matter title quoted in a history sentence


def _title(title: str) -> str:
    return title[:TITLE]


def joined(reporters: int, households: int, before: dict, after: dict) -> Reason:
    """A new report joined the matter and raised its grade (an automatic regrade by headcount)."""
    changes, changes_en = [], []
    if before.get("level") != after.get("level"):
        changes.append(f"等级由{labels.zh('level', before.get('level'))}升为{labels.zh('level', after.get('level'))}")
        changes_en.append(f"Level raised from {level_en(before.get('level'))} to {level_en(after.get('level'))}")
    if before.get("route") != after.get("route"):
        changes.append(f"由{labels.zh('route', before.get('route'))}转为{labels.zh('route', after.get('route'))}")
        changes_en.append(f"Route changed from {route_en(before.get('route'))} to {route_en(after.get('route'))}")
    return Reason(
        f"新增报事 1 条，共 {reporters} 人反映、涉及 {households} 户，" + "，".join(changes),
        f"1 new report ({count_en(reporters, 'person', 'people')} reported it, "
        f"{count_en(households, 'household')} affected): " + "; ".join(changes_en),
    )


def merged_into(title: str, reason: str) -> Reason:
    """The merged-away matter's row: its reports went to the matter `title`."""
    return Reason(f"合并到「{_title(title)}」：{reason}", f"Merged into “{_title(title)}”: {reason}")


def took_in(title: str, reason: str) -> Reason:
    """The surviving matter's row: it took in the reports of the matter `title`."""
    return Reason(f"并入「{_title(title)}」：{reason}", f"Took in the reports of “{_title(title)}”: {reason}")


def split_out(moved: int, reason: str) -> Reason:
    """The split matter's row: `moved` reports left it for a new matter."""
    return Reason(
        f"拆出 {moved} 条报事另立事项：{reason}", f"{count_en(moved, 'report')} moved to a new matter: {reason}"
    )


def split_from(reason: str) -> Reason:
    """The new matter's row: it was split off another matter."""
    return Reason(f"自原事项拆出：{reason}", f"Split off from another matter: {reason}")


def confirmed(note: str | None) -> Reason:
    """Staff accepted the grade as it was, with their note if any."""
    return Reason(
        "确认原分级" + (f"：{note}" if note else ""), "Grade confirmed as it was" + (f": {note}" if note else "")
    )


_JOINED = re.compile(r"^新增报事 1 条，共 (\d+) 人反映、涉及 (\d+) 户，")
_MERGED_INTO = re.compile(r"^合并到「(.*?)」：(.*)$", re.S)
_TOOK_IN = re.compile(r"^并入「(.*?)」：(.*)$", re.S)
_SPLIT_OUT = re.compile(r"^拆出 (\d+) 条报事另立事项：(.*)$", re.S)
_SPLIT_FROM = re.compile(r"^自原事项拆出：(.*)$", re.S)
_CONFIRMED = re.compile(r"^确认原分级(?:：(.*))?$", re.S)


def english(action: str | None, reason: str, before: dict | None = None, after: dict | None = None) -> str:
    """The English twin of a stored history sentence (the text as written for staff-typed reasons)."""
    before, after = before or {}, after or {}
    if action == "auto" and (m := _JOINED.match(reason)):
        reporters = int(after.get("reporters") or m.group(1))
        households = int(after.get("households") or m.group(2))
        return joined(reporters, households, before, after).en
    if action == "merge":
        if m := _MERGED_INTO.match(reason):
            return merged_into(m.group(1), m.group(2)).en
        if m := _TOOK_IN.match(reason):
            return took_in(m.group(1), m.group(2)).en
    if action == "split":
        if m := _SPLIT_OUT.match(reason):
            return split_out(int(m.group(1)), m.group(2)).en
        if m := _SPLIT_FROM.match(reason):
            return split_from(m.group(1)).en
    if action == "confirm" and (m := _CONFIRMED.match(reason)):
        return confirmed(m.group(1)).en
    return reason  # a staff regrade's own words, as typed
