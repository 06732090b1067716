"""Every enumerated word a person sees, in Chinese and English: one vocabulary for services and console.

Each group maps a code to (中文, English). Groups built on a Literal of `vocabulary.py` are checked at import:
every value of the Literal has a label and no label is for a value the Literal lacks. The console's
`src/shared/labels.js` is generated from this module (`python -m services.console.labels export`).
"""

from __future__ import annotations

import re
from typing import get_args

from services.contracts import vocabulary as v
from services.contracts.catalog import CATALOG

Label = tuple[str, str]

LEVEL: dict[str, Label] = {"red": ("红", "Red"), "yellow": ("黄", "Yellow"), "green": ("绿", "Green")}
ROUTE: dict[str, Label] = {"direct": ("直接办理", "Fix at once"), "deliberate": ("上会议事", "Deliberate")}
KIND: dict[str, Label] = {"problem": ("问题", "Problem"), "suggestion": ("意见建议", "Suggestion")}
CHANNEL: dict[str, Label] = {
    "miniprogram": ("小程序", "Mini-program"),
    "wechat_group": ("微信群", "WeChat group"),
    "door_visit": ("入户走访", "Door visit"),
    "opinion_box": ("意见箱", "Opinion box"),
    "wish_wall": ("心愿墙", "Wish wall"),
    "hotline_12345": ("12345热线", "12345 hotline"),
    "counter": ("服务窗口", "Service counter"),
    "open311": ("外部平台", "Other platform"),
}
PARTY: dict[str, Label] = {
    "party_org": ("社区党组织", "Party organisation"),
    "owners_committee": ("业主委员会", "Owners' committee"),
    "property_company": ("物业服务企业", "Property company"),
    "resident_rep": ("居民代表", "Resident rep"),
    "partner_unit": ("结对共建单位", "Partner unit"),
}
RESPONSIBLE_PARTY: dict[str, Label] = {**PARTY, "department": ("职能部门", "Department")}
STANCE_BY: dict[str, Label] = {**RESPONSIBLE_PARTY, "concerned": ("当事人", "Party concerned")}
CATEGORY: dict[str, Label] = {
    "parking": ("停车", "Parking"),
    "road": ("道路", "Roads"),
    "lighting": ("照明", "Lighting"),
    "drainage": ("排水", "Drainage"),
    "elevator": ("电梯", "Lifts"),
    "greening": ("绿化", "Greenery"),
    "sanitation": ("环境卫生", "Sanitation"),
    "safety_fire": ("消防与安全", "Fire and safety"),
    "utilities": ("水电气暖", "Utilities"),
    "property_management": ("物业服务", "Property management"),
    "noise": ("噪声", "Noise"),
    "pets": ("宠物", "Pets"),
    "construction": ("违建与施工", "Construction"),
    "neighbor_dispute": ("邻里纠纷", "Neighbour disputes"),
    "elderly_care": ("为老服务", "Elderly care"),
    "children": ("儿童", "Children"),
    "accessibility": ("无障碍", "Accessibility"),
    "security_access": ("门禁安防", "Security and access"),
    "public_facilities": ("公共设施", "Public facilities"),
    "other": ("其他", "Other"),
}
SESSION_KIND: dict[str, Label] = {
    "emergency": ("紧急议事", "Emergency session"),
    "fixed_day": ("固定议事日", "Fixed-day session"),
    "site_inspection": ("现场勘察", "Site inspection"),
}
OUTCOME: dict[str, Label] = {
    "resolved": ("议定办理", "Resolved"),
    "site_inspection": ("现场勘察", "Site inspection"),
    "escalate": ("转办部门", "Escalate"),
    "deferred": ("暂缓", "Deferred"),
    "not_actionable": ("不予受理", "Not actionable"),
    "refer_up": ("提交社区议事会", "Referred up to the community hall"),
}
METHOD: dict[str, Label] = {
    "home_visit": ("上门回访", "Home visit"),
    "questionnaire": ("调查问卷", "Questionnaire"),
    "wechat_vote": ("微信投票", "WeChat vote"),
    "group_forum": ("集中座谈", "Group forum"),
}
RATING: dict[str, Label] = {
    "satisfied": ("满意", "Satisfied"),
    "basically_satisfied": ("基本满意", "Basically satisfied"),
    "unsatisfied": ("不满意", "Unsatisfied"),
}
SOLVED: dict[str, Label] = {
    "solved": ("已解决", "Solved"),
    "partly": ("部分解决", "Partly"),
    "unsolved": ("未解决", "Unsolved"),
}
REVEAL_REASON: dict[str, Label] = dict(v.REVEAL_REASON_LABELS)
STANCE: dict[str, Label] = {
    "support": ("支持", "Support"),
    "oppose": ("反对", "Oppose"),
    "conditional": ("有条件支持", "Conditional"),
}
COMMITMENT_STATE: dict[str, Label] = {
    "open": ("待兑现", "Open"),
    "kept": ("已兑现", "Kept"),
    "broken": ("未兑现", "Broken"),
}

LEDGER_STATE: dict[str, Label] = {
    "registered": ("已登记", "Registered"),
    "assigned": ("已交办", "Assigned"),
    "claimed": ("已认领", "Claimed"),
    "in_progress": ("办理中", "In progress"),
    "escalated": ("已转办", "Escalated"),
    "completed": ("已办结", "Completed"),
    "evaluated": ("已评价", "Evaluated"),
    "reopened": ("已重办", "Reopened"),
    "closed": ("已销号", "Closed"),
    "merged": ("已合并", "Merged"),
}
# Not Literals on the wire but closed sets owned by one service each; the words live here all the same.
# What a report's tracking status reads (intake follows the matter through the other services).
REPORT_STATUS: dict[str, Label] = {
    "received": ("已受理", "Received"),
    "triaged": ("已分级", "Triaged"),
    "scheduled": ("已排期上会", "Scheduled"),
    "deliberating": ("议事中", "Deliberating"),
    **{k: LEDGER_STATE[k] for k in ("assigned", "claimed", "in_progress", "escalated", "completed", "evaluated")},
    "reopened": ("已重办", "Reopened"),
    "closed": ("已销号", "Closed"),
    "merged": ("已合并办理", "Merged with the same problem"),
}
SESSION_STATUS: dict[str, Label] = {
    "scheduled": ("已排期", "Scheduled"),
    "concluded": ("已结束", "Concluded"),
    "adjourned": ("已休会（不足法定方）", "Adjourned (no quorum)"),
    "cancelled": ("已取消", "Cancelled"),
}
QUEUE_STATE: dict[str, Label] = {
    "queued": ("待议", "Queued"),
    "scheduled": ("已上会", "On an agenda"),
    "resolved": ("已议决", "Resolved"),
    "closed": ("不再议", "Closed"),
    "direct": ("直接办理", "Handled directly"),
}
MATTER_STATUS: dict[str, Label] = {
    "open": ("办理中", "Open"),
    "closed": ("已结束", "Closed"),
    "merged": ("已合并", "Merged"),
}
REVISIT_STATUS: dict[str, Label] = {
    "open": ("待回访", "Open"),
    "done": ("已回访", "Done"),
    "overdue": ("回访逾期", "Overdue"),
}
ROUND_OUTCOME: dict[str, Label] = {
    "pending": ("评价收集中", "Collecting"),
    "satisfied": ("群众满意", "Satisfied"),
    "reopen": ("退回整改", "Sent back"),
    "escalate": ("党组织督办", "Supervised by the party"),
}
ROLE: dict[str, Label] = {
    "county_operator": ("县级管理员", "County operator"),
    **PARTY,
    "grid_worker": ("网格员", "Grid worker"),
    "department": ("职能部门", "Department"),
}
# What a person may do to a ledger entry, and the words of its timeline ("办理记录").
LEDGER_ACTION: dict[str, Label] = {
    "assign": ("交办", "Assign"),
    "claim": ("认领", "Claim"),
    "start": ("开始办理", "Start"),
    "progress": ("更新进度", "Update progress"),
    "escalate": ("转办", "Escalate"),
    "return": ("部门退回", "Returned"),
    "complete": ("办结", "Complete"),
    "evaluate_satisfied": ("评价满意", "Rated satisfied"),
    "evaluate_unsatisfied": ("评价不满意", "Rated unsatisfied"),
    "close": ("销号", "Cross off"),
}
TIMELINE_ACTION: dict[str, Label] = {
    **LEDGER_ACTION,
    "register": ("登记", "Registered"),
    "page": ("呼叫", "Paged"),
    "ack": ("确认接警", "Acknowledged"),
    "escalate_alert": ("升级呼叫", "Escalated page"),
    "remind": ("提醒", "Reminder"),
    "note": ("记录", "Note"),
    "regrade": ("重新定级", "Regraded"),
    "overdue": ("超期", "Overdue"),
    "resolve": ("重新议定", "Re-resolved"),
    "commit": ("承诺", "Promise"),
    "commit_add": ("承诺", "Promise"),
    "commit_check": ("承诺核验", "Promise checked"),
    "support_add": ("配合单位", "Supporting unit"),
    "merge": ("合并", "Merged"),
    "publicity": ("公示", "Published"),
    "other": ("办理记录", "Record"),
}
NOTICE_KIND: dict[str, Label] = {
    "red_alert": ("红色警报呼叫", "Red alert page"),
    "first_action_late": ("首次响应超时报告", "Late first response"),
    "supervision": ("督办通知", "Supervision notice"),
    "reminder_warning": ("临期预警", "Deadline warning"),
    "reminder_overdue": ("超期催办", "Overdue reminder"),
    "handover": ("转办通知", "Hand-over notice"),
    "commitment_due": ("承诺到期提醒", "Promise due"),
    "assigned": ("交办通知", "Assignment notice"),
}
NOTICE_STATUS: dict[str, Label] = {
    "pending": ("待发送", "Pending"),
    "sent": ("已发送", "Sent"),
    "failed": ("发送失败", "Failed"),
}
VOTE_KIND: dict[str, Label] = {
    "major": (
        "第六至八项事项（三分之二参与、四分之三同意）",
        "Items 6-8 of art. 278 (two-thirds take part, three-quarters agree)",
    ),
    "ordinary": ("一般事项（三分之二参与、过半数同意）", "Ordinary (two-thirds take part, a majority agrees)"),
}
# Civil Code art. 278 §1: what the owners decide; items 6-8 need three quarters, the others more than half.
VOTE_ITEM: dict[str, Label] = {
    "1": ("（一）制定和修改业主大会议事规则", "(1) Rules of procedure of the owners' assembly"),
    "2": ("（二）制定和修改管理规约", "(2) The management statute"),
    "3": ("（三）选举业主委员会或者更换业主委员会成员", "(3) Electing or replacing the owners' committee"),
    "4": ("（四）选聘和解聘物业服务企业或者其他管理人", "(4) Hiring or dismissing the property company"),
    "5": ("（五）使用建筑物及其附属设施的维修资金", "(5) Using the maintenance fund"),
    "6": ("（六）筹集建筑物及其附属设施的维修资金", "(6) Raising the maintenance fund"),
    "7": ("（七）改建、重建建筑物及其附属设施", "(7) Rebuilding or altering the buildings and facilities"),
    "8": (
        "（八）改变共有部分的用途或者利用共有部分从事经营活动",
        "(8) Changing the use of common parts or running a business in them",
    ),
    "9": ("（九）有关共有和共同管理权利的其他重大事项", "(9) Other major matters of common ownership and management"),
}
VOTE_CHOICE: dict[str, Label] = {"for": ("同意", "For"), "against": ("反对", "Against"), "abstain": ("弃权", "Abstain")}
VOTE_STATUS: dict[str, Label] = {"open": ("表决中", "Open"), "closed": ("已计票", "Closed")}
# 未诉先办 (meeting/foresight_api.py): a proposal's state and why it was proposed; seasons by their Chinese names.
FORESIGHT_STATUS: dict[str, Label] = {
    "proposed": ("待研究", "To decide"),
    "accepted": ("已列为议题", "Made a topic"),
    "dismissed": ("不列入", "Not taken up"),
}
FORESIGHT_KIND: dict[str, Label] = {"recurring": ("反复出现", "Recurring"), "seasonal": ("季节性", "Seasonal")}
SEASON: dict[str, Label] = {"梅雨季": ("梅雨季", "Plum-rain season"), "冬季": ("冬季", "Winter")}
# Which hall deliberates a matter (meeting/tiers.py) and how it was moved (meeting/tier_api.py).
TIER: dict[str, Label] = {"community": ("社区议事厅", "Community hall"), "compound": ("小区议事会", "Compound meeting")}
TIER_ACTION: dict[str, Label] = {
    "set": ("工作人员指定", "Set by staff"),
    "auto": ("恢复按规则", "Back to the rule"),
    "refer_up": ("小区议事会提交社区", "Referred up by the compound meeting"),
}
# Values of list filters that are not one of the sets above.
FILTER: dict[str, Label] = {
    "overdue": ("已超期", "Overdue"),
    "not_overdue": ("未超期", "On time"),
    "needs_review": ("待复核", "Needs review"),
    "all": ("全部", "All"),
    "yes": ("是", "Yes"),
    "no": ("否", "No"),
}
# Live hints: what an event means, in words (the console never shows an event name).
EVENT: dict[str, Label] = {
    "channel.message.v1": ("收到渠道消息", "Channel message received"),
    "report.received.v1": ("收到新报事", "New report"),
    "matter.triaged.v1": ("事项已分级", "Matter graded"),
    "matter.regraded.v1": ("事项已改判", "Matter regraded"),
    "session.scheduled.v1": ("议事会已排期", "Session scheduled"),
    "session.concluded.v1": ("议事会已结束", "Session concluded"),
    "entry.assigned.v1": ("台账已交办", "Entry assigned"),
    "entry.progressed.v1": ("台账有进展", "Entry progressed"),
    "entry.escalated.v1": ("台账已转办", "Entry escalated"),
    "entry.completed.v1": ("台账已办结", "Entry completed"),
    "evaluation.recorded.v1": ("收到评价", "Evaluation recorded"),
    "matter.reopened.v1": ("事项已重办", "Matter reopened"),
    "matter.closed.v1": ("事项已销号", "Matter closed"),
    "matter.merged.v1": ("事项已合并", "Matters merged"),
    "matter.split.v1": ("事项已拆分", "Matter split"),
    "matter.foreseen.v1": ("未诉先办议题", "Proactive topic"),
    "other": ("新动态", "New activity"),
}
# Old names of renamed events (still consumed for one release) read as their new names.
EVENT |= {t: EVENT[e.replaced_by] for t, e in CATALOG.items() if e.replaced_by}
# Field names in problem+json errors (the last named part of the path), in words.
FIELD: dict[str, Label] = {
    "attendance": ("出席人员", "Attendance"),
    "building": ("楼栋", "Building"),
    "category": ("类别", "Category"),
    "comment": ("意见", "Comment"),
    "commitments": ("承诺事项", "Commitments"),
    "community": ("社区", "Community"),
    "compound": ("小区", "Compound"),
    "concerned": ("当事人", "Parties concerned"),
    "item": ("表决事项（民法典第二百七十八条）", "Item of Civil Code art. 278"),
    "contact": ("联系方式", "Contact"),
    "deadline": ("办结时限", "Deadline"),
    "department": ("职能部门", "Department"),
    "departments": ("列席职能部门", "Departments present"),
    "due": ("期限", "Due"),
    "evidence": ("回访凭证", "Evidence"),
    "file": ("文件", "File"),
    "household": ("住户", "Household"),
    "households": ("住户", "Households"),
    "is_reporter": ("原报事人", "Original reporter"),
    "kind": ("类型", "Kind"),
    "label": ("名称", "Label"),
    "lead_party": ("牵头方", "Lead party"),
    "lead_unit": ("责任单位", "Responsible unit"),
    "level": ("等级", "Level"),
    "matter_id": ("事项", "Matter"),
    "measures": ("处置措施", "Measures"),
    "method": ("评价方式", "Method"),
    "month": ("月份", "Month"),
    "name": ("名称", "Name"),
    "note": ("说明", "Note"),
    "notes": ("会议纪要", "Minutes"),
    "outcome": ("议定结果", "Outcome"),
    "owner": ("承诺方", "Promised by"),
    "people": ("人数", "People"),
    "phone": ("电话", "Phone"),
    "photos": ("照片", "Photos"),
    "place": ("地点", "Place"),
    "position": ("位置", "Position"),
    "rating": ("满意度", "Rating"),
    "reason": ("理由", "Reason"),
    "resolutions": ("议题结果", "Resolutions"),
    "result": ("核验结果", "Result"),
    "route": ("办理方式", "Route"),
    "signature": ("签名", "Signature"),
    "solved": ("解决情况", "Solved"),
    "stance": ("意见", "Stance"),
    "starts_at": ("时间", "Time"),
    "text": ("内容", "Text"),
    "title": ("议题", "Title"),
    "unit": ("单位", "Unit"),
    "box": ("意见箱或心愿墙", "Box or wall"),
    "collected_at": ("收取时间", "Collected at"),
    "order_no": ("工单编号", "Order number"),
    "content": ("工单内容", "Order content"),
    "contact_name": ("联系人", "Contact name"),
    "contact_phone": ("联系电话", "Contact phone"),
    "address": ("地址", "Address"),
    "called_at": ("来电时间", "Called at"),
    "campaign_id": ("走访活动", "Campaign"),
    "visitor": ("走访人", "Visitor"),
    "visited_at": ("走访时间", "Visited at"),
    "options": ("表决选项", "Options"),
    "question": ("表决事项", "Question"),
    "choice": ("选择", "Choice"),
    "tier": ("议事层级", "Hall"),
    "task": ("配合任务", "Task"),
    "body": ("提交内容", "Submission"),
}

GROUPS: dict[str, dict[str, Label]] = {
    "level": LEVEL,
    "route": ROUTE,
    "kind": KIND,
    "channel": CHANNEL,
    "party": PARTY,
    "responsible_party": RESPONSIBLE_PARTY,
    "stance_by": STANCE_BY,
    "category": CATEGORY,
    "session_kind": SESSION_KIND,
    "outcome": OUTCOME,
    "method": METHOD,
    "rating": RATING,
    "solved": SOLVED,
    "reveal_reason": REVEAL_REASON,
    "stance": STANCE,
    "commitment_state": COMMITMENT_STATE,
    "ledger_state": LEDGER_STATE,
    "report_status": REPORT_STATUS,
    "session_status": SESSION_STATUS,
    "queue_state": QUEUE_STATE,
    "matter_status": MATTER_STATUS,
    "revisit_status": REVISIT_STATUS,
    "round_outcome": ROUND_OUTCOME,
    "role": ROLE,
    "ledger_action": LEDGER_ACTION,
    "timeline_action": TIMELINE_ACTION,
    "notice_kind": NOTICE_KIND,
    "notice_status": NOTICE_STATUS,
    "vote_kind": VOTE_KIND,
    "vote_item": VOTE_ITEM,
    "vote_choice": VOTE_CHOICE,
    "vote_status": VOTE_STATUS,
    "foresight_status": FORESIGHT_STATUS,
    "foresight_kind": FORESIGHT_KIND,
    "season": SEASON,
    "tier": TIER,
    "tier_action": TIER_ACTION,
    "filter": FILTER,
    "event": EVENT,
    "field": FIELD,
}

# Which groups spell out a Literal of vocabulary.py (checked below, and by tests/unit/test_labels.py).
LITERALS = {
    "channel": v.Channel,
    "kind": v.Kind,
    "level": v.Level,
    "route": v.Route,
    "party": v.Party,
    "responsible_party": v.ResponsibleParty,
    "category": v.Category,
    "session_kind": v.SessionKind,
    "outcome": v.Outcome,
    "method": v.Method,
    "rating": v.Rating,
    "solved": v.Solved,
    "reveal_reason": v.RevealReason,
    "stance": v.Stance,
    "stance_by": v.StanceBy,
    "commitment_state": v.CommitmentState,
    "ledger_state": v.LedgerState,
}
for _group, _literal in LITERALS.items():
    assert set(GROUPS[_group]) == set(get_args(_literal)), f"labels.{_group} does not match its Literal"
for _group, _words in GROUPS.items():
    assert all(zh and en for zh, en in _words.values()), f"labels.{_group} has an empty word"


def zh(group: str, code: str | None, default: str | None = None) -> str:
    """The Chinese word of a code (the default, else a neutral word, when unknown: never the code)."""
    word = GROUPS[group].get(code or "")
    return word[0] if word else (default if default is not None else "—")


def en(group: str, code: str | None, default: str | None = None) -> str:
    """The English word of a code."""
    word = GROUPS[group].get(code or "")
    return word[1] if word else (default if default is not None else "—")


def zh_map(group: str) -> dict[str, str]:
    """Code -> Chinese word for one group (for the services' `*_label` fields)."""
    return {k: w[0] for k, w in GROUPS[group].items()}


_INDEX = re.compile(r"^\d+$")


def field_words(path: str, lang: str = "zh") -> str:
    """A problem+json field path in words: `resolutions.0.measures` -> 处置措施 (第1项)."""
    parts = [p for p in re.split(r"[.\[\]]+", path or "") if p]
    names = [p for p in parts if not _INDEX.match(p)]
    index = next((int(p) for p in reversed(parts) if _INDEX.match(p)), None)
    i = 0 if lang == "zh" else 1
    leaf = next((FIELD[n][i] for n in reversed(names) if n in FIELD), FIELD["body"][i])
    if index is None:
        return leaf
    return f"{leaf}（第{index + 1}项）" if lang == "zh" else f"{leaf} (item {index + 1})"
