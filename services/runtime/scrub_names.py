"""Names out of free text: Chinese names where the sentence says a person is meant, English and pinyin names.

Part of the scrubber (services.runtime.scrub), which runs this last, on text already folded and with its numbers
replaced, so a name beside `[电话]` is known for one.
"""

from __future__ import annotations

import re

from services.runtime.directory import DirectoryError, load_directory

PERSON = "居民"
PHONE = "[电话]"

# ---------------------------------------------------------------------------------------

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
    曹家 彭家 曾孙 鲁班 葛家 焦点 焦急 郎才 江西 金牌 纪检 施工 石工 高工 高总 方为
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
    "书记|主任|经理|主管|组长|楼长|网格员|医生|律师|老人家|老人|老汉|老太太|大嫂|嫂子|伯伯|姐姐|婶婶|男士|"
    "工程师|警官|院长|校长|科长|所长|站长|局长|队长|社工|民警|护士|大夫|专干|干事|会计"
)
# One-character titles go only right after a surname (李姐, 王哥, 张工): a given name between is too loose.
_SHORT_TITLE_RE = re.compile(
    rf"(?P<name>{_SURNAME})(?:(?P<title>[姐哥叔姨婶嫂伯])(?![长])"
    # 张工, 王总 only where a word ends there (戴工牌, 此项工作, 钱总得 are no one)
    r"|(?P<staff>[工总])(?=[，,。；;：:、！!？?\s（(]|$|说|反映|来|到|已|在|的|讲|打|让|要|帮|和|带))"
)
_MASK = r"(?:[*＊×]{1,3}|某某|某|XX|xx|X|x)(?![A-Za-z])"
_ROLE_NOUNS = (
    "住户|业主|居民|户主|市民|村民|租户|群众|家属|老人|报事人|反映人|来电人|当事人|诉求人|投诉人|报修人|求助人|"
    "举报人|申请人|咨询人|来访人|邻居|楼上|楼下|对门|隔壁|房东|租客|男子|女子|老太太|"
    # staff are people too: 网格员李娜, 楼长刘德华, 物业经理周杰伦
    "网格员|楼栋长|楼长|经理|主任|书记|组长|队长|保安|电工|维修工|水电工|师傅|社工|志愿者|民警|片警|调解员|专干"
)
_INTRO = "我是|我叫|本人是|本人|联系人|姓名|名叫|叫做|某室|某户"
_AFTER = "为|给|帮|替|让|向|和|跟|与|对|同|请|找|联系|通知|回访|看望|走访|慰问|陪同|告知|约"

_N = rf"(?P<name>{_SURNAME}(?:{_MASK}|(?:{_GIVEN}){{1,2}}?{_FOLLOW}))"
# After a role noun the sentence has said a person follows, so more verbs may end the name.
_FOLLOW_ROLE = _FOLLOW[:-1] + (
    r"|同意|不同意|要求|认为|希望|签字|签名|到场|参加|出席|在场|已|也|未|没|不|在|来|去|带|陪|领|负责|入户|走访|上报|"
    r"儿子|女儿|老伴|爱人|丈夫|妻子|摔|病|住|今天|昨天|明天|上午|下午|晚上)"
)
_N_ROLE = rf"(?P<name>{_SURNAME}(?:{_MASK}|(?:{_GIVEN}){{1,2}}?{_FOLLOW_ROLE}))"
_TITLE_RE = re.compile(rf"(?P<name>{_SURNAME}(?:{_GIVEN}){{0,2}}?)(?P<title>{_TITLES})")
_ROLE_RE = re.compile(rf"(?P<lead>{_ROLE_NOUNS})[ \t]*[:：]?[ \t]*{_N_ROLE}")
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
_FAMILIAR_RE = re.compile(
    rf"(?:[老小]{_SURNAME}(?=反映|说|称|来电|致电|投诉|表示|家)|老(?!高)(?:{_SURNAME})头?(?=[，,。；;、\s]|$)"
    rf"|(?<=物业|网格|保安|保洁)小{_SURNAME})"
)
_SURNAME_SAID_RE = re.compile(rf"姓(?<!百姓){_SURNAME}")
# 刘姓业主, 王姓住户: the surname said the other way round.
_SURNAME_FIRST_RE = re.compile(rf"{_SURNAME}姓(?!名)")
# English and pinyin names: after a title (Mr. Wang, Ms Li Na) or a word that says a person follows.
_EN_TITLE_RE = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Dr|Madam|Mister)\.?[ \t]+[A-Z][a-z]+(?:[ \t]+[A-Z][a-z]+)?")
_EN_NOT_NAME = (
    "Committee|Building|Block|Unit|Room|Floor|Service|Services|Hall|Association|Group|Office|Centre|Center|"
    "Meeting|Representative|Community|Property|Management|Company|Hotline|Number|Phone|Road|Street|Lane|Avenue|"
    "Garden|Gardens|District|County|City|Village|Park|Estate|The|This|That|Here|There|And|Or"
)
_EN_LEAD_RE = re.compile(
    r"\b(?P<lead>(?:[Cc]ontact(?:[ \t]+person)?|[Nn]ame|[Cc]aller|[Rr]eporter|[Rr]esident|[Oo]wner|[Tt]enant|"
    r"[Nn]eighbou?r|I[ \t]+am|I'm|[Mm]y[ \t]+name[ \t]+is|[Cc]alled|[Gg]rid[ \t]+worker)[ \t]*[:：]?[ \t]+)"
    rf"(?!(?:{_EN_NOT_NAME})\b)[A-Z][a-z]+(?:[ \t]+(?!(?:{_EN_NOT_NAME})\b)[A-Z][a-z]+)?"
)
_EN_CAP = re.compile(r"[A-Z][a-z]")
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


def _short_title(m: re.Match) -> str:
    if _ordinary(m):
        return m.group()
    return "工作人员" if m.group("staff") else PERSON


def scrub_latin_names(text: str) -> str:
    """English and pinyin names after a title or a word that says a person follows (Mr. Wang, contact: Li Na)."""
    if _EN_CAP.search(text) is None:
        return text
    text = _EN_TITLE_RE.sub(PERSON, text)
    return _EN_LEAD_RE.sub(lambda m: m.group("lead") + PERSON, text)


def scrub_names(text: str) -> str:
    """Personal names out where the sentence says a person is meant; the person becomes 居民 (or a bare title)."""
    if _HAS_SURNAME.search(text) is None:
        return text
    if _HAS_TITLE.search(text):
        text = _TITLE_RE.sub(_title, text)
    text = _SHORT_TITLE_RE.sub(_short_title, text)
    text = _ROLE_RE.sub(_to(""), text)
    text = _INTRO_RE.sub(_to(PERSON), text)
    text = _AFTER_RE.sub(_to(PERSON), text)
    if _SAYS.search(text):
        # The sentinel lets a name open the text; the pattern consumes the boundary before a name.
        text = _SUBJECT_RE.sub(_to(PERSON), "\n" + text)[1:]
    if "老" in text or "小" in text:
        text = _FAMILIAR_RE.sub(PERSON, text)
    if PHONE in text:
        text = _BESIDE_PHONE_RE.sub(_to(PERSON), text)
    if _MASK_NAME_CHARS.search(text):
        text = _MASKED_NAME_RE.sub(PERSON, text)
    if "姓" in text:
        text = _SURNAME_FIRST_RE.sub("某姓", _SURNAME_SAID_RE.sub("姓某", text))
    return text
