"""Pure triage grading rules (分类领办): red/yellow/green, direct/deliberate, problem/suggestion, category.

No I/O and no framework imports. Every decision appends a Chinese, staff-readable reason so that a grade can
be explained to residents and overridden by staff.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

from services.triage import hazards, rules
from services.triage.reading import HOUSEHOLDS, affirmed, cn_number, first_of, longest_duration, normalise, quoted
from services.triage.rules import CATEGORIES, CATEGORY_LABELS

__all__ = ["CATEGORIES", "CATEGORY_LABELS", "Grade", "PhraseAdditions", "cluster_key", "grade"]

REVIEW_THRESHOLD = 0.6
MANY_HOUSEHOLDS = 10
MANY_REPORTERS = 3


@dataclass(frozen=True)
class PhraseAdditions:
    """Per-community extra phrases, loaded from config by the caller."""

    danger: tuple[str, ...] = ()
    vulnerable: tuple[str, ...] = ()
    categories: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Grade:
    """The outcome of triage for one report or matter."""

    level: str
    route: str
    kind: str
    category: str
    reasons: tuple[str, ...]
    confidence: float
    needs_review: bool


# --- text helpers ------------------------------------------------------------------------------------


# --- category ----------------------------------------------------------------------------------------


def _score_categories(text: str, extra: PhraseAdditions) -> dict[str, tuple[float, list[str]]]:
    """Score = sum of lengths of matched keywords, counting a keyword inside a longer hit only once.

    A keyword that is also a hazard phrase scores one extra point: the hazard is what the matter is about
    ("车库倒灌" is a drainage emergency, not a parking issue).
    """
    danger = {*hazards.sign_words(), *rules.OUTAGE_PHRASES, *rules.MILD_FLOOD_PHRASES, *extra.danger}
    scores: dict[str, tuple[float, list[str]]] = {}
    for category in CATEGORIES:
        keywords = list(rules.CATEGORY_KEYWORDS.get(category, ())) + list(extra.categories.get(category, ()))
        hits = [k for k in dict.fromkeys(keywords) if k and k in text]
        hits = [k for k in hits if not any(k != o and k in o for o in hits)]
        if hits:
            scores[category] = (float(sum(len(k) + (k in danger) for k in hits)), hits)
    return scores


def _choose_category(
    text: str, category_hint: str | None, extra: PhraseAdditions, reasons: list[str]
) -> tuple[str, float]:
    """Pick the category and its confidence: margin-based, the valid hint wins when the text is ambiguous."""
    scores = _score_categories(text, extra)
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1][0], CATEGORIES.index(kv[0])))
    top = ranked[0][1][0] if ranked else 0.0
    second = ranked[1][1][0] if len(ranked) > 1 else 0.0
    hint = category_hint if category_hint in CATEGORIES else None
    if category_hint and hint is None:
        reasons.append(f"上报类别“{category_hint}”无效，已忽略")
    # Ambiguous: nothing matched, or the runner-up is within 75% of the winner.
    ambiguous = top == 0 or second >= 0.75 * top
    if hint and (ambiguous or scores.get(hint, (0.0,))[0] >= top):
        reasons.append(f"类别：{CATEGORY_LABELS[hint]}（文本不明确，采用上报时选择的类别）")
        return hint, 0.7 if hint in scores else 0.6
    if top == 0:
        reasons.append("类别：其他（未命中任何类别关键词）")
        return "other", 0.3
    best, (score, hits) = ranked[0]
    reasons.append(f"类别：{CATEGORY_LABELS[best]}（命中{quoted(hits)}）")
    # Category confidence: 0.5 + 0.5 * relative margin over the runner-up (1.0 when unopposed).
    return best, 0.5 + 0.5 * (score - second) / score


# --- level -------------------------------------------------------------------------------------------


@dataclass
class _Red:
    level_conf: float = 0.0
    weak: bool = False
    is_red: bool = False


def _assess_red(text: str, extra: PhraseAdditions, reasons: list[str], raw: str = "") -> _Red:
    """Apply the red (急难险重) rules; each rule that fires adds a reason."""
    red = _Red()
    found = hazards.reading(hazards.prepare(raw or text))
    # Hazards from the taxonomy (signs, exposed pairs) plus the community's own danger phrases.
    # Weak (red with review): a hedged cue, an object+state pair, or a hazard red only through its exposure.
    taxonomy = found.red_hits()
    danger = [(h.cue, h.status == "hedged" or not h.sign or hazards.BY_ID[h.hazard].when != "always") for h in taxonomy]
    danger = list(dict(reversed(danger)).items())[::-1] + affirmed(text, extra.danger)
    if taxonomy:
        kinds = dict.fromkeys(f"{hazards.BY_ID[h.hazard].label}（{hazards.STATUS_LABELS[h.status]}）" for h in taxonomy)
        reasons.append("危险：" + "；".join(kinds))
    for h in found.hits:
        if h.status in ("negated", "resolved", "past", "prevention"):
            reasons.append(f"危险已排除或非当前：“{h.cue}”（{hazards.STATUS_LABELS[h.status]}）")
    vulnerable = first_of(text, (*rules.VULNERABLE_PHRASES, *extra.vulnerable))
    planned = any(m in text for m in rules.PLANNED_OUTAGE_MARKERS)
    outage = None if planned else first_of(text, rules.OUTAGE_PHRASES)
    flood = first_of(text, rules.MILD_FLOOD_PHRASES)
    risk = first_of(text, rules.VULNERABLE_RISK_PHRASES)
    scope = first_of(text, rules.SCOPE_PHRASES)
    weather = first_of(text, rules.WEATHER_PHRASES)
    night = first_of(text, rules.NIGHT_PHRASES)
    duration = longest_duration(text)
    long_time = duration[1] if duration and duration[0] >= 1 else None

    if planned:
        reasons.append("计划停水停电（已通知），不按突发停供处理")
    if long_time:
        reasons.append(f"持续时间：“{long_time}”")
    if night:
        reasons.append(f"时段：夜间（“{night}”）")

    def fire(conf: float, weak: bool) -> None:
        # Several rules may fire: keep the strongest confidence, weak only if every firing rule is weak.
        red.weak = (red.weak and weak) if red.is_red else weak
        red.level_conf = max(red.level_conf, conf)
        red.is_red = True

    if danger:
        reasons.append(f"危险词：{quoted(p for p, _ in danger)}")
        hedged = all(weak for _, weak in danger)
        if hedged:
            reasons.append("表述含糊（如“一点”“好像”“怕”），仍按红色处理并请人工复核")
        boost = 0.05 * sum(bool(x) for x in (vulnerable, scope, night, long_time, weather))
        fire(0.5 if hedged else min(0.95, 0.85 + boost), hedged)
    if outage:
        strong = [x for x in (scope, weather, long_time) if x]
        weak_amp = [x for x in (vulnerable, night) if x]
        if strong:
            reasons.append(f"停供叠加：“{outage}”+{quoted(strong + weak_amp)}")
            fire(min(0.9, 0.75 + 0.05 * len(strong + weak_amp)), False)
        elif weak_amp:
            reasons.append(f"停供叠加：“{outage}”+{quoted(weak_amp)}，按红色处理并请人工复核")
            fire(0.55, True)
    if flood and not danger:
        if weather:
            reasons.append(f"极端天气叠加积水：“{weather}”+“{flood}”")
            fire(0.75, False)
        elif vulnerable:
            reasons.append(f"弱势人群遇积水：“{vulnerable}”+“{flood}”，按红色处理并请人工复核")
            fire(0.55, True)
    if risk and vulnerable:
        reasons.append(f"弱势人群遇险：“{vulnerable}”+“{risk}”，按红色处理并请人工复核")
        fire(0.55, True)
    if red.is_red and vulnerable:
        reasons.append(f"弱势人群：“{vulnerable}”")
    if weather and red.is_red and not any(weather in r for r in reasons):
        reasons.append(f"极端天气：“{weather}”")
    if scope:
        reasons.append(f"影响范围：{scope}")
    return red


def _households_from_text(text: str, households: int) -> int:
    counts = [int(cn_number(m.group(1))) for m in HOUSEHOLDS.finditer(text)]
    return max([households, *counts])


# --- route and kind ----------------------------------------------------------------------------------


def _choose_route(text: str, level: str, kind: str, reporters: int, reasons: list[str]) -> str:
    """Red always goes to a session; otherwise deliberate only when a deliberation trigger fires."""
    if level == "red":
        reasons.append("规则：红色一律上会议事")
        return "deliberate"
    triggers: list[str] = []
    for label, phrases in (
        ("权责不清", rules.UNCLEAR_RESPONSIBILITY),
        ("费用分摊", rules.SHARED_COST),
        ("意见分歧", rules.DISAGREEMENT),
        ("群众反映强烈", rules.STRONG_REACTION),
        ("需集体决策", rules.COLLECTIVE_DECISION),
    ):
        hit = first_of(text, phrases)
        if hit:
            triggers.append(f"{label}（“{hit}”）")
    if reporters >= MANY_REPORTERS:
        triggers.append(f"群众反映强烈（{reporters} 人反映）")
    if triggers:
        reasons.append("上会议事：" + "；".join(triggers))
        return "deliberate"
    what = "意见建议" if kind == "suggestion" else "一般性问题"
    reasons.append(f"直接办理：权责清晰的{what}，无需上会")
    return "direct"


def _choose_kind(text: str, channel: str, kind_hint: str | None, reasons: list[str]) -> str:
    if kind_hint in ("problem", "suggestion"):
        reasons.append(f"性质：{'意见建议' if kind_hint == 'suggestion' else '问题'}（上报时标注）")
        return kind_hint
    hit = first_of(text, rules.SUGGESTION_PHRASES)
    if hit:
        reasons.append(f"性质：意见建议（“{hit}”）")
        return "suggestion"
    if channel == "wish_wall":
        reasons.append("性质：意见建议（心愿墙来源）")
        return "suggestion"
    return "problem"


# --- public API --------------------------------------------------------------------------------------


def grade(
    text: str,
    *,
    channel: str,
    kind_hint: str | None = None,
    category_hint: str | None = None,
    households: int = 1,
    reporters: int = 1,
    extra: PhraseAdditions | None = None,
) -> Grade:
    """Grade one report: level, route, kind, category, with reasons, confidence and a review flag."""
    extra = extra or PhraseAdditions()
    norm = normalise(text)
    reasons: list[str] = []

    category, cat_conf = _choose_category(norm, category_hint, extra, reasons)
    red = _assess_red(norm, extra, reasons, text)
    households = _households_from_text(norm, max(1, households))
    reporters = max(1, reporters)

    if red.is_red:
        level, level_conf = "red", red.level_conf
        reasons.append("等级：红（急难险重，需立即处置）")
    else:
        alarm = first_of(norm, rules.ALARM_WORDS)
        if alarm:
            reasons.append(f"情绪词“{alarm}”不作为危险依据")
        own = first_of(norm, rules.INDIVIDUAL_PHRASES)
        many = first_of(norm, rules.COLLECTIVE_PHRASES)
        if category in rules.YELLOW_CATEGORIES and own and not many:
            level, level_conf = "green", 0.65
            reasons.append(f"等级：绿（“{own}”：个别住户的需求）")
        elif category not in rules.YELLOW_CATEGORIES and category != "other" and many and not own:
            level, level_conf = "yellow", 0.65
            reasons.append(f"等级：黄（“{many}”：涉及群体较多）")
        elif category in rules.YELLOW_CATEGORIES:
            level, level_conf = "yellow", 0.75
            reasons.append(f"等级：黄（{CATEGORY_LABELS[category]}属涉及多数居民的民生事项）")
        elif category == "other":
            level, level_conf = "green", 0.5
            reasons.append("等级：绿（类别不明，暂按个别需求）")
        else:
            level, level_conf = "green", 0.75
            reasons.append(f"等级：绿（{CATEGORY_LABELS[category]}属特定人群需求）")
        bumps: list[str] = []
        if households >= MANY_HOUSEHOLDS:
            bumps.append(f"涉及住户 {households} 户（≥{MANY_HOUSEHOLDS} 户为黄）")
        if reporters >= MANY_REPORTERS:
            bumps.append(f"反映人数 {reporters} 人（≥{MANY_REPORTERS} 人为黄）")
        if any(r.startswith("影响范围：") for r in reasons):
            bumps.append("影响范围广")
        if bumps:
            reasons.extend(bumps)
            if level == "green":
                level, level_conf = "yellow", 0.8
                reasons.append("等级：由绿升为黄（涉及群体较多）")
            else:
                level_conf = 0.85

    kind = _choose_kind(norm, channel, kind_hint, reasons)
    route = _choose_route(norm, level, kind, reporters, reasons)

    # Confidence = 0.6 * level confidence + 0.4 * category confidence. Level confidence is fixed per rule
    # (strong danger 0.85-0.95, outage combos 0.75-0.9, weak/hedged red 0.5-0.55, category default 0.75,
    # bumped by headcount 0.8-0.85, unknown 0.5); category confidence is 0.5 + 0.5 * margin over the
    # runner-up, 0.6-0.7 when the caller's hint decided, 0.3 when nothing matched.
    confidence = round(0.6 * level_conf + 0.4 * cat_conf, 2)
    needs_review = red.weak or confidence < REVIEW_THRESHOLD
    if needs_review:
        why = "红色信号较弱" if red.weak else f"置信度 {confidence:.2f} 低于 {REVIEW_THRESHOLD}"
        reasons.append(f"需人工复核：{why}")
    return Grade(
        level=level,
        route=route,
        kind=kind,
        category=category,
        reasons=tuple(reasons),
        confidence=confidence,
        needs_review=needs_review,
    )


_PLACE_SUFFIXES = ("社区", "小区", "花园", "家园")
_BUILDING_UNITS = re.compile(r"(\d+|[一二两三四五六七八九十]+)")


def _norm_place(value: str | None, suffixes: tuple[str, ...] = ()) -> str:
    if not value:
        return "-"
    value = re.sub(r"[\s\W_]+", "", unicodedata.normalize("NFKC", value)).lower()
    for suffix in suffixes:
        if value.endswith(suffix) and len(value) > len(suffix):
            value = value[: -len(suffix)]
    return value or "-"


def cluster_key(community: str, compound: str | None, building: str | None, category: str) -> str:
    """Stable key joining reports on the same problem in the same place into one matter (一事一议)."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown category: {category!r}")
    bld = _norm_place(building)
    numbers = _BUILDING_UNITS.findall(bld) if bld != "-" else []
    # '12号楼', '12栋', '十二幢' all mean building 12; '12号楼2单元' keeps the entrance as '12-2'.
    if numbers:
        bld = "-".join(str(int(cn_number(n))) for n in numbers[:2])
    community_key = _norm_place(community, ("社区",))
    compound_key = _norm_place(compound, _PLACE_SUFFIXES)
    return f"{community_key}|{compound_key}|{bld}|{category}"
