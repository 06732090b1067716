"""Reports written in English, read through a glossary: each English phrase replaced in place by Chinese words.

The rules, the hazard reading and the model all learned Chinese; a foreign resident's "strong smell of gas in
stairwell 3, not fixed" would reach them as letters they have never seen. The glossary turns it into
"strong 燃气味 in 楼道 3, 没有 已修好" before either reads it: the order of the words is kept, so a denial or a
"last year" still stands before the danger it qualifies. The report itself is stored and shown as written;
only the grader's view changes. A text without three Latin letters in a row is returned unchanged.
"""

from __future__ import annotations

import functools
import re

# (pattern, Chinese). Order matters: at each position the first pattern that matches wins, so a longer or more
# specific phrase stands before a shorter one it contains.
GLOSSARY: tuple[tuple[str, str], ...] = (
    # what happened to the danger: denied, over, past, prevention, hedged, imminent, ongoing
    (r"no longer|not any ?more", "已经好了"),
    (r"(?:has|have|had|was|were|got|been) (?:fixed|repaired|sorted|resolved|handled)|fixed|repaired|resolved",
     "已修好"),
    (r"put out|extinguished|went out", "灭了"),
    (r"rescued|got (?:him|her|them|everyone) out|was let out|were let out", "救出来"),
    (r"last (?:year|winter|summer)|years ago", "去年"),
    (r"last (?:month|week)|a while ago|used to|in the past", "以前"),
    (r"fire drills?|drills?", "演练"),
    (r"to prevent|prevent(?:ing|ion)?|in case|just in case|avoid", "预防"),
    (r"any (?:moment|minute|second)|about to|going to|could fall|might fall|will fall", "随时"),
    (r"i think|maybe|might|perhaps|seems?|not sure|probably|a bit|a little|slight(?:ly)?", "好像"),
    (r"right now|at the moment|still|keeps?|kept|again", "还在"),
    (r"now", "现在"),
    # emergencies and hazards
    (r"call(?:ed|ing)? (?:an )?ambulance|call(?:ed|ing)? 120", "打了120"),
    (r"call(?:ed|ing)? the fire (?:brigade|department)|call(?:ed|ing)? 119", "打了119"),
    (r"call(?:ed|ing)? the police|call(?:ed|ing)? 110", "打了110"),
    (r"carbon monoxide", "一氧化碳"),
    (r"(?:smell|smells|smelling|smelled|stink|stinks) (?:of|like) gas|gas smell|smell gas|gas odou?r", "燃气味"),
    (r"gas (?:is )?leak(?:s|ing|ed)?|leak(?:s|ing)? gas", "燃气泄漏"),
    (r"gas (?:cylinders?|bottles?|tanks?|canisters?)", "煤气罐"),
    (r"gas (?:pipes?|meters?|stoves?)", "燃气管"),
    (r"fire (?:exits?|escapes?|lanes?|doors?|access)", "消防通道"),
    (r"fire (?:extinguishers?|hydrants?|hoses?)", "灭火器"),
    (r"smoke (?:alarms?|detectors?)", "烟感"),
    (r"fire (?:safety|prevention|risks?|hazards?|inspections?|checks?)", "消防安全"),
    (r"burning smell|smell(?:s|ing)? of burning|scorch(?:ed|ing)?", "焦糊味"),
    (r"electric(?:al|ity)? (?:box(?:es)?|cabinets?|panels?|meters?)|fuse ?box(?:es)?|switchgear|"
     r"distribution box(?:es)?|meter box(?:es)?", "配电箱"),
    (r"(?:electric(?:al)? )?(?:wires?|wiring|cables?)", "电线"),
    (r"on fire|caught fire|catch(?:es|ing)? fire|burning|flames?|blaze|fire", "着火"),
    (r"(?:people |someone |residents? )?smoking|cigarettes?|smokers?", "抽烟"),  # people smoking: no fire
    (r"smoke|smoky", "冒烟"),
    (r"spark(?:s|ing|ed)?|arcing", "冒火花"),
    (r"electric(?:al)? shocks?|got (?:a )?shock(?:ed)?|shocked|electrocut\w*", "触电"),
    (r"live wires?|exposed wires?|bare wires?|dangling (?:wires?|cables?)", "电线裸露"),
    (r"short[- ]circuit\w*", "短路"),
    (r"(?:power|electricity) (?:cut|outage|failure)s?|no (?:power|electricity)|blackout", "停电"),
    (r"water (?:cut|outage)s?|no water|no running water", "停水"),
    (r"no (?:heating|heat)|heating (?:is )?(?:off|broken|not working)", "暖气不热"),
    (r"no hot water", "没有热水"),
    (r"trapped|stuck inside|stuck in(?: the)?|locked in", "被困"),
    (r"stuck", "卡住"),
    (r"inside", "里面"),
    (r"broken|not working|out of order|(?:does not|doesn'?t) work|damaged", "坏了"),
    (r"injur(?:ed|ies|y)|hurt|wounded", "受伤"),
    (r"lifts?|elevators?", "电梯"),
    (r"unconscious|passed out|fainted|collapsed on the floor|lying on the (?:floor|ground)", "倒在地上"),
    (r"not breathing|can'?t breathe|cannot breathe|struggling to breathe|short of breath", "喘不上气"),
    (r"seizures?|fits|fitting|convulsions?", "抽搐"),
    (r"bleeding|blood", "流血"),
    (r"suicid\w*|kill (?:my|him|her|them)sel(?:f|ves)|end (?:my|his|her) life|end it(?: all)?|jump off|"
     r"(?:don'?t|doesn'?t) want to live|self[- ]harm\w*|overdose\w*", "不想活"),
    (r"heart attack|chest pains?|stroke", "心脏病发作"),
    (r"poison(?:ed|ing)?", "中毒"),
    (r"fever", "发烧"),
    (r"knife|knives|weapon", "拿刀"),
    (r"fight(?:ing)?|attack(?:ed|ing)?|beat(?:ing)? (?:up|him|her)|hit(?:ting)? (?:him|her)", "打架"),
    (r"threat(?:en|ened|ening|s)?", "威胁"),
    (r"(?:has not|hasn'?t|haven'?t|not) (?:been )?seen|not answering|no answer|(?:does not|doesn'?t|did not|"
     r"didn'?t|won'?t) (?:answer|open|respond)|can'?t reach|can'?t contact|out of contact", "联系不上"),
    (r"(?:child|kid|boy|girl|son|daughter|old man|old woman|grandm\w*|grandp\w*|father|mother|dad|mum|mom) "
     r"(?:is |has gone |went |has been )?missing|lost (?:child|kid|boy|girl|old man|old woman)", "走失"),
    (r"missing|gone|stolen", "不见了"),
    (r"dementia|alzheimer'?s", "失智"),
    (r"manholes?(?: covers?)?|drain covers?", "井盖"),
    (r"open holes?|uncovered holes?|sinkholes?|potholes?|holes?|pits?", "坑"),
    (r"collaps(?:e|ed|es|ing)|caved? in|cave-in", "坍塌"),
    (r"landslides?|mudslides?|rockfall", "滑坡"),
    (r"cracks?|cracked|cracking", "裂缝"),
    (r"falling (?:off|down)|fell (?:off|down)|fall(?:s|en)? (?:off|down)|dropp(?:ed|ing) from", "掉下来"),
    (r"loose|wobbly|shaking|swaying", "松动"),
    (r"hanging", "悬着"),
    (r"tiles?", "瓷砖"),
    (r"air[- ]?con(?:ditioner|ditioning)? units?|ac units?|air[- ]?con(?:ditioner)?s?", "空调外机"),
    (r"burst (?:pipes?|water mains?)|pipes? burst", "爆管"),
    (r"flood(?:s|ed|ing)?|water (?:pouring|coming|flowing) (?:in|into)|under water|waterlogg\w*", "进水"),
    (r"sewage|sewer|septic", "污水"),
    (r"leak(?:s|ing|ed|y)?|dripping|seep(?:s|ing)?", "漏水"),
    (r"drains?|gutters?", "下水道"),
    (r"block(?:ed|s|ing)?|clogged|overflow(?:s|ing|ed)?", "堵塞"),
    (r"chemicals?|petrol|gasoline|diesel|fuel|flammable", "危险品"),
    (r"(?:e-?bikes?|electric (?:bikes?|scooters?)|scooters?) (?:charg\w*)|charg\w* (?:e-?bikes?|scooters?)",
     "电动车充电"),
    (r"e-?bikes?|electric (?:bikes?|scooters?)|scooters?|batter(?:y|ies)", "电动车"),
    (r"fallen trees?|trees? (?:fell|fallen|came down|down)", "大树倒了"),
    (r"branch(?:es)?", "树枝"),
    (r"trees?", "树"),
    # who is exposed, where, how long
    (r"old (?:man|woman|lady|people|person|couple)|elderly|grandm\w*|grandp\w*|granny|senior(?: citizen)?s?",
     "老人"),
    (r"(?:lives?|living) alone|on (?:his|her) own", "独居"),
    (r"bab(?:y|ies)|toddlers?|infants?", "婴儿"),
    (r"kids?|child(?:ren)?|students?|pupils?", "孩子"),
    (r"pregnant", "孕妇"),
    (r"wheelchairs?", "轮椅"),
    (r"disabled|disabilit(?:y|ies)", "残疾人"),
    (r"kindergarten|nursery|school", "幼儿园"),
    (r"playground|play area", "游乐场"),
    (r"pedestrians?|passers-?by|people walking|walkway|footpath|pavement|sidewalk", "行人"),
    (r"whole building|entire building|every (?:household|flat|apartment)|all (?:the )?residents|many residents",
     "整栋楼"),
    (r"heavy rain|rainstorm|storm|typhoon|thunderstorm", "暴雨"),
    (r"heat ?wave|extreme heat|very hot", "高温"),
    (r"freezing|cold snap|snow|ice|icy", "寒潮"),
    (r"at night|midnight|late at night|in the dark", "半夜"),
    # places and things (what must be fixed)
    (r"car ?parks?|parking (?:lots?|spaces?|garage)|underground garage|garages?", "车库"),
    (r"park(?:ing|ed)|cars?|vehicles?", "停车"),
    (r"street ?lights?|lamp ?posts?|lights? (?:are |is )?(?:out|broken)|lights?|lamps?", "路灯"),
    (r"roads?|streets?|paths?|lanes?", "道路"),
    (r"stair ?(?:case|well)s?|stairs?|corridors?|hallways?|landings?", "楼道"),
    (r"roofs?|rooftops?", "楼顶"),
    (r"ceilings?", "天花板"),
    (r"walls?", "墙"),
    (r"windows?", "窗户"),
    (r"balcon(?:y|ies)", "阳台"),
    (r"basements?", "地下室"),
    (r"garbage|rubbish|trash|litter|waste|bins?", "垃圾"),
    (r"stinks?|smells?|smelly|odou?rs?", "臭味"),
    (r"rats?|mice|cockroaches|pests?|mosquito(?:e)?s", "老鼠"),
    (r"noise|noisy|loud|music|karaoke|barking", "噪音"),
    (r"renovation|construction|drilling|building work", "装修"),
    (r"dogs?|puppy|pupp(?:y|ies)", "狗"),
    (r"cats?", "猫"),
    (r"property (?:management|manager|company|office)|management (?:company|office)|building management", "物业"),
    (r"(?:management|property|service) fees?", "物业费"),
    (r"security guards?|guards?|security", "保安"),
    (r"access cards?|key ?cards?|gates?|entrance doors?|door locks?", "门禁"),
    (r"strangers?|intruders?|thie(?:f|ves)|theft|burglar\w*|broken into|break-?ins?", "被盗"),
    (r"neighbou?rs?|upstairs|downstairs|next door", "邻居"),
    (r"grass|lawns?|green spaces?|gardens?|bushes|plants?", "绿化"),
    (r"benches|bench|seats?|fitness equipment|gym equipment", "健身器材"),
    (r"ramps?|accessib\w*|barrier-?free", "无障碍坡道"),
    (r"canteen|meals? for (?:the )?elderly|elderly care|care home", "老年食堂"),
    (r"water pressure|tap water|water supply|pipes?", "水管"),
    (r"residents'? committee|community office|neighbou?rhood committee", "社区"),
    # the report's intent
    (r"suggest(?:ion)?s?|propos(?:e|al)|would be (?:nice|great|good)|could (?:we|you) (?:add|install|set up)",
     "建议"),
    (r"wish|hope|would like", "希望"),
    (r"please|pls|plz", "请"),
    (r"urgent(?:ly)?|emergency|asap|immediately", "紧急"),
    (r"help", "帮忙"),
    # a denial last: every phrase that begins with one ("no water", "not answering") is matched first
    (r"isn'?t|aren'?t|wasn'?t|weren'?t|don'?t|doesn'?t|didn'?t|haven'?t|hasn'?t|can'?t|cannot|no one|nobody|"
     r"nothing|not|no|never|without", "没有"),
)  # fmt: skip

_NUMBERS = {"one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
            "eight": "8", "nine": "9", "ten": "10", "a few": "几", "several": "几", "many": "好多"}  # fmt: skip
_UNITS = {"hour": "小时", "day": "天", "night": "晚", "week": "周", "month": "月", "year": "年"}
_DURATION = re.compile(
    r"\b(\d+|" + "|".join(_NUMBERS) + r")\s+(" + "|".join(_UNITS) + r")s?\b",
    re.IGNORECASE,
)
_LATIN = re.compile(r"[A-Za-z]{3,}")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_PHRASES = re.compile("|".join(f"(\\b(?:{p})\\b)" for p, _ in GLOSSARY), re.IGNORECASE)


def foreign(text: str) -> bool:
    """Whether a text is mostly in English (more Latin letters than Chinese characters): the model never learned it."""
    return (
        bool(text) and bool(_LATIN.search(text)) and len(_CJK.findall(text)) < sum(len(w) for w in _WORD.findall(text))
    )


def _duration(m: re.Match) -> str:
    n = m.group(1).lower()
    return f"{_NUMBERS.get(n, n)}{_UNITS[m.group(2).lower()]}"


def _phrase(m: re.Match) -> str:
    return GLOSSARY[(m.lastindex or 1) - 1][1]


@functools.lru_cache(maxsize=4096)
def to_chinese(text: str) -> str:
    """The grader's view of a text with English in it: every known phrase replaced by Chinese words, in place.

    A text mostly in English becomes Chinese-like: words the glossary does not know are dropped and so are the
    spaces (the readers take a space for a comma, which would cut "fire … put out" into separate clauses).
    A Chinese text with a few English words ("wy 3栋楼道灯 pls") only has those words replaced.
    """
    if not text or not _LATIN.search(text):
        return text
    glossed = _PHRASES.sub(_phrase, _DURATION.sub(_duration, text))
    if not foreign(text):
        return glossed
    return re.sub(r"\s+", "", _WORD.sub("", glossed))
