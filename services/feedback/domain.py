"""Pure rules of feedback: one evaluation per matter (一件一评价) and the reopen rule (以评促改).

No I/O and no framework imports: the service layer stores evaluations and acts on the Decision.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import get_args
from zoneinfo import ZoneInfo

from services.contracts import labels, vocabulary
from services.contracts.vocabulary import GOOD_RATINGS
from services.runtime import workcal
from services.runtime.directory import Compound

TZ = ZoneInfo("Asia/Shanghai")
END_OF_DAY = dt.time(18, 0)

LEVELS = get_args(vocabulary.Level)
RATINGS = get_args(vocabulary.Rating)  # 满意 / 基本满意 / 不满意
SOLVED = get_args(vocabulary.Solved)  # 解决 / 部分解决 / 未解决
METHODS = get_args(vocabulary.Method)

RATING_LABELS_ZH = labels.zh_map("rating")
# Matters that touch shared property and money tend to split opinion, so they merit a sit-down forum.
FORUM_CATEGORIES = frozenset({"elevator", "construction", "parking"})
# Workdays between completion (办结) and the revisit being due, by evaluation method.
REVISIT_WORKDAYS = {"home_visit": 3, "questionnaire": 5, "wechat_vote": 5, "group_forum": 10}


@dataclass(frozen=True)
class Evaluation:
    """One household's evaluation of a completed matter."""

    household: str
    rating: str
    solved: str | None = None
    is_reporter: bool = False
    comment: str = ""

    def __post_init__(self) -> None:
        if not self.household:
            raise ValueError("household must not be empty")
        if self.rating not in RATINGS:
            raise ValueError(f"unknown rating {self.rating!r}; expected one of {RATINGS}")
        if self.solved is not None and self.solved not in SOLVED:
            raise ValueError(f"unknown solved value {self.solved!r}; expected one of {SOLVED}")


def latest_per_household(evals: Sequence[Evaluation]) -> list[Evaluation]:
    """Keep one evaluation per household: the last one given, in first-seen household order."""
    # A household may re-rate after a revisit; only its latest opinion should count.
    latest: dict[str, Evaluation] = {}
    for ev in evals:
        latest[ev.household] = ev
    return list(latest.values())


def satisfaction_counts(evals: Sequence[Evaluation]) -> tuple[int, int]:
    """Return (satisfied + basically_satisfied households, evaluated households), last voice per household."""
    unique = latest_per_household(evals)
    return sum(1 for ev in unique if ev.rating in GOOD_RATINGS), len(unique)


def satisfaction_rate(evals: Sequence[Evaluation]) -> float | None:
    """THE satisfaction rate (满意率) of one matter's round: satisfaction_counts as a share, None if nobody evaluated.

    Defined in docs/feedback.md; every figure of satisfaction in the platform derives from this function.
    """
    good, total = satisfaction_counts(evals)
    return None if total == 0 else good / total


def pooled_satisfaction(rounds: Sequence[Sequence[Evaluation]]) -> float | None:
    """Community / county satisfaction (满意度): good / evaluated households pooled over every (matter, round) given."""
    good = total = 0
    for evals in rounds:
        g, t = satisfaction_counts(evals)
        good, total = good + g, total + t
    return None if total == 0 else good / total


@dataclass(frozen=True)
class Decision:
    """What to do with a matter after its evaluations: satisfied, reopen, escalate or pending.

    `reasons` are Chinese sentences for staff; `reasons_en` the same, line for line, in English words (the
    residents' comments stay quoted as they wrote them, the party organisation is named by its role in English).
    """

    outcome: str
    reasons: tuple[str, ...]
    rate: float | None
    reasons_en: tuple[str, ...] = ()


def _households_en(n: int) -> str:
    return f"{n} household" + ("" if n == 1 else "s")


def decide(evals: Sequence[Evaluation], *, round: int, threshold: float = 0.8, min_evaluations: int = 1) -> Decision:
    """Decide satisfied / reopen / escalate / pending for evaluation `round` (1-based)."""
    if round < 1:
        raise ValueError("round is 1-based and must be >= 1")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError("threshold must be within [0, 1]")
    unique = latest_per_household(evals)
    rate = satisfaction_rate(unique)
    # The reporter's veto: whoever raised the matter knows best whether it is fixed. It applies even
    # before min_evaluations is reached, since waiting for more votes cannot overturn it.
    vetoes = [ev for ev in unique if ev.is_reporter and ev.solved == "unsolved"]
    reasons: list[str] = []
    reasons_en: list[str] = []
    for ev in vetoes:
        # No household reference: reasons are read by people (staff, and the ledger's timeline).
        reasons.append("原报事人反映问题未解决" + (f"：「{ev.comment}」" if ev.comment else "（未留言）"))
        reasons_en.append(
            "The person who reported it says it is not solved"
            + (f": “{ev.comment}”" if ev.comment else " (no comment left)")
        )
    if not vetoes and len(unique) < min_evaluations:
        return Decision(
            "pending",
            (f"已收到 {len(unique)} 户评价，不足最低 {min_evaluations} 户，继续回访收集",),
            rate,
            (
                f"{_households_en(len(unique))} evaluated so far, fewer than the {min_evaluations} needed:"
                " revisits go on",
            ),
        )
    if rate is not None and rate < threshold:
        reasons.append(f"满意率 {rate:.0%} 低于要求的 {threshold:.0%}（共 {len(unique)} 户评价）")
        reasons_en.append(
            f"Satisfaction {rate:.0%} is below the {threshold:.0%} required ({_households_en(len(unique))} evaluated)"
        )
    if not reasons:
        return Decision(
            "satisfied",
            (f"满意率 {_pct(rate)} 达到要求的 {threshold:.0%}，可以销号",),
            rate,
            (f"Satisfaction {_pct(rate)} meets the {threshold:.0%} required: the matter can be crossed off",),
        )
    if round >= 2:
        # Rectification already failed once: the party organisation takes over supervision (督促整改).
        party = labels.en("role", "party_org")
        reasons.append(f"第 {round} 轮评价仍不满意，提交社区党组织督办")
        reasons_en.append(f"Still not satisfied in round {round}: passed to the community {party} to supervise")
        return Decision("escalate", tuple(reasons), rate, tuple(reasons_en))
    reasons.append("退回责任单位重新整改，整改后再次回访")
    reasons_en.append("Sent back to the responsible unit to put right, then revisited again")
    return Decision("reopen", tuple(reasons), rate, tuple(reasons_en))


REMIND_AHEAD = dt.timedelta(hours=24)  # a revisit is reminded once, this long before it falls due


def needs_reminder(due_at: dt.datetime, reminded_at: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether an open revisit should be reminded now (once, from REMIND_AHEAD before its due time)."""
    return reminded_at is None and now >= due_at - REMIND_AHEAD


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.0%}"


def plan_methods(level: str, households: int, category: str) -> list[str]:
    """Choose the revisit methods for a matter, in METHODS order.

    Rule (each line adds a method; the list is never empty since households >= 1):
      - home_visit (上门回访)     when the matter is red or affects at most 3 households;
      - questionnaire (调查问卷)  when it affects 2 or more households;
      - wechat_vote (微信投票)    when it affects 10 or more households;
      - group_forum (集中座谈)    when it affects 30 or more households, or 10 or more households
                                  and the category is elevator, construction or parking.
    """
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; expected one of {LEVELS}")
    if households < 1:
        raise ValueError("households must be >= 1")
    chosen: set[str] = set()
    # Red matters were dangerous: someone should see the fix in person, however many are affected.
    if level == "red" or households <= 3:
        chosen.add("home_visit")
    if households >= 2:
        chosen.add("questionnaire")
    if households >= 10:
        chosen.add("wechat_vote")
    if households >= 30 or (category in FORUM_CATEGORIES and households >= 10):
        chosen.add("group_forum")
    return [m for m in METHODS if m in chosen]


def revisit_due(completed_at: dt.datetime, method: str) -> dt.datetime:
    """Return 18:00 Asia/Shanghai of the N-th workday after completion, N by method."""
    if method not in REVISIT_WORKDAYS:
        raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")
    if completed_at.tzinfo is None or completed_at.utcoffset() is None:
        raise ValueError("datetime must be timezone-aware")
    day = workcal.add_workdays(completed_at.astimezone(TZ).date(), REVISIT_WORKDAYS[method])
    return dt.datetime.combine(day, END_OF_DAY, tzinfo=TZ)


# Separators people type between building, unit and room: ASCII and full-width dashes, slashes, hashes, dots.
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―_/\\#.·、,，]+")
_PLACE_WORDS = re.compile(r"(号楼|栋|幢|座|单元|室|房|号)")
_NUMBERS = re.compile(r"\d+")
_RUNS = re.compile(r"\d+|[^\d\s]+")


def _visible(text: str) -> str:
    """NFKC, case folded, without invisible characters (zero-width spaces, joiners, BOM, controls)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in text if unicodedata.category(ch) not in ("Cf", "Cc", "Cs", "Co", "Cn"))


def household_key(household: str, compounds: Sequence[Compound] = ()) -> str:
    """One household, however it is typed: the directory's room (compound/building/unit/room) where possible.

    `JTH-3-1-101`, `jth-3-1-101` and `jth－3－1－101` plus a zero-width space are one key; so are
    `金泰和庄12号楼2单元301室` and `jintaihezhuang 12-2-301` when the directory knows 金泰和庄 and its building 12.
    Anything the directory cannot place keeps its normalised text, separators unified.
    """
    text = _visible(household).strip()
    for compound in sorted(compounds, key=lambda c: -max(len(n) for n in c.names)):
        name = next((n for n in sorted(compound.names, key=len, reverse=True) if text.startswith(_visible(n))), None)
        if not name:
            continue
        numbers = [str(int(n)) for n in _NUMBERS.findall(text[len(_visible(name)) :])]
        building = compound.building(numbers[0]) if numbers else None
        if building is None or len(numbers) not in (2, 3):
            break
        unit = numbers[1] if len(numbers) == 3 else ("1" if building.units == 1 else None)
        if unit is None or not 1 <= int(unit) <= building.units:
            break  # "12-301" in a building of several units, or a unit it does not have: keep the text
        return f"room:{compound.code}/{building.code}/{unit}/{numbers[-1]}"
    # Runs of digits and of other characters, one dash between each: "金泰和庄 12-2-301" = "金泰和庄12－2－301".
    runs = _RUNS.findall(_SEPARATORS.sub(" ", _PLACE_WORDS.sub(" ", text)))
    return "text:" + "-".join(str(int(r)) if r.isdigit() else r for r in runs)
