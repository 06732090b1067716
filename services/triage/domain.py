"""Pure triage grading rules (分类领办): red/yellow/green, direct/deliberate, problem/suggestion, category.

No I/O and no framework imports. Every decision appends a staff-readable reason, in Chinese with its English
twin in words (`reasons.Reason`), so that a grade can be explained to residents and overridden by staff.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

from services.triage import hazards, rules, urgent
from services.triage.reading import HOUSEHOLDS, affirmed, cn_number, first_of, longest_duration, normalise, quoted
from services.triage.reasons import (
    REVIEW_EN,
    Reason,
    category_en,
    days_en,
    en_of,
    kind_en,
    level_en,
    quoted_en,
    route_en,
)
from services.triage.rules import CATEGORIES, CATEGORY_LABELS

__all__ = ["CATEGORIES", "CATEGORY_LABELS", "Grade", "PhraseAdditions", "cluster_key", "grade"]

REVIEW_THRESHOLD = 0.6
RED_DELIBERATES = Reason("规则：红色一律上会议事", "Rule: every Red matter goes to deliberation")
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
    reasons: tuple[str, ...]  # `reasons.Reason` lines: the Chinese, each with its English twin (`.en`)
    confidence: float
    needs_review: bool
    urgent: bool = False  # an unmistakable call for help (urgent.py): red whatever the model says

    @property
    def reasons_en(self) -> tuple[str, ...]:
        """The reasons in English words, line for line."""
        return tuple(en_of(r) for r in self.reasons)


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
    text: str, category_hint: str | None, extra: PhraseAdditions, reasons: list[Reason]
) -> tuple[str, float]:
    """Pick the category and its confidence: margin-based, the valid hint wins when the text is ambiguous."""
    scores = _score_categories(text, extra)
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1][0], CATEGORIES.index(kv[0])))
    top = ranked[0][1][0] if ranked else 0.0
    second = ranked[1][1][0] if len(ranked) > 1 else 0.0
    hint = category_hint if category_hint in CATEGORIES else None
    if category_hint and hint is None:
        reasons.append(
            Reason(f"上报类别“{category_hint}”无效，已忽略", "The category chosen when reporting is unknown; ignored")
        )
    # Ambiguous: nothing matched, or the runner-up is within 75% of the winner.
    ambiguous = top == 0 or second >= 0.75 * top
    if hint and (ambiguous or scores.get(hint, (0.0,))[0] >= top):
        reasons.append(
            Reason(
                f"类别：{CATEGORY_LABELS[hint]}（文本不明确，采用上报时选择的类别）",
                f"Category: {category_en(hint)} (the text is unclear; the category chosen when reporting is used)",
            )
        )
        return hint, 0.7 if hint in scores else 0.6
    if top == 0:
        reasons.append(
            Reason(
                "类别：其他（未命中任何类别关键词）", f"Category: {category_en('other')} (no category keyword found)"
            )
        )
        return "other", 0.3
    best, (score, hits) = ranked[0]
    reasons.append(
        Reason(
            f"类别：{CATEGORY_LABELS[best]}（命中{quoted(hits)}）",
            f"Category: {category_en(best)} (words found: {quoted_en(hits)})",
        )
    )
    # Category confidence: 0.5 + 0.5 * relative margin over the runner-up (1.0 when unopposed).
    return best, 0.5 + 0.5 * (score - second) / score


# --- level -------------------------------------------------------------------------------------------


@dataclass
class _Red:
    level_conf: float = 0.0
    weak: bool = False
    is_red: bool = False
    urgent: bool = False


def _assess_red(text: str, extra: PhraseAdditions, reasons: list[Reason], raw: str = "") -> _Red:
    """Apply the red (急难险重) rules; each rule that fires adds a reason."""
    red = _Red()
    calls = urgent.signals(raw or text)
    if calls:
        cues = list(dict.fromkeys(c.cue for c in calls))
        reasons.append(
            Reason(
                f"紧急求助信号：{quoted(cues)}，一律按红色处理",
                f"An unmistakable call for help: {quoted_en(cues)}; always {level_en('red')}",
            )
        )
        red.is_red, red.urgent, red.level_conf = True, True, 0.95
    found = hazards.reading(hazards.prepare(raw or text))
    # Hazards from the taxonomy (signs, exposed pairs) plus the community's own danger phrases.
    # Weak (red with review): a hedged cue, an object+state pair, or a hazard red only through its exposure.
    taxonomy = found.red_hits()
    danger = [(h.cue, h.status == "hedged" or not h.sign or hazards.BY_ID[h.hazard].when != "always") for h in taxonomy]
    danger = list(dict(reversed(danger)).items())[::-1] + affirmed(text, extra.danger)
    if taxonomy:
        kinds = dict.fromkeys(f"{hazards.BY_ID[h.hazard].label}（{hazards.STATUS_LABELS[h.status]}）" for h in taxonomy)
        kinds_en = dict.fromkeys(f"{hazards.label_en(h.hazard)} ({hazards.STATUS_EN[h.status]})" for h in taxonomy)
        reasons.append(Reason("危险：" + "；".join(kinds), "Hazard: " + "; ".join(kinds_en)))
    for h in found.hits:
        if h.status in ("negated", "resolved", "past", "prevention"):
            reasons.append(
                Reason(
                    f"危险已排除或非当前：“{h.cue}”（{hazards.STATUS_LABELS[h.status]}）",
                    f"Danger ruled out or not current: “{h.cue}” ({hazards.STATUS_EN[h.status]})",
                )
            )
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
        reasons.append(
            Reason(
                "计划停水停电（已通知），不按突发停供处理",
                "Planned water or power cut (announced): not treated as a sudden outage",
            )
        )
    if long_time:
        reasons.append(Reason(f"持续时间：“{long_time}”", f"Duration: “{long_time}” ({days_en(duration[0])})"))
    if night:
        reasons.append(Reason(f"时段：夜间（“{night}”）", f"Time: at night (“{night}”)"))

    def fire(conf: float, weak: bool) -> None:
        # Several rules may fire: keep the strongest confidence, weak only if every firing rule is weak.
        red.weak = (red.weak and weak) if red.is_red else weak
        red.level_conf = max(red.level_conf, conf)
        red.is_red = True

    if danger:
        words = [p for p, _ in danger]
        reasons.append(Reason(f"危险词：{quoted(words)}", f"Danger words: {quoted_en(words)}"))
        hedged = all(weak for _, weak in danger)
        if hedged:
            reasons.append(
                Reason(
                    "表述含糊（如“一点”“好像”“怕”），仍按红色处理并请人工复核",
                    f"Vaguely worded (words like “a little”, “it seems”, “I'm afraid”): still {REVIEW_EN}",
                )
            )
        boost = 0.05 * sum(bool(x) for x in (vulnerable, scope, night, long_time, weather))
        fire(0.5 if hedged else min(0.95, 0.85 + boost), hedged)
    if outage:
        strong = [x for x in (scope, weather, long_time) if x]
        weak_amp = [x for x in (vulnerable, night) if x]
        if strong:
            reasons.append(
                Reason(
                    f"停供叠加：“{outage}”+{quoted(strong + weak_amp)}",
                    f"Outage made worse: “{outage}” with {quoted_en(strong + weak_amp)}",
                )
            )
            fire(min(0.9, 0.75 + 0.05 * len(strong + weak_amp)), False)
        elif weak_amp:
            reasons.append(
                Reason(
                    f"停供叠加：“{outage}”+{quoted(weak_amp)}，按红色处理并请人工复核",
                    f"Outage made worse: “{outage}” with {quoted_en(weak_amp)}; {REVIEW_EN}",
                )
            )
            fire(0.55, True)
    if flood and not danger:
        if weather:
            reasons.append(
                Reason(
                    f"极端天气叠加积水：“{weather}”+“{flood}”",
                    f"Extreme weather with standing water: “{weather}” and “{flood}”",
                )
            )
            fire(0.75, False)
        elif vulnerable:
            reasons.append(
                Reason(
                    f"弱势人群遇积水：“{vulnerable}”+“{flood}”，按红色处理并请人工复核",
                    f"Vulnerable people and standing water: “{vulnerable}” and “{flood}”; {REVIEW_EN}",
                )
            )
            fire(0.55, True)
    if risk and vulnerable:
        reasons.append(
            Reason(
                f"弱势人群遇险：“{vulnerable}”+“{risk}”，按红色处理并请人工复核",
                f"Vulnerable person at risk: “{vulnerable}” and “{risk}”; {REVIEW_EN}",
            )
        )
        fire(0.55, True)
    if red.is_red and vulnerable:
        reasons.append(Reason(f"弱势人群：“{vulnerable}”", f"Vulnerable people: “{vulnerable}”"))
    if weather and red.is_red and not any(weather in r for r in reasons):
        reasons.append(Reason(f"极端天气：“{weather}”", f"Extreme weather: “{weather}”"))
    if scope:
        reasons.append(Reason(f"影响范围：{scope}", f"Wide scope: “{scope}”"))
    return red


def _households_from_text(text: str, households: int) -> int:
    counts = [int(cn_number(m.group(1))) for m in HOUSEHOLDS.finditer(text)]
    return max([households, *counts])


# --- route and kind ----------------------------------------------------------------------------------


def _choose_route(text: str, level: str, kind: str, reporters: int, reasons: list[Reason]) -> str:
    """Red always goes to a session; otherwise deliberate only when a deliberation trigger fires."""
    if level == "red":
        reasons.append(RED_DELIBERATES)
        return "deliberate"
    triggers: list[str] = []
    triggers_en: list[str] = []
    for label, label_en, phrases in (
        ("权责不清", "unclear responsibility", rules.UNCLEAR_RESPONSIBILITY),
        ("费用分摊", "costs to share", rules.SHARED_COST),
        ("意见分歧", "disagreement", rules.DISAGREEMENT),
        ("群众反映强烈", "strong public feeling", rules.STRONG_REACTION),
        ("需集体决策", "needs a collective decision", rules.COLLECTIVE_DECISION),
    ):
        hit = first_of(text, phrases)
        if hit:
            triggers.append(f"{label}（“{hit}”）")
            triggers_en.append(f"{label_en} (“{hit}”)")
    if reporters >= MANY_REPORTERS:
        triggers.append(f"群众反映强烈（{reporters} 人反映）")
        triggers_en.append(f"strong public feeling ({reporters} people reported it)")
    if triggers:
        reasons.append(
            Reason("上会议事：" + "；".join(triggers), f"{route_en('deliberate')}: " + "; ".join(triggers_en))
        )
        return "deliberate"
    what, what_en = ("意见建议", kind_en("suggestion")) if kind == "suggestion" else ("一般性问题", "an everyday issue")
    reasons.append(
        Reason(
            f"直接办理：权责清晰的{what}，无需上会",
            f"{route_en('direct')}: {what_en} with clear responsibility, no session needed",
        )
    )
    return "direct"


def _choose_kind(text: str, channel: str, kind_hint: str | None, reasons: list[Reason]) -> str:
    if kind_hint in ("problem", "suggestion"):
        reasons.append(
            Reason(
                f"性质：{'意见建议' if kind_hint == 'suggestion' else '问题'}（上报时标注）",
                f"Kind: {kind_en(kind_hint)} (marked when reporting)",
            )
        )
        return kind_hint
    hit = first_of(text, rules.SUGGESTION_PHRASES)
    if hit:
        reasons.append(Reason(f"性质：意见建议（“{hit}”）", f"Kind: {kind_en('suggestion')} (“{hit}”)"))
        return "suggestion"
    if channel == "wish_wall":
        reasons.append(
            Reason("性质：意见建议（心愿墙来源）", f"Kind: {kind_en('suggestion')} (it came from the wish wall)")
        )
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
    reasons: list[Reason] = []

    category, cat_conf = _choose_category(norm, category_hint, extra, reasons)
    red = _assess_red(norm, extra, reasons, text)
    households = _households_from_text(norm, max(1, households))
    reporters = max(1, reporters)

    if red.is_red:
        level, level_conf = "red", red.level_conf
        reasons.append(
            Reason(
                "等级：红（急难险重，需立即处置）",
                f"Level: {level_en('red')} (urgent, difficult, dangerous or major: act at once)",
            )
        )
    else:
        alarm = first_of(norm, rules.ALARM_WORDS)
        if alarm:
            reasons.append(
                Reason(f"情绪词“{alarm}”不作为危险依据", f"The emotional word “{alarm}” is not taken as danger")
            )
        own = first_of(norm, rules.INDIVIDUAL_PHRASES)
        many = first_of(norm, rules.COLLECTIVE_PHRASES)
        if category in rules.YELLOW_CATEGORIES and own and not many:
            level, level_conf = "green", 0.65
            reasons.append(
                Reason(
                    f"等级：绿（“{own}”：个别住户的需求）",
                    f"Level: {level_en('green')} (“{own}”: one household's need)",
                )
            )
        elif category not in rules.YELLOW_CATEGORIES and category != "other" and many and not own:
            level, level_conf = "yellow", 0.65
            reasons.append(
                Reason(
                    f"等级：黄（“{many}”：涉及群体较多）",
                    f"Level: {level_en('yellow')} (“{many}”: many people affected)",
                )
            )
        elif category in rules.YELLOW_CATEGORIES:
            level, level_conf = "yellow", 0.75
            reasons.append(
                Reason(
                    f"等级：黄（{CATEGORY_LABELS[category]}属涉及多数居民的民生事项）",
                    f"Level: {level_en('yellow')} ({category_en(category)}: a matter for most residents)",
                )
            )
        elif category == "other":
            level, level_conf = "green", 0.5
            reasons.append(
                Reason(
                    "等级：绿（类别不明，暂按个别需求）",
                    f"Level: {level_en('green')} (category unclear; taken as one household's need for now)",
                )
            )
        else:
            level, level_conf = "green", 0.75
            reasons.append(
                Reason(
                    f"等级：绿（{CATEGORY_LABELS[category]}属特定人群需求）",
                    f"Level: {level_en('green')} ({category_en(category)}: the need of a particular group)",
                )
            )
        yellow = level_en("yellow")
        bumps: list[Reason] = []
        if households >= MANY_HOUSEHOLDS:
            bumps.append(
                Reason(
                    f"涉及住户 {households} 户（≥{MANY_HOUSEHOLDS} 户为黄）",
                    f"{households} households affected ({MANY_HOUSEHOLDS} or more is {yellow})",
                )
            )
        if reporters >= MANY_REPORTERS:
            bumps.append(
                Reason(
                    f"反映人数 {reporters} 人（≥{MANY_REPORTERS} 人为黄）",
                    f"{reporters} people reported it ({MANY_REPORTERS} or more is {yellow})",
                )
            )
        if any(r.startswith("影响范围：") for r in reasons):
            bumps.append(Reason("影响范围广", "Wide scope"))
        if bumps:
            reasons.extend(bumps)
            if level == "green":
                level, level_conf = "yellow", 0.8
                reasons.append(
                    Reason(
                        "等级：由绿升为黄（涉及群体较多）",
                        f"Level: raised from {level_en('green')} to {level_en('yellow')} (many people affected)",
                    )
                )
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
        if red.weak:
            why, why_en = "红色信号较弱", "the signs of Red are weak"
        else:
            why, why_en = (
                f"置信度 {confidence:.2f} 低于 {REVIEW_THRESHOLD}",
                f"confidence {confidence:.2f} is below {REVIEW_THRESHOLD}",
            )
        reasons.append(Reason(f"需人工复核：{why}", f"Needs review by a person: {why_en}"))
    return Grade(
        level=level,
        route=route,
        kind=kind,
        category=category,
        reasons=tuple(reasons),
        confidence=confidence,
        needs_review=needs_review,
        urgent=red.urgent,
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
