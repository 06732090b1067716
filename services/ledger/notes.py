"""The sentences the ledger writes on an entry's timeline, in Chinese, and their English twins (pure).

Every automatic timeline note is built here in Chinese (the text stored in `TimelineItem.note`). `english` rebuilds
the English twin when a row is read, from the row's action and the fixed wording of its Chinese, so no migration is
needed and rows written before the twins existed read in English too. Levels, ratings, states and outcomes come out
in the words of `contracts.labels`. What the ledger only carries — staff-typed notes, measures a session decided,
unit and hall names, places, residents' reopen reasons, triage's regrade reason, matter titles, promises — is
quoted as written (“…”), so in English no Chinese stands outside quotes. A note that matches none of these
sentences (a staff member's own note) reads the same in both languages.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from services.contracts import labels
from services.contracts.measures import measures_en
from services.ledger.domain import TZ

# --- helpers ------------------------------------------------------------------------------------


def q(text: str | None) -> str:
    """Text the ledger only carries, quoted as written."""
    return f"“{(text or '').strip()}”"


def _local(moment: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if moment is None:
        return "未定"
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
    return aware.astimezone(TZ).strftime(fmt)


def _when_en(local: str) -> str:
    """A local time as written in a note, in English: digits as they are, "not set" for 未定/待定/—."""
    if local in ("未定", "待定", "—", ""):
        return "not set"
    if m := re.fullmatch(r"(\d{2})月(\d{2})日 (\d{2}:\d{2})", local):
        return f"{m.group(1)}-{m.group(2)} {m.group(3)}"
    return local


def _code_of(group: str, word: str) -> str | None:
    """The code of a Chinese label (or of a code written as is, in rows from before the words)."""
    if word in labels.GROUPS[group]:
        return word
    return next((code for code, (zh, _) in labels.GROUPS[group].items() if zh == word), None)


def _word_en(group: str, word: str) -> str:
    code = _code_of(group, word)
    return labels.en(group, code) if code else q(word)


# --- words the notes share ----------------------------------------------------------------------

TIER_ZH = {"on_call": "值班人员", "secretary": "社区党组织书记", "county": "县级值班"}
TIER_EN = {"on_call": "the people on call", "secretary": "the community party secretary", "county": "county duty"}
VIA_ZH = {"link": "通过通知链接", "console": "在工作台", "action": "开始处置"}
VIA_EN = {"link": "by the link in the page", "console": "in the console", "action": "by starting work"}
REMINDER_ZH = {"warning": "临期预警", "overdue": "超期催办"}
REMINDER_EN = {"warning": "Deadline near", "overdue": "Overdue reminder"}
SESSION_OUTCOME_ZH = {
    "resolved": "议定办理",
    "site_inspection": "需现场勘察",
    "escalate": "转办职能部门",
    "deferred": "暂缓议定",
    "not_actionable": "不予受理",
    "refer_up": "小区议事会提交社区议事厅",
}
SUPPORT_ACTION_ZH = {"claim": "认领", "progress": "进展", "complete": "完成"}
SUPPORT_ACTION_EN = {"claim": "claimed", "progress": "reported progress", "complete": "finished its part"}
COMMITMENT_CHECK_ZH = {"open": "待核验", "kept": "已兑现", "broken": "未兑现"}
# Why a direct matter went to its unit (routing.route_direct), in English.
WHY_EN = {
    "名录指定：物业服务企业": "the directory names the property company",
    "名录指定：社区": "the directory names the community",
    "名录指定：职能部门": "the directory names the department",
    "名录指定": "named in the directory",
    "小区公共设施维护，物业服务企业负责": "upkeep of the compound's shared facilities is the property company's",
    "居民之间或特定人群的事，社区负责": "a matter between residents or of a particular group is the community's",
    "结对共建单位对口负责": "the partner unit paired for this is responsible",
    "对口职能部门负责": "the department in charge of this is responsible",
    "社区负责": "the community is responsible",
}
DIRECT_BASES = {
    "按类别直接交办": "Assigned at once by category",
    "改为直接交办": "Changed to fix at once and assigned",
    "督促整改，重新交办原责任单位": "Sent back to the same lead unit to put it right",
}
RED_BASES = {
    "红色事项立即交办值班责任单位": "Red matter: assigned at once to the unit on duty",
    "改为红色，立即交办值班责任单位": "Changed to Red: assigned at once to the unit on duty",
    "升为红色，立即交办值班责任单位": "Raised to Red: assigned at once to the unit on duty",
}
DEFAULT_UNIT_EN = {"社区": "the community", "值班责任单位": "the unit on duty", "社区党组织": "the party organisation"}

# --- fixed sentences ----------------------------------------------------------------------------

REGISTERED = "登记入账"
CLAIMED = "已认领"
STARTED = "开始办理"
CLAIMED_AND_STARTED = "认领并开始办理"
RETURNED = "转办部门办理完毕，退回核验（returned for verification）"
CLOSED = "已销号"
OVERDUE = "已超期"
RESOLVED_BUT_DONE = "议事会议定，但台账已办结，未重复交办"
ESCALATE_NOT_NOW = "议事会决议转办，但台账当前状态不可转办"
SESSION_ESCALATED = "议事会议定转办"
ALERT_GAVE_UP = "红色警报24小时无人确认，停止呼叫，请在工作台跟进"
SUPERVISED_SHORT = "升级为社区党组织督办"

FIXED_EN = {
    REGISTERED: "Entered in the ledger",
    CLAIMED: "Claimed",
    STARTED: "Work started",
    CLAIMED_AND_STARTED: "Claimed and started",
    RETURNED: "The department finished its part; returned for verification",
    CLOSED: "Crossed off",
    OVERDUE: "Overdue",
    RESOLVED_BUT_DONE: "The session decided on it, but the entry was already done; not assigned again",
    ESCALATE_NOT_NOW: "The session decided to hand it over, but the entry cannot be handed over in its state",
    SESSION_ESCALATED: "Assigned for hand-over, as the session decided",
    ALERT_GAVE_UP: "Red alert unacknowledged for 24 hours: paging stopped; follow it up in the console",
    SUPERVISED_SHORT: "Raised to supervision by the community party organisation",
}

# --- builders (the writers call these; each has its pattern below) -----------------------------


def order_deadline(due: dt.datetime) -> str:
    """The suffix saying the 12345 order's deadline caps the entry's."""
    return f"（按12345工单承办时限，{_local(due, '%m月%d日 %H:%M')}前办结）"


def order_earlier(suffix: str) -> str:
    return f"12345工单承办时限早于台账时限，办结时限提前{suffix}"


def assigned_direct(base: str, unit: str | None, why: str | None) -> str:
    return f"{base}：{unit or '社区'}（{why}）" if why is not None else base


def assigned_red(base: str, unit: str | None) -> str:
    return f"{base}：{unit or '值班责任单位'}"


def more_households(households: int) -> str:
    return f"同一事项新增报事，涉及{households}户"


def regraded(before: str, after: str, reason: str) -> str:
    return f"重新定级：{labels.zh('level', before, before)}→{labels.zh('level', after, after)}（{reason}）"


def session_scheduled(status: str, hall_name: str | None, when: dt.datetime, place: str) -> str:
    label = {"scheduled": "已列入议事会议程", "rescheduled": "议事会改期", "cancelled": "议事会已取消"}[status]
    if hall_name:
        label = label.replace("议事会", hall_name, 1)  # 小事不出小区: say which compound's meeting
    return f"{label}（{_local(when)}，{place}）"


def session_outcome(outcome: str, reason: str | None) -> str:
    return f"议事会决议：{SESSION_OUTCOME_ZH[outcome]}" + (f"（{reason}）" if reason else "")


def session_resolved(measures: str) -> str:
    return f"议事会议定：{measures}"


def session_readopted(measures: str) -> str:
    return f"议事会重新议定：{measures}"


def handed_over(unit: str, reason: str | None = None) -> str:
    """A session's hand-over (with its reason)."""
    return f"转办至{unit}" + (f"（{reason}）" if reason else "")


def handed_over_by(unit: str, note: str) -> str:
    """A staff member's hand-over with their note."""
    return f"转办至{unit}：{note}"


def department_progress(unit: str | None, note: str) -> str:
    return f"【{unit or '职能部门'}】{note}"


def round_rating(round_: int, rating: str) -> str:
    return f"第{round_}轮回访评价：{labels.zh('rating', rating, rating)}"


def satisfied(rate: float | None) -> str:
    return "居民评价满意" + (f"（满意率 {rate:.0%}）" if rate is not None else "")


def reopen_refused(round_: int, state: str) -> str:
    return f"收到重办通知（第{round_}轮），但台账状态为「{labels.zh('ledger_state', state, state)}」"


def round_measures(round_: int, measures: str) -> str:
    return f"第{round_}轮办理措施：{measures}"[:2000]


def reopened(round_: int, reasons: str) -> str:
    return f"居民不满意，第{round_}轮重办：{reasons}"[:2000]


def supervised(unit: str | None) -> str:
    return f"两轮评价不满意，升级为社区党组织督办（督办件），由{unit or '社区党组织'}牵头，新时限已设定"


def paged(tier: str, people: int, times: int) -> str:
    return f"红色警报：已呼叫{TIER_ZH[tier]}{people}人（第{times}次），等待确认接警"


def acknowledged(via: str) -> str:
    return f"已确认接警（{VIA_ZH[via]}）"


def alert_escalated(tier: str) -> str:
    return f"红色警报无人确认，升级呼叫{TIER_ZH[tier]}"


def first_action_late(due: dt.datetime | None) -> str:
    return f"首次响应超时：时限 {_local(due, '%m-%d %H:%M') if due else '—'} 已过，责任单位尚未响应，已报社区党组织书记"


def reminded(kind: str, unit: str | None, supporting: bool, deadline: dt.datetime) -> str:
    who = f"配合单位「{unit}」" if supporting else f"责任单位「{unit or '未定'}」"
    return f"{REMINDER_ZH[kind]}：已提醒{who}，时限 {_local(deadline)}"


def promised(text: str, owner: str, due: dt.datetime) -> str:
    return f"议事会承诺：{text}（承诺方：{owner}，期限 {_local(due)}）"


def promise_due(text: str, owner: str, due: dt.datetime) -> str:
    return f"承诺到期待核验：{text}（承诺方：{owner}，期限 {_local(due)}），请社区党组织核验是否兑现"


def promise_checked(text: str, state: str, note: str) -> str:
    return f"承诺核验：{text} —— {COMMITMENT_CHECK_ZH[state]}（{note}）"


def support_added(unit: str, deadline: dt.datetime | None) -> str:
    return f"增加配合单位「{unit}」，时限 {_local(deadline)}"


def support_acted(unit: str, action: str, text: str) -> str:
    return f"配合单位「{unit}」{SUPPORT_ACTION_ZH[action]}：{text}"


def merged_away(title: str, reason: str) -> str:
    return f"已合并到事项「{title[:40]}」一并办理；理由：{reason}"


def took_in(title: str, reports: int, reason: str) -> str:
    return f"并入事项「{title[:40]}」的 {reports} 条报事；理由：{reason}"


def split_off(reports: int, title: str, reason: str) -> str:
    return f"拆出 {reports} 条报事另立事项「{title[:40]}」；理由：{reason}"


# --- reading a stored note in English ----------------------------------------------------------


def _unit_en(unit: str) -> str:
    return DEFAULT_UNIT_EN.get(unit) or q(unit)


def _hall_en(hall: str) -> str:
    return "the deliberation meeting" if hall == "议事会" else f"the meeting of {q(hall)}"


def _measures_en(text: str) -> str:
    return measures_en(text) or q(text)


def _count(n: str | int, noun: str) -> str:
    return f"{n} {noun if int(n) == 1 else noun + 's'}"


_ORDER = re.compile(r"（按12345工单承办时限，(\d{2}月\d{2}日 \d{2}:\d{2})前办结）$")


def _with_order(note: str, word: Callable[[str], str | None]) -> str | None:
    """A note that may end with the 12345 order's deadline: the English of its head, then of the suffix."""
    suffix = ""
    if m := _ORDER.search(note):
        note = note[: m.start()]
        suffix = f" (to be finished by {_when_en(m.group(1))}, the 12345 order's deadline)"
    head = word(note)
    return None if head is None else head + suffix


def _assign_en(note: str) -> str | None:
    if note in FIXED_EN:
        return FIXED_EN[note]
    for base, en in DIRECT_BASES.items():
        if note == base:
            return en
        if m := re.fullmatch(re.escape(base) + r"：(.*)（(.*)）", note, re.S):
            why = WHY_EN.get(m.group(2)) or q(m.group(2))
            return f"{en}: {_unit_en(m.group(1))} ({why})"
    for base, en in RED_BASES.items():
        if m := re.fullmatch(re.escape(base) + r"：(.*)", note, re.S):
            return en if m.group(1) == "值班责任单位" else f"{en}: {_unit_en(m.group(1))}"
    if m := re.fullmatch(r"议事会议定：(.*)", note, re.S):
        return f"Decided at the session: {_measures_en(m.group(1))}"
    if m := re.fullmatch(r"两轮评价不满意，升级为社区党组织督办（督办件），由(.*)牵头，新时限已设定", note, re.S):
        return (
            "Unsatisfied in two rounds: raised to supervision by the community party organisation, "
            f"led by {_unit_en(m.group(1))}, with a new deadline"
        )
    return None


_SCHEDULED = (
    (re.compile(r"已列入(.+?)议程（(.*?)，(.*)）", re.S), "On the agenda of {hall} ({when}, at {place})"),
    (re.compile(r"(.+?)改期（(.*?)，(.*)）", re.S), "{Hall} moved ({when}, at {place})"),
    (re.compile(r"(.+?)已取消（(.*?)，(.*)）", re.S), "{Hall} cancelled (was {when}, at {place})"),
)


_OWNER_VOTE = re.compile(
    r"业主共同决定「(.*)」（民法典第二百七十八条(?:第一款第（(.)）项)?，(须四分之三以上同意|须过半数同意)）："
    r"(表决通过|参与表决的业主不足三分之二，表决无效|同意票未达法定比例，表决未通过)。"
    r"参与表决 (\d+)/(\d+) 户、专有部分面积 ([\d.]+)/([\d.]+) 平方米；同意 (\d+) 户、([\d.]+) 平方米",
    re.S,
)
VOTE_RULE_EN = {"须四分之三以上同意": "needs three quarters in favour", "须过半数同意": "needs a majority in favour"}
VOTE_RESULT_EN = {
    "表决通过": "passed",
    "参与表决的业主不足三分之二，表决无效": "void: fewer than two thirds of the owners voted",
    "同意票未达法定比例，表决未通过": "not passed: too few votes in favour",
}


def _owner_vote_en(m: re.Match) -> str:
    """ownervotes.vote_note in English."""
    item = "Civil Code article 278" + (f"(1) item {'零一二三四五六七八九'.index(m.group(2))}" if m.group(2) else "")
    return (
        f"Owners' joint decision on {q(m.group(1))} ({item}, {VOTE_RULE_EN[m.group(3)]}): "
        f"{VOTE_RESULT_EN[m.group(4)]}. Voted: {m.group(5)}/{m.group(6)} households, "
        f"{m.group(7)}/{m.group(8)} m² of owned floor area; in favour: {m.group(9)} households, {m.group(10)} m²"
    )


def _note_en(note: str) -> str | None:
    if note in FIXED_EN:
        return FIXED_EN[note]
    if m := re.fullmatch(r"12345工单承办时限早于台账时限，办结时限提前（按12345工单承办时限，(.*)前办结）", note):
        return f"The 12345 order's deadline is earlier than the ledger's: now to be finished by {_when_en(m.group(1))}"
    if m := re.fullmatch(r"同一事项新增报事，涉及(\d+)户", note):
        return f"New reports on the same matter: {_count(m.group(1), 'household')} affected"
    for pattern, en in _SCHEDULED:
        if m := pattern.fullmatch(note):
            hall = _hall_en(m.group(1))
            return en.format(hall=hall, Hall=hall[0].upper() + hall[1:], when=_when_en(m.group(2)), place=q(m.group(3)))
    if m := re.fullmatch(r"议事会决议：([^（]*)(?:（(.*)）)?", note, re.S):
        code = next((c for c, zh in SESSION_OUTCOME_ZH.items() if zh == m.group(1)), None)
        if code:
            return f"Session decision: {labels.en('outcome', code)}" + (f" ({q(m.group(2))})" if m.group(2) else "")
    if m := re.fullmatch(r"第(\d+)轮回访评价：(.*)", note):
        return f"Round {m.group(1)} revisit rating: {_word_en('rating', m.group(2))}"
    if m := re.fullmatch(r"收到重办通知（第(\d+)轮），但台账状态为「(.*)」", note):
        return f"Reopening for round {m.group(1)} received, but the entry is {_word_en('ledger_state', m.group(2))}"
    if m := re.fullmatch(r"第(\d+)轮办理措施：(.*)", note, re.S):
        return f"Round {m.group(1)} measures: {_measures_en(m.group(2))}"
    if m := re.fullmatch(r"增加配合单位「(.*)」，时限 (.*)", note, re.S):
        return f"Supporting unit added: {q(m.group(1))}, deadline {_when_en(m.group(2))}"
    if m := re.fullmatch(r"并入事项「(.*?)」的 (\d+) 条报事；理由：(.*)", note, re.S):
        return f"Took in {_count(m.group(2), 'report')} of the matter {q(m.group(1))}; reason: {q(m.group(3))}"
    if m := re.fullmatch(r"拆出 (\d+) 条报事另立事项「(.*?)」；理由：(.*)", note, re.S):
        return f"{_count(m.group(1), 'report')} split off into the new matter {q(m.group(2))}; reason: {q(m.group(3))}"
    if m := _OWNER_VOTE.fullmatch(note):
        return _owner_vote_en(m)
    red = next((en for zh, en in RED_BASES.items() if note.startswith(zh + "：")), None)
    if red:  # a red matter noted while already being handled
        return _assign_en(note)
    return None


def _remind_en(note: str) -> str | None:
    if m := re.fullmatch(r"(临期预警|超期催办)：已提醒(配合单位|责任单位)「(.*)」，时限 (.*)", note, re.S):
        kind = next(k for k, zh in REMINDER_ZH.items() if zh == m.group(1))
        who = "supporting unit" if m.group(2) == "配合单位" else "lead unit"
        unit = "(none set yet)" if m.group(3) == "未定" else q(m.group(3))
        return f"{REMINDER_EN[kind]}: reminded the {who} {unit}, deadline {_when_en(m.group(4))}"
    if m := re.fullmatch(r"首次响应超时：时限 (.*) 已过，责任单位尚未响应，已报社区党组织书记", note):
        return (
            f"First response late: the limit {_when_en(m.group(1))} has passed without a response from the lead unit; "
            "the community party secretary has been told"
        )
    if m := re.fullmatch(r"承诺到期待核验：(.*)（承诺方：(.*)，期限 (.*)），请社区党组织核验是否兑现", note, re.S):
        return (
            f"Promise due for checking: {q(m.group(1))} (by {q(m.group(2))}, due {_when_en(m.group(3))}); "
            "the party organisation is asked to check whether it was kept"
        )
    return None


def _page_en(note: str) -> str | None:
    if note == ALERT_GAVE_UP:
        return FIXED_EN[note]
    if m := re.fullmatch(r"红色警报：已呼叫(.*?)(\d+)人（第(\d+)次），等待确认接警", note):
        tier = next((t for t, zh in TIER_ZH.items() if zh == m.group(1)), None)
        if tier:
            people = "1 person" if m.group(2) == "1" else f"{m.group(2)} people"
            return f"Red alert: paged {TIER_EN[tier]} ({people}, page {m.group(3)}), waiting for acknowledgement"
    return None


def _escalate_en(note: str) -> str | None:
    if m := re.fullmatch(r"转办至(.*?)：(.*)", note, re.S):
        return f"Handed over to {_unit_en(m.group(1))}: {q(m.group(2))}"
    if m := re.fullmatch(r"转办至(.*?)(?:（(.*)）)?", note, re.S):
        return f"Handed over to {_unit_en(m.group(1))}" + (f" ({q(m.group(2))})" if m.group(2) else "")
    return None


def _by_action(action: str, note: str) -> str | None:
    if action == "assign":
        return _with_order(note, _assign_en)
    if action == "note":
        return _note_en(note)
    if action == "regrade" and (m := re.fullmatch(r"重新定级：(.*?)→(.*?)（(.*)）", note, re.S)):
        return f"Regraded from {_word_en('level', m.group(1))} to {_word_en('level', m.group(2))} ({q(m.group(3))})"
    if action == "resolve" and (m := re.fullmatch(r"议事会重新议定：(.*)", note, re.S)):
        return f"The session decided again: {_measures_en(m.group(1))}"
    if action == "escalate":
        return _escalate_en(note)
    if action == "progress" and (m := re.fullmatch(r"【(.*?)】(.*)", note, re.S)):
        return f"From {_unit_en(m.group(1)) if m.group(1) != '职能部门' else 'the department'}: {q(m.group(2))}"
    if action == "evaluate_satisfied" and (m := re.fullmatch(r"居民评价满意(?:（满意率 (\d+%)）)?", note)):
        return "Residents satisfied" + (f" (satisfaction {m.group(1)})" if m.group(1) else "")
    if action == "evaluate_unsatisfied" and (m := re.fullmatch(r"居民不满意，第(\d+)轮重办：(.*)", note, re.S)):
        reasons = "; ".join(q(r) for r in m.group(2).split("；") if r.strip())
        return f"Residents unsatisfied: round {m.group(1)} reopened" + (f": {reasons}" if reasons else "")
    if action in ("page", "escalate_alert"):
        if m := re.fullmatch(r"红色警报无人确认，升级呼叫(.*)", note):
            tier = next((t for t, zh in TIER_ZH.items() if zh == m.group(1)), None)
            return f"Red alert not acknowledged: now paging {TIER_EN[tier]}" if tier else None
        return _page_en(note)
    if action == "ack" and (m := re.fullmatch(r"已确认接警（(.*)）", note)):
        via = next((v for v, zh in VIA_ZH.items() if zh == m.group(1)), None)
        return f"Red alert acknowledged {VIA_EN[via]}" if via else None
    if action == "remind":
        return _remind_en(note)
    if action == "commit" and (m := re.fullmatch(r"议事会承诺：(.*)（承诺方：(.*)，期限 (.*)）", note, re.S)):
        return f"Promise made at the session: {q(m.group(1))} (by {q(m.group(2))}, due {_when_en(m.group(3))})"
    if action == "commit_check" and (m := re.fullmatch(r"承诺核验：(.*) —— (.*?)（(.*)）", note, re.S)):
        state = next((s for s, zh in COMMITMENT_CHECK_ZH.items() if zh == m.group(2)), None)
        if state:
            return f"Promise checked: {q(m.group(1))} — {labels.en('commitment_state', state)} ({q(m.group(3))})"
    if action.startswith("support_") and (m := re.fullmatch(r"配合单位「(.*?)」(认领|进展|完成)：(.*)", note, re.S)):
        act = next(a for a, zh in SUPPORT_ACTION_ZH.items() if zh == m.group(2))
        text = FIXED_EN.get(m.group(3)) if act == "claim" else None
        return f"Supporting unit {q(m.group(1))} {SUPPORT_ACTION_EN[act]}" + ("" if text else f": {q(m.group(3))}")
    if action == "merge" and (m := re.fullmatch(r"已合并到事项「(.*?)」一并办理；理由：(.*)", note, re.S)):
        return f"Merged into the matter {q(m.group(1))}, handled together; reason: {q(m.group(2))}"
    return None


def english(action: str | None, note: str | None) -> str | None:
    """The English twin of a stored timeline note; a staff member's own note comes back as they wrote it."""
    if note is None:
        return None
    if note in FIXED_EN:
        return FIXED_EN[note]
    return _by_action(action or "", note) or note
