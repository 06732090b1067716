"""Scrubbing personal data out of free text before it is published or put on the wire.

What goes: phone numbers (mobile in any usual writing: +86/0086/86 prefix, spaces, dots, dashes, full-width
digits, invisible characters; landlines with area code), ID numbers (18 characters, spaced or dashed), long
digit runs (bank cards), e-mail addresses, rooms and household references (3栋2单元502, 502室, 12-2-301,
hh_…), personal names where the sentence says a person is meant (为/给/帮… + name, 住户/我是 + name, name + 阿姨,
name + 反映) and masked leftovers (刘**, 139****5714). Nothing is masked: each goes to a neutral word, because a
masked value (王**, 138****1234) still points at a person among neighbours.

Digits, Latin letters and the separators a number is written with are NFKC-folded first (full-width ３,
circled ①, the ideographic space, zero-width characters removed); CJK punctuation stays as written.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from services.runtime.directory import DirectoryError, load_directory

PHONE = "[电话]"
ID_NUMBER = "[证件号]"
NUMBER = "[号码]"
EMAIL = "[邮箱]"
PERSON = "居民"
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
    rf"[ \t]*[{_DASH}]?[ \t]*[1-9][0-9]{{6,7}}"
    rf"(?:[ \t]*(?:转|[{_DASH}]|ext\.?|x)[ \t]*[0-9]{{1,5}})?(?![0-9])"
)
_LONG_RE = re.compile(r"[0-9](?<![0-9A-Za-z][0-9])[0-9]{11,18}(?![0-9A-Za-z])")
_MASKED_RE = re.compile(
    r"[0-9](?<![0-9*][0-9])[0-9]{0,5}[*×xX]{3,12}[0-9]{2,6}(?![0-9*])|\*(?<![0-9*]\*)[*×]{2,11}[0-9]{3,4}(?![0-9*])"
)
_MASK_CHARS = re.compile(r"[*×]|xxx|XXX")
_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# A number after a word that says it is one (电话：8123 456, 微信号 wx_abc123) goes whatever its shape.
_CONTACT_RE = re.compile(
    r"((?:联系电话|联系方式|电话|手机号|手机|座机|号码|tel|Tel|TEL|phone|Phone)(?:号码)?[ \t]*[:：是为]?[ \t]*)"
    rf"[+(（]?[0-9][0-9 \t{_DASH}.()（）]{{5,}}[0-9]"
)
_CONTACT_WORD = re.compile(r"电话|手机|座机|号码|联系方式|tel|Tel|TEL|phone|Phone")
_HANDLE_RE = re.compile(r"((?:微信|微信号|QQ|qq|QQ号)[ \t]*[:：是为]?[ \t]*)[A-Za-z0-9][-_A-Za-z0-9]{4,19}")


def _masked(m: re.Match) -> str:
    return PHONE if len(m.group()) <= 13 else ID_NUMBER


def scrub_numbers(text: str) -> str:
    """Phones, ID numbers, long numbers, e-mail and chat handles out (text already folded)."""
    if _DIGIT.search(text) is None and "@" not in text:
        return text
    if "@" in text:
        text = _EMAIL_RE.sub(EMAIL, text)
    text = _ID_RE.sub(ID_NUMBER, text)
    text = _MOBILE_RE.sub(PHONE, text)
    text = _LANDLINE_RE.sub(PHONE, text)
    if _MASK_CHARS.search(text):
        text = _MASKED_RE.sub(_masked, text)
    text = _LONG_RE.sub(NUMBER, text)
    if _CONTACT_WORD.search(text):
        text = _CONTACT_RE.sub(lambda m: m.group(1) + PHONE, text)
    if "微信" in text or "QQ" in text or "qq" in text:
        text = _HANDLE_RE.sub(lambda m: m.group(1) + NUMBER, text)
    return text


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


def scrub_places(text: str) -> str:
    """Rooms and household references out; compounds and buildings stay (what a notice board may show)."""
    if "_" in text:
        text = _REF_RE.sub(lambda m: HOUSEHOLD if m.group(1) == "hh" else PERSON, text)
    if _DIGIT.search(text) is None:
        return text
    text = _TRIPLE_RE.sub(lambda m: f"{int(m.group(1))}号楼{ROOM}", text)
    text = _ROOM_RE.sub(lambda m: m.group(1) + ROOM, text)
    text = _ROOM_ALONE_RE.sub(ROOM, text)
    return _ROOM_WORD_RE.sub(lambda m: m.group(1) + ROOM, text)


# --- names ---------------------------------------------------------------------------------------

# The common Chinese surnames (百家姓 by frequency). Characters that mostly start ordinary words (和, 向, 全, 车,
# 房, 路, 时 …) are left out: a name after them is rare, a word after them is everywhere.
SINGLE_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔汤邢"
    "施洪葛殷庞樊兰颜倪温季俞章鲁伍申尤毕聂焦柳骆岳梅庄辛祝涂谷祁舒耿牟卜詹苗凌费纪靳盛欧甄项裴鲍霍翁"
    "柏柯阮桂闵冉辜饶刁瞿戚丘滕晋苑邬臧苟褚廉娄奚穆郎邸冀谈姬屠郜晏栾郁喻揭窦敖鄢卓仇艾蓝巩虞卞竺冼匡"
    "佟栗巫鞠荆岑胥蔺"
)
COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官", "慕容", "东方", "皇甫", "令狐", "公孙", "夏侯", "尉迟",
                     "长孙", "宇文", "司徒", "端木", "独孤", "南宫", "西门", "轩辕", "呼延")  # fmt: skip
_SURNAME = "(?:" + "|".join(COMPOUND_SURNAMES) + f"|[{SINGLE_SURNAMES}])"
# Characters a given name practically never holds: particles, measure words and the words of places.
_NOT_GIVEN = (
    "的之家说在是和与了也都们给对向从到把被让将就还又再很最更个位名些这那"
    "其各每该此等及或而但并且如若因所以于楼栋单元室层区院门口路街道户号"
)
_GIVEN = rf"[\u4e00-\u9fff](?<![{_NOT_GIVEN}])"
# Ordinary words that begin with a surname character; a match starting with one of them is no name.
STOP_WORDS = frozenset(
    """
    周边 周围 周末 周期 周一 周二 周三 周四 周五 周六 周日 周转 周到 方便 方面 方案 方式 方向 方法 方位
    高层 高龄 高空 高度 高温 高压 高峰 高档 高处 高速 马路 马上 马桶 金额 金属 黄色 白色 白天 白班 石头
    石材 石板 江边 林地 林木 程序 程度 万元 万一 于是 余下 余额 田地 孔洞 龙头 雷雨 雷电 夏天 夏季 史上
    段落 武警 毛病 毛坯 严重 严格 钱款 戴上 莫名 汤水 邢台 历史 安全 杨树 柳树 梅雨 温度 温馨 季度 章程
    鲁莽 毕业 焦虑 盛夏 欧式 项目 苗木 凌晨 费用 纪律 蓝色 艾草 卓越 庄稼 谷物 祝福 涂料 舒适 牟利 詹姆
    柯式 冉冉 郁闷 苑区 巩固 卞和 匡正 栗子 鞠躬 荆棘 胥吏 蔺草 田间 曹操 彭湃 曾经 董事 袁世 潘家 蒋介
    蔡家 杜绝 叶子 叶片 苏醒 魏晋 吕梁 丁字 任何 任务 任意 沈阳 姚明 卢沟 姜汁 崔嵬 钟表 钟点 钟头 谭家
    陆续 陆地 汪洋 范围 范例 贾家 韦伯 付款 付费 付出 邹城 孟夏 熊猫 秦岭 邱陵 江水 尹人 薛家 闫家 段时
    侯车 龙门 陶瓷 黎明 贺卡 顾客 顾及 顾问 毛巾 郝家 龚家 邵阳 钱包 覃家 武汉 莫过 孔子 汤圆 施工 施肥
    洪水 洪涝 葛根 殷切 庞大 樊笼 兰花 颜色 倪家 伍佰 申请 申报 尤其 聂家 柳絮 骆驼 岳父 岳母 梅花 辛苦
    祝贺 谷雨 祁连 耿直 卜卦 苗头 凌乱 纪念 靳家 盛开 甄别 项链 裴家 鲍鱼 霍乱 翁婿 柏油 柯南 阮囊 桂花
    闵行 辜负 饶恕 刁难 瞿塘 戚家 丘陵 滕州 晋升 邬家 臧否 苟且 褚家 廉价 廉租 娄底 奚落 穆斯 郎中 邸报
    冀中 谈话 谈判 姬家 屠宰 郜家 晏家 栾树 喻体 揭开 窦家 敖包 鄢陵 仇恨 艾滋 蓝天 巫山 岑寂 王府 李子
    张贴 张开 刘海 陈旧 陈列 杨柳 黄昏 黄金 黄土 赵家 吴家 周家 徐徐 孙子 马达 朱红 胡同 胡乱 郭外 何时
    何处 何必 何况 何不 何人 何种 何在 何等 高兴 林荫 罗盘 郑重 梁柱 谢谢 谢绝 宋体 唐朝 许多 许可 许久
    韩国 冯家 邓家 于心 石灰 贾人 夏令 方才 方能 方可 金色 金融 白蚁 白灰 石子 江湖 段子 雷同 侯门 史料
    陶土 黎民 贺词 毛毯 邵家 万能 万分 严禁 严防 武器 戴帽 孔隙 汤匙 林场 罗列 常年 梁上 肖像 田径 董家
    曹家 彭家 曾孙 鲁班 葛家 焦点 焦急 郎才
    """.split()
)
# Words that follow a name in a note: punctuation, kin and possession, and the verbs of handling a matter.
_FOLLOW = (
    r"(?=[（(，,。、；;：:！!？?\s\"“”'‘’【\[0-9]|$|家|的|等|一家|夫妇|本人|同志|及其|反映|说|称|表示|来电|致电|投诉|报事|"
    r"疏通|维修|修|更换|换|安装|装|清理|清|处理|解决|协调|联系|沟通|送|上门|检查|查看|搬|打扫|核实|回访|解释|补|道歉|签|"
    r"办理|办|申请|登记|落实|提供|安排|调解|讲解|答复|回复|整改|恢复|确认|做|服务|测|量|拍|取|交|退|赔|修好|换好)"
)
_TITLES = (
    "师傅|阿姨|大爷|大妈|大娘|奶奶|爷爷|叔叔|大叔|大姐|大哥|老师|先生|女士|小姐|老板|阿婆|婆婆|老太|老伯|同志|"
    "书记|主任|经理|主管|组长|楼长|网格员|医生|律师"
)
_MASK = r"(?:[*＊×]{1,3}|某某|某|XX|xx|X|x)(?![A-Za-z])"
_ROLE_NOUNS = "住户|业主|居民|户主|市民|村民|租户|群众|家属|老人|报事人|反映人|来电人|当事人"
_INTRO = "我是|我叫|本人是|本人|联系人|姓名|名叫|叫做|某室|某户"
_AFTER = "为|给|帮|替|让|向|和|跟|与|对|同|请|找|联系|通知|回访|看望|走访|慰问|陪同|告知|约"

_N = rf"(?P<name>{_SURNAME}(?:{_MASK}|(?:{_GIVEN}){{1,2}}?{_FOLLOW}))"
_TITLE_RE = re.compile(rf"(?P<name>{_SURNAME}(?:{_GIVEN}){{0,2}}?)(?P<title>{_TITLES})")
_ROLE_RE = re.compile(rf"(?P<lead>{_ROLE_NOUNS})[ \t]*[:：]?[ \t]*{_N}")
_INTRO_RE = re.compile(rf"(?P<lead>(?:{_INTRO})[ \t]*[:：]?[ \t]*){_N}")
_AFTER_RE = re.compile(rf"(?P<lead>{_AFTER}){_N}")
_SUBJECT_RE = re.compile(
    rf"(?P<lead>[，,。；;！!？?\s（(：:、])(?P<name>{_SURNAME}(?:{_GIVEN}){{1,2}}?)"
    r"(?=反映|来电|致电|投诉|报事|表示|称|说)"
)
_MASKED_NAME_RE = re.compile(rf"(?<![\u4e00-\u9fff]){_SURNAME}(?:[*＊×]{{1,3}}|某某|某)(?![A-Za-z])")
# A name right next to a phone number, whatever comes before it: "王小明 13812345678", "李强（电话…）".
_BESIDE_PHONE_RE = re.compile(
    rf"(?P<name>{_SURNAME}(?:{_GIVEN}){{1,2}})(?=[ \t]*[(（]?[ \t]*(?:电话|手机|联系电话)?[:：]?[ \t]*\[电话\])"
)
_FAMILIAR_RE = re.compile(rf"[老小]{_SURNAME}(?=反映|说|称|来电|致电|投诉|表示|家)")
_SURNAME_SAID_RE = re.compile(rf"姓(?<!百姓){_SURNAME}")
_HAS_TITLE = re.compile(_TITLES)
_SAYS = re.compile("反映|来电|致电|投诉|报事|表示|称|说")
_HAS_SURNAME = re.compile(_SURNAME)
_MASK_NAME_CHARS = re.compile("[*＊×某]")


def _ordinary(m: re.Match) -> bool:
    """The candidate is an ordinary word (周边, 方便; 历史老师) or part of a place name (金泰和庄), not a name."""
    s, at = m.string, m.start("name")
    return s[at : at + 2] in STOP_WORDS or s[max(at - 1, 0) : at + 1] in STOP_WORDS or _in_place(s, at)


_places: tuple[object, dict[str, tuple[str, ...]]] | None = None


def _places_by_char(directory) -> dict[str, tuple[str, ...]]:
    """Each character of the directory's community and compound names -> the names holding it (per directory)."""
    global _places
    if _places is not None and _places[0] is directory:
        return _places[1]
    names = {c.name for c in directory.communities} | {
        n for c in directory.communities for comp in c.compounds for n in (comp.name, *comp.aliases)
    }
    out: dict[str, set[str]] = {}
    for name in names:
        if len(name) >= 2:
            for ch in set(name):
                out.setdefault(ch, set()).add(name)
    table = {ch: tuple(sorted(v, key=len, reverse=True)) for ch, v in out.items()}
    _places = (directory, table)
    return table


def _in_place(s: str, at: int) -> bool:
    """Whether position `at` of `s` lies inside a community or compound name of the county directory."""
    try:
        places = _places_by_char(load_directory())
    except DirectoryError:
        return False
    for name in places.get(s[at], ()):
        start = s.find(name, max(0, at - len(name) + 1), at + len(name))
        while start != -1 and start <= at:
            if at < start + len(name):
                return True
            start = s.find(name, start + 1, at + len(name))
    return False


def _to(word: str):
    def sub(m: re.Match) -> str:
        if _ordinary(m):
            return m.group()
        return (m.groupdict().get("lead") or "") + word

    return sub


def _title(m: re.Match) -> str:
    return m.group() if _ordinary(m) else m.group("title")


def scrub_names(text: str) -> str:
    """Personal names out where the sentence says a person is meant; the person becomes 居民 (or a bare title)."""
    if _HAS_SURNAME.search(text) is None:
        return text
    if _HAS_TITLE.search(text):
        text = _TITLE_RE.sub(_title, text)
    text = _ROLE_RE.sub(_to(""), text)
    text = _INTRO_RE.sub(_to(PERSON), text)
    text = _AFTER_RE.sub(_to(PERSON), text)
    if _SAYS.search(text):
        # The sentinel lets a name open the text; the pattern consumes the boundary before a name.
        text = _SUBJECT_RE.sub(_to(PERSON), "\n" + text)[1:]
        text = _FAMILIAR_RE.sub(PERSON, text)
    if PHONE in text:
        text = _BESIDE_PHONE_RE.sub(_to(PERSON), text)
    if _MASK_NAME_CHARS.search(text):
        text = _MASKED_NAME_RE.sub(PERSON, text)
    return _SURNAME_SAID_RE.sub("姓某", text)


def scrub(text: str) -> str:
    """All of the above, in the order that keeps each pass from seeing the others' leftovers."""
    if not text:
        return text
    return scrub_names(scrub_places(scrub_numbers(fold(text))))
