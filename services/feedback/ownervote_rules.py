"""Pure rules of owners' votes under Civil Code art. 278 (业主共同决定事项), in exact fractions.

Participation (参与表决): owners holding at least 2/3 of the total exclusive area AND at least 2/3 of all
owners must take part. Approval (同意), counted among the participants, depends on the item of art. 278 §1:
  - `major` — items (6) 筹集建筑物及其附属设施的维修资金, (7) 改建、重建建筑物及其附属设施 and (8) 改变共有部分的
    用途或者利用共有部分从事经营活动: at least 3/4 of the participating area AND at least 3/4 of participating
    owners;
  - `ordinary` — items (1)-(5) and (9), including (5) 使用建筑物及其附属设施的维修资金: more than 1/2 of the
    participating area AND more than 1/2 of participating owners.
An abstention participates but does not approve. No floats anywhere: areas are exact decimals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from services.contracts import labels

KINDS = ("major", "ordinary")
KIND_ZH = labels.zh_map("vote_kind")
# Civil Code art. 278 §1, items (1)-(9), in the law's words.
ITEMS = {
    1: "制定和修改业主大会议事规则",
    2: "制定和修改管理规约",
    3: "选举业主委员会或者更换业主委员会成员",
    4: "选聘和解聘物业服务企业或者其他管理人",
    5: "使用建筑物及其附属设施的维修资金",
    6: "筹集建筑物及其附属设施的维修资金",
    7: "改建、重建建筑物及其附属设施",
    8: "改变共有部分的用途或者利用共有部分从事经营活动",
    9: "有关共有和共同管理权利的其他重大事项",
}
MAJOR_ITEMS = frozenset({6, 7, 8})  # art. 278 §2: only these need three quarters
_NUMERALS = "零一二三四五六七八九"


def kind_of(item: int) -> str:
    """The approval rule of an art. 278 item: `major` for items 6-8, `ordinary` for the others."""
    if item not in ITEMS:
        raise ValueError(f"art. 278 has items 1-9, not {item!r}")
    return "major" if item in MAJOR_ITEMS else "ordinary"


def item_label(item: int) -> str:
    """An item in words, e.g. 民法典第二百七十八条第一款第（五）项：使用建筑物及其附属设施的维修资金."""
    return f"民法典第二百七十八条第一款第（{_NUMERALS[item]}）项：{ITEMS[item]}"


CHOICES = ("for", "against", "abstain")
CHOICE_ZH = labels.zh_map("vote_choice")
PARTICIPATION = Fraction(2, 3)
APPROVAL = {"major": (Fraction(3, 4), False), "ordinary": (Fraction(1, 2), True)}  # (bound, strictly greater)


def area(value: str | int | Decimal) -> Fraction:
    """An exclusive area in m² as an exact fraction (rejects non-finite and non-positive values)."""
    try:
        d = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"not a decimal area: {value!r}") from exc
    if not d.is_finite() or d <= 0:
        raise ValueError(f"area must be a positive finite number: {value!r}")
    return Fraction(d)


@dataclass(frozen=True)
class Ballot:
    """One owner's ballot: the owner (a pseudonymous ref), their exclusive area and their choice."""

    owner: str
    area: Fraction
    choice: str

    def __post_init__(self) -> None:
        if not self.owner:
            raise ValueError("owner must not be empty")
        if self.area <= 0:
            raise ValueError("area must be positive")
        if self.choice not in CHOICES:
            raise ValueError(f"unknown choice {self.choice!r}; expected one of {CHOICES}")


@dataclass(frozen=True)
class Check:
    """One legal threshold: value = numerator / denominator against bound (>= or >)."""

    name: str
    label_zh: str
    numerator: Fraction
    denominator: Fraction
    bound: Fraction
    strict: bool
    met: bool

    @property
    def value(self) -> Fraction | None:
        """The exact share, or None when the denominator is zero."""
        return None if self.denominator == 0 else self.numerator / self.denominator


@dataclass(frozen=True)
class Tally:
    """Head-count and area-weighted sums of the ballots, and every threshold check."""

    kind: str
    total_area: Fraction
    total_owners: int
    voted_area: Fraction
    voted_owners: int
    area_by_choice: dict[str, Fraction]
    owners_by_choice: dict[str, int]
    checks: tuple[Check, ...]

    @property
    def participation_met(self) -> bool:
        """Both participation thresholds are met."""
        return all(c.met for c in self.checks if c.name.startswith("participation"))

    @property
    def passed(self) -> bool:
        """Every threshold is met: the owners decided in favour."""
        return all(c.met for c in self.checks)


def _check(name: str, label: str, num: Fraction, den: Fraction, bound: Fraction, strict: bool) -> Check:
    # Cross-multiplied comparison: exact, and well defined when nobody voted (den == 0 -> not met).
    met = den > 0 and (num > bound * den if strict else num >= bound * den)
    return Check(name, label, num, den, bound, strict, met)


def tally(ballots: Sequence[Ballot], *, kind: str, total_area: Fraction, total_owners: int) -> Tally:
    """Count the ballots (one per owner) and test participation and approval for `kind`."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")
    if total_area <= 0 or total_owners < 1:
        raise ValueError("total area and total owners must be positive")
    owners = [b.owner for b in ballots]
    if len(set(owners)) != len(owners):
        raise ValueError("one ballot per owner")
    if len(ballots) > total_owners:
        raise ValueError("more ballots than owners")
    voted_area = sum((b.area for b in ballots), Fraction(0))
    if voted_area > total_area:
        raise ValueError("ballots cover more area than the total exclusive area")
    by_area = {c: sum((b.area for b in ballots if b.choice == c), Fraction(0)) for c in CHOICES}
    by_head = {c: sum(1 for b in ballots if b.choice == c) for c in CHOICES}
    bound, strict = APPROVAL[kind]
    word = "过半数" if strict else "四分之三以上"
    checks = (
        _check(
            "participation_area", "参与表决专有部分面积 ≥ 总面积三分之二", voted_area, total_area, PARTICIPATION, False
        ),
        _check(
            "participation_owners",
            "参与表决人数 ≥ 业主总人数三分之二",
            Fraction(len(ballots)),
            Fraction(total_owners),
            PARTICIPATION,
            False,
        ),
        _check("approval_area", f"同意的专有部分面积占参与表决面积{word}", by_area["for"], voted_area, bound, strict),
        _check(
            "approval_owners",
            f"同意人数占参与表决人数{word}",
            Fraction(by_head["for"]),
            Fraction(len(ballots)),
            bound,
            strict,
        ),
    )
    return Tally(kind, total_area, total_owners, voted_area, len(ballots), by_area, by_head, checks)


def fraction_text(value: Fraction | None) -> str | None:
    """A fraction as 'n/d' (exact), or None."""
    return None if value is None else f"{value.numerator}/{value.denominator}"


def decimal_text(value: Fraction, places: int = 2) -> str:
    """An area for display, rounded half-up to `places` (the exact value stays in fraction_text)."""
    q = Decimal(value.numerator) / Decimal(value.denominator)
    return str(q.quantize(Decimal(1).scaleb(-places)))
