"""Rules and model together: the grade the service gives, and the model it loaded at startup.

Rules decide first and keep their overrides (a danger phrase is red whatever the model says); the model adds
recall on red (a low red-probability threshold sends a text to red with a review flag, since a missed red is
the worst error) and decides level, category, kind and route where it is confident. Without a model file the
service grades with the rules alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from services.contracts import labels
from services.triage import domain, gloss
from services.triage.domain import CATEGORY_LABELS, Grade, PhraseAdditions
from services.triage.model import DEFAULT_RED_THRESHOLD, Prediction, TriageModel, load
from services.triage.reasons import REVIEW_EN, Reason, category_en, kind_en, level_en, quoted_en, route_en

log = logging.getLogger("triage.grader")

MODEL_FILE = "triage-model.pkl"
LEVEL_LABELS = labels.zh_map("level")
ROUTE_LABELS = labels.zh_map("route")
KIND_LABELS = labels.zh_map("kind")


@dataclass(frozen=True)
class Policy:
    """How the model and the rules are combined (settings chosen by cross-validation, see docs/triage.md)."""

    red_threshold: float | None = None  # P(red) at or above this is red; None: the model's own (nested by-writer CV)
    sure_red: float = 0.5  # P(red) below this (and above the threshold) is red with a review flag
    near_red: float = 0.5  # P(red) at or above near_red × threshold but below it: not red, flagged for review
    level_trust: float = 0.0  # model's non-red level wins over the rules' at or above this probability
    category_trust: float = 0.2
    kind_trust: float = 0.5
    route_trust: float = 0.7  # below it the rules' route stands (leave-one-writer-out: 0.5 → 0.7 route F1 +0.01)


POLICY = Policy()
_active: TriageModel | None = None


def set_model(model: TriageModel | None) -> None:
    """Make `model` the one the service grades with (None: rules only)."""
    global _active
    _active = model


def active_model() -> TriageModel | None:
    """The model loaded at startup, if any."""
    return _active


def load_active(var_dir: Path) -> TriageModel | None:
    """Load var/triage-model.pkl at startup; log the rules-only fallback when it is missing or stale."""
    path = var_dir / MODEL_FILE
    model = load(path)
    if model is None:
        log.warning("triage.model.absent path=%s grading=rules-only (train: python -m services.triage train)", path)
    else:
        log.info("triage.model.loaded path=%s rows=%s", path, model.trained_on.get("rows"))
    set_model(model)
    return model


def _quote(grams: tuple[str, ...]) -> str:
    return "".join(f"“{g}”" for g in grams)


def _evidence(grams: tuple[str, ...]) -> Reason:
    """The words the model leaned on (residents' words, quoted as written)."""
    if not grams:
        return Reason("模型依据：无明显特征", "Model evidence: no telling words")
    return Reason(f"模型依据：{_quote(grams)}", f"Model evidence: {quoted_en(grams)}")


def model_only(text: str, p: Prediction, *, kind_hint: str | None = None) -> Grade:
    """The model's own grade (for measurement): argmax per head, red forces deliberation."""
    level, lp = p.best("level")
    kind = kind_hint if kind_hint in KIND_LABELS else p.best("kind")[0]
    route = "deliberate" if level == "red" else p.best("route")[0]
    category, cp = p.best("category")
    reasons = (
        Reason(f"模型判定：{LEVEL_LABELS[level]}（概率 {lp:.2f}）", f"Model: {level_en(level)} (probability {lp:.2f})"),
        _evidence(p.level_ngrams),
    )
    conf = round(0.6 * lp + 0.4 * cp, 2)
    return Grade(level, route, kind, category, reasons, conf, conf < domain.REVIEW_THRESHOLD)


def red_threshold(p: Prediction, policy: Policy) -> float:
    """The P(red) threshold in force: the policy's when set, else the model's own, else the default."""
    if policy.red_threshold is not None:
        return policy.red_threshold
    return p.red_threshold if p.red_threshold is not None else DEFAULT_RED_THRESHOLD


_RULE_RED_REASONS = ("等级：红", "规则：红色一律上会议事", "表述含糊（如")


def combine(rules: Grade, p: Prediction, *, kind_hint: str | None, category_hint: str | None,
            reporters: int, policy: Policy = POLICY, foreign: bool = False) -> Grade:  # fmt: skip
    """Merge a rules grade and a model prediction under `policy`; every change is explained in Chinese and English.

    Red is the model's P(red) against a threshold set for 97.5 % red recall on writers held out of its own
    training: at or above it the report is red (with review while P(red) is below `sure_red`), just below it the
    report keeps a non-red level but is flagged. The rules' hazard reading is a feature of the model and the
    explanation staff read; a rules red the model does not confirm is not forced to red but flagged for review,
    except an unmistakable call for help (`urgent.py`), which is red whatever the model says, and a report
    mostly in English (`foreign`): the model learned Chinese only, so there the rules' red stands, with review.
    """
    reasons = list(rules.reasons)
    notes: list[Reason] = []
    review = rules.needs_review
    p_red = p.text_red
    t = red_threshold(p, policy)
    level_probs = (p.text_probs or p.probs)["level"]  # text-only: better on unseen writers, as for category
    m_level, m_lp = max(((k, v) for k, v in level_probs.items() if k != "red"), key=lambda kv: kv[1])
    bumped = any(r.startswith("等级：由绿升为黄") for r in reasons)

    if rules.urgent:  # an unmistakable call for help (urgent.py) is red whatever the model says
        level = "red"
    elif foreign and rules.level == "red":
        level, review = "red", True
        notes.append(
            Reason(
                "报告主要为英文，模型未学过英文：按规则判为红色并请人工复核",
                "The report is mostly in English, which the model has not learned: Red by the rules, "
                "with a review by a person",
            )
        )
    elif p_red >= t:
        level = "red"
        if p_red < policy.sure_red:
            review = True
            notes.append(
                Reason(
                    f"模型判断可能为红色（概率 {p_red:.2f} ≥ {t:.2f}），按红色处理并请人工复核",
                    f"The model finds it may be Red (probability {p_red:.2f} ≥ {t:.2f}); {REVIEW_EN}",
                )
            )
        elif rules.level != "red":
            notes.append(
                Reason(
                    f"等级：按模型改为红（概率 {p_red:.2f}）",
                    f"Level: changed to {level_en('red')} by the model (probability {p_red:.2f})",
                )
            )
    else:
        base = rules.level if rules.level != "red" else ("yellow" if bumped else m_level)
        level = base
        if rules.level == "red":  # the rules saw a hazard the model does not take as current: a person decides
            review = True
            reasons = [r for r in reasons if not r.startswith(_RULE_RED_REASONS)]
            odds = f"{p_red:.2f} < {t:.2f}"
            zh = f"规则提示危险，但模型判断不属当前急险（红色概率 {odds}），暂按{LEVEL_LABELS[level]}处理并请人工复核"
            en = (f"The rules see danger, but the model finds no emergency now (probability of Red {odds}): "
                  f"{level_en(level)} for now, with a review by a person")  # fmt: skip
            notes.append(Reason(zh, en))
        elif not bumped and m_level != level and m_lp >= policy.level_trust:
            level = m_level
            notes.append(
                Reason(
                    f"等级：按模型改为{LEVEL_LABELS[level]}（概率 {m_lp:.2f}）",
                    f"Level: changed to {level_en(level)} by the model (probability {m_lp:.2f})",
                )
            )
        if rules.level != "red" and p_red >= policy.near_red * t:
            review = True
            notes.append(
                Reason(
                    f"红色概率 {p_red:.2f} 接近阈值 {t:.2f}，请人工复核是否为急难险重",
                    f"Probability of Red {p_red:.2f} is close to the threshold {t:.2f}: "
                    "a person should check whether it is an emergency",
                )
            )

    # Category and route come from the text-only heads: on writers the model never saw they beat the hybrid
    # heads, which learn to echo the rules (leave-one-writer-out, docs/triage.md).
    category = rules.category
    m_cat, m_cp = p.best_text("category")
    hinted = category_hint in CATEGORY_LABELS
    if not hinted and m_cat != category and (category == "other" or m_cp >= policy.category_trust):
        category = m_cat
        notes.append(
            Reason(
                f"类别：按模型改为{CATEGORY_LABELS[category]}（概率 {m_cp:.2f}）",
                f"Category: changed to {category_en(category)} by the model (probability {m_cp:.2f})",
            )
        )

    kind = rules.kind
    m_kind, m_kp = p.best("kind")
    if kind_hint not in KIND_LABELS and m_kind != kind and m_kp >= policy.kind_trust:
        kind = m_kind
        notes.append(
            Reason(
                f"性质：按模型改为{KIND_LABELS[kind]}（概率 {m_kp:.2f}）",
                f"Kind: changed to {kind_en(kind)} by the model (probability {m_kp:.2f})",
            )
        )

    route = rules.route
    demoted = rules.level == "red" and level != "red"  # the rules' route was only "red deliberates"
    m_route, m_rp = p.best_text("route")
    if level == "red":
        route = "deliberate"
        if rules.level != "red":
            notes.append(domain.RED_DELIBERATES)
    elif reporters < domain.MANY_REPORTERS and m_route != route and (m_rp >= policy.route_trust or demoted):
        route = m_route
        notes.append(
            Reason(
                f"路线：按模型改为{ROUTE_LABELS[route]}（概率 {m_rp:.2f}）",
                f"Route: changed to {route_en(route)} by the model (probability {m_rp:.2f})",
            )
        )

    model_p_final = p_red if level == "red" else level_probs.get(level, 0.0)
    confidence = round(0.5 * rules.confidence + 0.5 * model_p_final, 2)
    reasons.append(_evidence(p.level_ngrams))
    reasons.extend(notes)
    if not review and confidence < domain.REVIEW_THRESHOLD:
        review = True
        reasons.append(
            Reason(
                f"需人工复核：综合置信度 {confidence:.2f} 低于 {domain.REVIEW_THRESHOLD}",
                f"Needs review by a person: overall confidence {confidence:.2f} is below {domain.REVIEW_THRESHOLD}",
            )
        )
    return Grade(level, route, kind, category, tuple(reasons), confidence, review, rules.urgent)


def grade(
    text: str,
    *,
    channel: str,
    kind_hint: str | None = None,
    category_hint: str | None = None,
    households: int = 1,
    reporters: int = 1,
    extra: PhraseAdditions | None = None,
    model: TriageModel | bool | None = True,
    policy: Policy = POLICY,
) -> Grade:
    """Grade with the rules and, when one is loaded (or given), the model; `model=False` forces rules only."""
    rules_grade = domain.grade(
        text,
        channel=channel,
        kind_hint=kind_hint,
        category_hint=category_hint,
        households=households,
        reporters=reporters,
        extra=extra,
    )
    chosen = _active if model is True else (model or None)
    if chosen is None:
        return rules_grade
    prediction = chosen.predict(text, rules_grade)
    return combine(
        rules_grade,
        prediction,
        kind_hint=kind_hint,
        category_hint=category_hint,
        reporters=reporters,
        policy=policy,
        foreign=gloss.foreign(text),
    )
