"""Unmistakable calls for help: the few signs that make a report red whatever the model says.

The model decides red for everything else (a rules red it does not confirm is only flagged, because the
hazard rules' red precision on unseen writers is 0.62-0.70). These signs are narrower: an emergency number
called or asked for (110 / 119 / 120), a life in danger now (someone unconscious, fitting, not breathing,
threatening to end their life, bleeding), a person living alone who does not answer, a weapon, an electrical
arc. In the eleven writers' 10,106 labelled rows every row holding one of them live was labelled red
(docs/triage.md, "Unmistakable calls for help"), and a missed one is the worst error the grader can make.
Each sign counts only when its clause reads it as current (not denied, over, past or prevention talk).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from services.triage import hazards

# An emergency number, not part of a longer number (work-order numbers, room numbers 1101).
EMERGENCY_NUMBER = re.compile(r"(?<![0-9])(110|119|120)(?![0-9])")
# Before the number in its clause: a notice about numbers to remember, not a call.
NOT_A_CALL = ("宣传", "演练", "培训", "讲座", "知识", "牢记", "记住", "号码", "热线", "急救中心")

# (hazard of the taxonomy, signs): each a person's life or body in danger now.
SIGNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("person_in_distress", ("不想活", "跳下去", "寻短见", "轻生", "喝农药", "安眠药", "割腕", "喘不上气", "呼吸困难",
                            "没有呼吸", "没呼吸", "抽搐", "口吐白沫", "倒在地上", "昏迷", "不省人事", "休克", "发紫",
                            "流血")),
    ("person_at_risk", ("叫不醒", "敲不开", "几天没见")),
    ("public_order", ("拿刀", "持刀", "砍人", "动刀")),
    ("electrical", ("冒蓝光", "打火花", "拉弧")),
)  # fmt: skip


@dataclass(frozen=True)
class Signal:
    """One unmistakable sign found live in a text."""

    hazard: str
    cue: str
    status: str


# Just before a sign, a denial a word away ("没有人流血", "冇人倒在地上"), which the taxonomy's reader misses.
DENIALS = ("没有", "没", "无", "未", "冇")  # 不 only right before the sign: "不停流血" is bleeding on


def _live(status: str) -> bool:
    return status in ("active", "imminent", "hedged")


@functools.lru_cache(maxsize=4096)
def signals(text: str) -> tuple[Signal, ...]:
    """Every live unmistakable sign in a raw report text (see the module docstring)."""
    found: list[Signal] = []
    for _sentence, clause in hazards.clauses(hazards.prepare(text)):
        for m in EMERGENCY_NUMBER.finditer(clause):
            before = clause[: m.start()]
            status = hazards.status(clause, m.start(), m.group(1))
            # "nobody has called 120 yet" is as urgent as "120 is called": a denied call still counts.
            if (_live(status) or status == "negated") and not any(w in before for w in NOT_A_CALL):
                found.append(Signal("emergency_call", m.group(1), status))
        for hazard, signs in SIGNS:
            for cue in signs:
                at = clause.find(cue)
                before = clause[max(0, at - 4) : at]
                if at < 0 or before.endswith("不") or any(d in before for d in DENIALS):
                    continue
                if _live(status := hazards.status(clause, at, cue)):
                    found.append(Signal(hazard, cue, status))
    return tuple(dict.fromkeys(found))
