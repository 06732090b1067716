"""Scrubbing personal data out of free text before it is published or put on the wire.

What goes: phone numbers (mobile in any usual writing: +86/0086/86 prefix, spaces, dots, dashes, full-width
digits, invisible characters, Chinese numerals 幺三九…; landlines with area code, grouped or not; 尾号 tails),
ID numbers (18 characters, spaced or dashed; 身份证后四位 tails), long digit runs (bank cards; a work order's
编号 stays), e-mail addresses, chat handles (微信/vx/wxid_…, QQ/扣扣), licence plates (赣A·12345), rooms and
household references (3栋2单元502, 502室, 12-2-301, 3#1101, 11楼01, 住在1101, 一一零一, hh_…), and names
(scrub_names.py: where the sentence says a person is meant — 为/给/帮… + name, 住户/业主/网格员/来电人 + name,
name + 阿姨/老人, 李姐, 老刘, 刘姓 — and English or pinyin names after Mr./contact/my name is) and masked leftovers
(刘**, 139****5714). Nothing is masked: each goes to a neutral word, because a masked value (王**, 138****1234)
still points at a person among neighbours.

Digits, Latin letters and the separators a number is written with are NFKC-folded first (full-width ３,
circled ①, the ideographic space, zero-width characters removed); CJK punctuation stays as written.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from services.runtime.scrub_names import (  # noqa: F401  (the surname lists are part of this module's face)
    COMPOUND_SURNAMES,
    PERSON,
    PHONE,
    SINGLE_SURNAMES,
    STOP_WORDS,
    scrub_latin_names,
    scrub_names,
)

ID_NUMBER = "[证件号]"
NUMBER = "[号码]"
EMAIL = "[邮箱]"
ROOM = "某室"
HOUSEHOLD = "某户"

# --- folding -------------------------------------------------------------------------------------

# Anything outside ASCII and the CJK ideographs may need folding; most text has none, so the scan is the cost.
_FOLD_CANDIDATE = re.compile(r"[^\x00-\x7f\u4e00-\u9fff\u3001-\u303f\uff08\uff09\uff0c\uff1a\uff1b\uff01\uff1f]")
_ASCII_KEPT = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+-.#*/_@~")


@functools.lru_cache(maxsize=4096)
def _fold_char(c: str) -> str:
    cat = unicodedata.category(c)
    if cat == "Cf":  # zero-width space and joiners, BOM, soft hyphen: they only split a number to hide it
        return ""
    if cat == "Zs":
        return " "
    if cat == "Nd":
        return str(unicodedata.decimal(c))
    n = unicodedata.normalize("NFKC", c)
    return n if len(n) == 1 and n in _ASCII_KEPT else c


def fold(text: str) -> str:
    """NFKC-fold digits, Latin letters and number separators; drop invisible format characters."""
    if _FOLD_CANDIDATE.search(text) is None:
        return text
    return _FOLD_CANDIDATE.sub(lambda m: _fold_char(m.group()), text)


# --- numbers -------------------------------------------------------------------------------------

_DIGIT = re.compile("[0-9]")
_DASH = "\\-‐‑‒–—―−"
# Between two digits of one number: nothing, a space or two, or one separator with spaces around it.
_S = rf"(?:[ \t]{{0,2}}[{_DASH}.·•_][ \t]{{0,2}}|[ \t]{{1,2}})?"
# An ID number is written in groups with spaces or dashes only.
_T = rf"(?:[ \t]{{0,2}}[{_DASH}][ \t]{{0,2}}|[ \t]{{1,2}})?"

# Area (6 digits), birth date (yyyymmdd), sequence (3) and check (digit or X): the structure keeps two
# neighbouring numbers from being read as one.
# Patterns start with a plain character (a lookbehind comes second) so the engine skips ahead to candidates.
_ID_RE = re.compile(
    rf"[1-9](?<![0-9A-Za-z][1-9])(?:{_T}[0-9]){{5}}{_T}(?:1{_T}[89]|2{_T}0)(?:{_T}[0-9]){{2}}{_T}[01]{_T}[0-9]{_T}[0-3]"
    rf"{_T}[0-9](?:{_T}[0-9]){{3}}{_T}[0-9Xx](?![0-9A-Za-z])"
)
_TAIL = rf"[3-9](?:{_S}[0-9]){{9}}(?![0-9])"
_CC = rf"[ \t{_DASH}]*"
_MOBILE_RE = re.compile(
    rf"\+[ \t]*86{_CC}1{_TAIL}|0(?<![0-9]0)0[ \t]*86{_CC}1{_TAIL}|\(\+?86\){_CC}1{_TAIL}|（\+?86）{_CC}1{_TAIL}"
    rf"|8(?<![0-9+]8)6{_CC}1{_TAIL}|1(?<![0-9+]1){_TAIL}"
)
_LANDLINE_RE = re.compile(
    rf"(?:\(0[1-9][0-9]{{1,2}}\)|（0[1-9][0-9]{{1,2}}）|0(?<![0-9]0)[1-9][0-9]{{1,2}})"
    rf"[ \t]*[{_DASH}]?[ \t]*[1-9](?:{_S}[0-9]){{6,7}}"
    rf"(?:[ \t]*(?:转|[{_DASH}]|ext\.?|x)[ \t]*[0-9]{{1,5}})?(?![0-9])"
)
_LONG_RE = re.compile(r"[0-9](?<![0-9A-Za-z][0-9])[0-9]{11,18}(?![0-9A-Za-z])")
# A work order's or a file's number is no person's: 工单编号202654134653 stays.
_SERIAL_BEFORE = re.compile(r"(?:编号|单号|工单|订单号|流水号|文号|批次)[ \t]*[:：]?[ \t]*$")
_MASKED_RE = re.compile(
    r"[0-9](?<![0-9*][0-9])[0-9]{0,5}[*×xX]{3,12}[0-9]{2,6}(?![0-9*])|\*(?<![0-9*]\*)[*×]{2,11}[0-9]{3,4}(?![0-9*])"
)
_MASK_CHARS = re.compile(r"[*×]|xxx|XXX")
_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# A number after a word that says it is one (电话：8123 456, 微信号 wx_abc123) goes whatever its shape.
_CONTACT_RE = re.compile(
    r"((?:联系电话|联系方式|电话|手机号|手机|座机|固话|号码|tel|Tel|TEL|phone|Phone)(?:号码)?[ \t]*[:：是为]?[ \t]*)"
    rf"[+(（]?[0-9][0-9 \t{_DASH}.()（）]{{5,}}[0-9]"
)
_CONTACT_WORD = re.compile(r"电话|手机|座机|固话|号码|联系方式|tel|Tel|TEL|phone|Phone")
# Chat handles: WeChat as people write it (微信, 威信, V信, vx, wx), QQ (扣扣, 企鹅号).
_HANDLE_WORD = re.compile(r"微信|威信|薇信|[Vv]信|[VvWw][Xx]|[Qq]{2}|扣扣|企鹅")
_HANDLE_RE = re.compile(
    r"((?<![A-Za-z0-9_])(?:微信|威信|薇信|[Vv]信|扣扣|企鹅|(?:[Vv][Xx]|[Ww][Xx]|[Qq]{2})(?![A-Za-z]))(?:号码|号)?"
    r"[ \t]*[:：是为]?[ \t]*)"
    r"[A-Za-z0-9][-_A-Za-z0-9]{4,19}"
)
_WXID_RE = re.compile(r"wxid_[-_A-Za-z0-9]{4,}")
# A part of a number is still the person's: 身份证后四位123X, 手机尾号5714.
_ID_TAIL_RE = re.compile(
    r"((?:身份证|证件)(?:号码|号)?的?(?:后|尾号|末)(?:[四六46]位)?(?:是|为)?[ \t]*[:：]?[ \t]*)[0-9]{3,6}[Xx]?(?![0-9])"
)
_PHONE_TAIL_RE = re.compile(r"((?:尾号|后四位|末四位)(?:是|为)?[ \t]*[:：]?[ \t]*)[0-9]{4}(?![0-9])")
# Digits written as Chinese numerals (幺三九五五五五六六七幺): seven or more in a row is no ordinary word.
_CN_DIGIT_VALUE = dict(zip("零一二三四五六七八九〇幺两洞", "01234567890120", strict=True))
_CN_DIGITS = "".join(_CN_DIGIT_VALUE)
_CN_RUN_RE = re.compile(rf"[{_CN_DIGITS}](?:[ \t{_DASH}.·]?[{_CN_DIGITS}]){{6,}}")
# Licence plates (赣A·12345, 京N-A1B23, 粤B D12345): a province, a letter, five or six letters and digits.
_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE_RE = re.compile(rf"[{_PROVINCES}][A-HJ-NP-Z][ \t·•.\-]{{0,2}}[A-HJ-NP-Z0-9]{{5,6}}(?![A-Za-z0-9])")
PLATE = "[车牌]"


def _masked(m: re.Match) -> str:
    return PHONE if len(m.group()) <= 13 else ID_NUMBER


def _long(m: re.Match) -> str:
    return m.group() if _SERIAL_BEFORE.search(m.string, max(0, m.start() - 8), m.start()) else NUMBER


def _cn_run(m: re.Match) -> str:
    digits = "".join(_CN_DIGIT_VALUE.get(c, "") for c in m.group())
    return PHONE if len(digits) == 11 and digits[0] == "1" and digits[1] in "3456789" else NUMBER


def _plate(m: re.Match) -> str:
    return PLATE if _DIGIT.search(m.group(), 2) else m.group()


def scrub_numbers(text: str) -> str:
    """Phones, ID numbers, long numbers, e-mail, chat handles and licence plates out (text already folded)."""
    if _CN_RUN_RE.search(text):
        text = _CN_RUN_RE.sub(_cn_run, text)
    if "wxid_" in text:
        text = _WXID_RE.sub(NUMBER, text)
    if _DIGIT.search(text) is None and "@" not in text:
        return text
    if "@" in text:
        text = _EMAIL_RE.sub(EMAIL, text)
    text = _ID_RE.sub(ID_NUMBER, text)
    text = _MOBILE_RE.sub(PHONE, text)
    text = _LANDLINE_RE.sub(PHONE, text)
    if _MASK_CHARS.search(text):
        text = _MASKED_RE.sub(_masked, text)
    text = _LONG_RE.sub(_long, text)
    if _CONTACT_WORD.search(text):
        text = _CONTACT_RE.sub(lambda m: m.group(1) + PHONE, text)
    if _HANDLE_WORD.search(text):
        text = _HANDLE_RE.sub(lambda m: m.group(1) + NUMBER, text)
    if "尾号" in text or "位" in text:
        text = _ID_TAIL_RE.sub(lambda m: m.group(1) + ID_NUMBER, text)
        text = _PHONE_TAIL_RE.sub(lambda m: m.group(1) + PHONE, text)
    return _PLATE_RE.sub(_plate, text)


# --- rooms and households ------------------------------------------------------------------------

_TRIPLE_RE = re.compile(
    rf"([0-9](?<![0-9][0-9])[0-9]{{0,2}})[ \t]*[{_DASH}#－][ \t]*[0-9]{{1,2}}"
    rf"[ \t]*[{_DASH}－][ \t]*[0-9]{{3,4}}(?:室|房|号)?(?![0-9])"
)
_ROOM_RE = re.compile(
    rf"(单元|栋|幢|座|号楼|楼)[ \t]*(?:[0-9]{{1,2}}[ \t]*[{_DASH}－][ \t]*)?[0-9]{{3,4}}(?:室|房|号)?(?![0-9])"
)
_ROOM_ALONE_RE = re.compile(r"[0-9](?<![0-9][0-9])[0-9]{2,3}[ \t]*(?:室|房间|房)")
_ROOM_WORD_RE = re.compile(r"((?:房号|门牌号|门牌|室号|房间号)[ \t]*[:：是为]?[ \t]*)[0-9A-Za-z][-0-9A-Za-z]{0,9}")
_REF_RE = re.compile(r"(?<![A-Za-z0-9_])(hh|r)_[0-9a-f]{6,}(?![A-Za-z0-9_])")
# Floor and door: 11楼01, 11层02室, 6楼3号房 (a floor alone, 10楼, stays).
_FLOOR_DOOR_RE = re.compile(
    r"[0-9](?<![0-9][0-9])[0-9]?[ \t]*[楼层][ \t]*"
    r"(?:0[1-9](?:室|号房|号|房|户)?|[1-9][0-9]?[ \t]*(?:室|号房|房|户))(?![0-9])"
)
# 3#1101 (building # room).
_HASH_RE = re.compile(r"([0-9](?<![0-9][0-9])[0-9]{0,2})[ \t]*#[ \t]*[0-9]{3,4}(?:室|号|房)?(?![0-9])")
# A bare door number where the sentence says someone lives there: 住在1101, 我家是1101, 住户1101, 楼上1201.
_LIVES_RE = re.compile(
    r"((?:家住|住在|住|我家是|我家|家是|住户|业主|户主|租户|房东|邻居|楼上|楼下|对门|隔壁)[ \t]*[:：是]?[ \t]*)"
    r"[0-9](?<![0-9][0-9])[0-9]{2,3}(?:室|号|房)?(?![0-9户多人名余个元家位年月日次层米平㎡块号楼栋幢万千百]|天(?!天))"
)
_LIVES_WORD = re.compile(r"住|家|业主|户主|房东|邻居|楼上|楼下|对门|隔壁")
# Rooms in Chinese numerals: 三栋二单元一一零一, 十一楼零一.
_CN_ROOM_RE = re.compile(
    rf"(单元|栋|幢|座|号楼)[{_CN_DIGITS}]{{3,4}}(?:室|号|房)?|[一二三四五六七八九十]{{1,3}}[楼层][零〇][一二三四五六七八九]"
)


def scrub_places(text: str) -> str:
    """Rooms and household references out; compounds and buildings stay (what a notice board may show)."""
    if "_" in text:
        text = _REF_RE.sub(lambda m: HOUSEHOLD if m.group(1) == "hh" else PERSON, text)
    text = _CN_ROOM_RE.sub(lambda m: (m.group(1) or "") + ROOM, text)
    if _DIGIT.search(text) is None:
        return text
    text = _ROOM_WORD_RE.sub(lambda m: m.group(1) + ROOM, text)
    text = _TRIPLE_RE.sub(lambda m: f"{int(m.group(1))}号楼{ROOM}", text)
    if "#" in text:
        text = _HASH_RE.sub(lambda m: f"{int(m.group(1))}号楼{ROOM}", text)
    text = _ROOM_RE.sub(lambda m: m.group(1) + ROOM, text)
    text = _FLOOR_DOOR_RE.sub(ROOM, text)
    text = _ROOM_ALONE_RE.sub(ROOM, text)
    if _LIVES_WORD.search(text):
        text = _LIVES_RE.sub(lambda m: m.group(1) + ROOM, text)
    return text


def scrub(text: str) -> str:
    """All of the above, in the order that keeps each pass from seeing the others' leftovers."""
    if not text:
        return text
    return scrub_latin_names(scrub_names(scrub_places(scrub_numbers(fold(text)))))
