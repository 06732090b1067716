"""Wording similarity of reports (一事一议): does a new report describe the same problem as a matter's reports?

Place is compared by the caller (community, compound, building); this module compares content only. A text
becomes a TF-IDF vector over jieba words (two characters or more) and Chinese character bigrams, with channel
furniture, place words and numbers removed (the place is compared separately, and "8栋" or "锦绣华庭" in two
texts says nothing about whether they describe one problem). IDF comes from the shipped corpus (every writer,
counted once per process). The threshold was chosen on pairs built from the corpus: docs/triage.md, "Clustering".
"""

from __future__ import annotations

import functools
import math
import re
import threading
from collections import Counter
from collections.abc import Iterable

from services.triage import hazards, model, segment

# Cosine at or above which a report joins a matter (chosen on the dev half of the pairs; docs/triage.md).
THRESHOLD = 0.22
# Reports of a matter a new report is compared with (the newest; enough for a cluster's wording, cheap per report).
MAX_COMPARED = 20
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
# Place furniture: the place is compared as fields, never as words.
# (Compound names come from the place fields: a pattern for them would eat content such as "坏了整个小区".)
_PLACE = re.compile(r"[#零一二两三四五六七八九十百]+(号楼|栋|幢|单元|号|层|楼|室|户|期|区)")
_SUFFIXES = ("小区", "花园", "家园", "社区")


def place_words(*names: str | None) -> tuple[str, ...]:
    """Place names to strip from texts (each also without its 小区/花园 suffix), longest first."""
    found = set()
    for name in names:
        if name:
            found.add(name)
            found.update(name[: -len(s)] for s in _SUFFIXES if name.endswith(s) and len(name) > len(s) + 1)
    return tuple(sorted(found, key=len, reverse=True))


# Words every kind of report uses: they say nothing about which problem it is.
_STOP = frozenset(
    "小区 物业 业主 居民 我们 你们 他们 大家 这个 那个 一下 一直 现在 今天 昨天 已经 还是 没有 就是 什么 怎么 "
    "问题 反映 希望 麻烦 谢谢 请问 尽快 处理 解决 帮忙 社区 网格 网格员 楼栋长 来电 市民 诉求 工单 回复 相关 部门 "
    "情况 时候 这里 那里 这边 那边 一个 可以 不能 不是 还有 而且 但是 因为 所以 如果 的话 哈哈 有人 看看 "
    "一下子 好几 好多 非常 特别 实在 真的 太 了 的 是 在 有 我 你 他 她 也 都 又 还 就 吗 呢 吧 啊".split()
)
# Concepts: words that name one thing in different voices (6楼 掉到 2楼 / 六层下坠; 漏水 / 渗水). A text gets a
# concept term for every concept one of whose words it holds, plus one per hazard of the taxonomy it mentions.
CONCEPTS: dict[str, tuple[str, ...]] = {
    "lift": ("电梯", "电提", "电悌", "轿厢", "升降"),
    "trapped": ("困", "被关", "关在", "关人", "卡住", "卡在", "打不开", "出不来"),
    "drop": ("下坠", "坠", "掉到", "掉下", "溜梯", "冲顶"),
    "shake": ("晃", "抖", "异响", "哐"),
    "noise": ("吵", "噪音", "噪声", "扰民", "音乐", "砰", "咚", "哐", "响", "震"),
    "bark": ("狗叫", "吠", "叫"),
    "smoke": ("烟", "焦", "烧", "火"),
    "spark": ("噼啪", "噼里啪啦", "火花", "放电", "爆裂", "滋滋"),
    "power_out": ("停电", "断电", "没电", "冇电", "跳闸"),
    "water_out": ("停水", "断水", "没水", "冇水", "水压"),
    "leak": ("漏水", "渗水", "滴水", "渗漏", "漏雨", "淌", "漏", "渗", "湿"),
    "flood": ("积水", "淹", "进水", "内涝", "漫", "倒灌"),
    "sewage": ("污水", "粪", "下水道", "化粪池", "地漏", "反水", "冒水", "返水", "马桶"),
    "blocked": ("堵", "不通", "疏通", "排不出"),
    "smell": ("臭", "味", "熏"),
    "light": ("灯", "照明", "黑", "亮"),
    "garbage": ("垃圾", "清运", "清扫", "纸屑", "杂物", "翻"),
    "parking": ("车位", "停车", "停放", "僵尸车", "车棚", "停了"),
    "ebike": ("电动车", "电瓶车", "电瓶", "电池", "换电", "充电"),
    "gate": ("门禁", "闸机", "刷脸", "人脸识别", "道闸", "抬杆"),
    "green": ("草坪", "绿地", "绿化", "花坛", "树", "草"),
    "pests": ("老鼠", "鼠", "虫", "蟑螂", "蚊"),
    "pets": ("狗", "猫", "宠物"),
    "crack": ("裂缝", "裂", "缝"),
    "falling": ("掉", "脱落", "砸", "坠落", "碎", "塌"),
    "alone": ("独居", "一个人住", "孤寡", "空巢", "无人照料", "没人管"),
    "weapon": ("刀", "剪刀", "棍", "铁锹"),
    "gas": ("燃气", "煤气", "天然气", "丁烷", "液化气", "然气"),
    "renovation": ("装修", "电钻", "电镐", "打墙", "拆墙", "施工", "敲"),
    "fee": ("物业费", "水费", "电费", "收费", "多收", "单价", "欠费", "交费", "缴"),
    "ads": ("广告", "传单", "贴条", "纸条", "塞门缝"),
    "fire_exit": ("消防通道", "安全出口", "逃生", "卷帘门", "消防门", "锁死", "铁链"),
    "surface": ("地砖", "路面", "步道", "起皮", "跑道", "坑"),
    "faint": ("晕倒", "昏倒", "头晕", "不省人事", "起不来", "晕"),
    "injury": ("受伤", "咬", "抓伤", "骨折", "出血", "流血", "伤", "摔"),
    "children": ("小孩", "孩子", "伢崽", "细伢", "儿童", "学生", "小学", "放学", "幼童"),
    "elderly": ("老人", "老人家", "爹爹", "奶奶", "爷爷", "老太", "婆婆", "七十", "八十", "九十"),
    "shelter": ("凉亭", "亭子", "雨棚", "车棚"),
    "window": ("窗", "玻璃", "阳台"),
    "wall": ("墙", "柱", "钢筋", "混凝土", "吊顶", "天花板"),
    "drain_pipe": ("管道", "水管", "排水", "雨水", "井"),
    "consult": ("咨询", "请问", "能不能", "可以吗", "是否", "需要"),
}
# Share of the concept cosine in the similarity (the rest is the words' and bigrams' cosine); chosen on dev.
CONCEPT_SHARE = 0.15
# Who is writing and through which desk: furniture of the voice, not of the problem.
_VOICE = re.compile(
    r"(来电人|来电|市民|居民|业主|住户|群众)(反映|称|咨询|报|诉)|窗口(登记|接待)|网格员|巡查(记录|发现)?|"
    r"(入户)?走访(记录)?|敲门记录|客服记录|通过网络渠道|请属地核实处理"
)
_lock = threading.Lock()
_idf: dict[str, float] | None = None
_idf_default = 1.0


def _content(text: str, place_words: Iterable[str] = ()) -> str:
    norm = model.clean(text)
    for word in place_words:
        if word and len(word) >= 2:
            norm = norm.replace(word, " ")
    return _PLACE.sub(" ", _VOICE.sub(" ", norm))


def terms(text: str, place_words: Iterable[str] = ()) -> list[str]:
    """The content terms of a text: jieba words of two characters or more and character bigrams."""
    content = _content(text, place_words)
    words = [f"w:{w}" for w in segment.words(content) if len(w) >= 2 and w not in _STOP and not w.isdigit()]
    grams = [f"c:{run[i : i + 2]}" for run in _CJK_RUN.findall(content) for i in range(len(run) - 1)]
    found = [f"k:{k}" for k, ws in CONCEPTS.items() if any(w in content for w in ws)]
    found += sorted({f"k:hz_{h.hazard}" for h in hazards.reading(hazards.prepare(text)).hits})
    return words + [g for g in grams if g[2:] not in _STOP] + found


def _load_idf() -> tuple[dict[str, float], float]:
    global _idf, _idf_default
    with _lock:
        if _idf is None:
            from services.triage import labelled  # the corpus reader; only needed once per process

            texts = {r["text"] for r in labelled.read_corpus()}
            df: Counter[str] = Counter()
            for text in texts:
                df.update(set(terms(text)))
            n = len(texts)
            _idf = {t: math.log((1 + n) / (1 + c)) + 1 for t, c in df.items()}
            _idf_default = math.log(1 + n) + 1  # a term the corpus never saw is as specific as the rarest
    return _idf, _idf_default


def warm() -> None:
    """Build the IDF table now (service start), not on the first report."""
    _load_idf()


def _unit(vec: dict[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
    return {t: v / norm for t, v in vec.items()}


@functools.lru_cache(maxsize=8192)
def vector(text: str, place_words: tuple[str, ...] = ()) -> tuple[dict[str, float], dict[str, float]]:
    """A text's two unit TF-IDF vectors (sublinear term frequency): its words and bigrams, and its concepts."""
    idf, default = _load_idf()
    counts = Counter(terms(text, place_words))
    vec = {t: (1 + math.log(c)) * idf.get(t, default) for t, c in counts.items()}
    return _unit({t: v for t, v in vec.items() if not t.startswith("k:")}), _unit(
        {t: v for t, v in vec.items() if t.startswith("k:")}
    )


def cosine(a: dict[str, float], b: dict[str, float]) -> float:
    """Cosine of two unit vectors."""
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(t, 0.0) for t, v in a.items())


def pair_similarity(a: str, b: str, place_words: tuple[str, ...] = ()) -> float:
    """Similarity of two texts: the words' cosine and the concepts' cosine, mixed by CONCEPT_SHARE."""
    (wa, ka), (wb, kb) = vector(a, place_words), vector(b, place_words)
    return (1 - CONCEPT_SHARE) * cosine(wa, wb) + CONCEPT_SHARE * cosine(ka, kb)


def similarity(text: str, others: Iterable[str], place_words: tuple[str, ...] = ()) -> float:
    """The best similarity between `text` and any of `others` (a matter's reports), 0 when there are none."""
    return max((pair_similarity(text, o, place_words) for o in others), default=0.0)


def same_problem(text: str, others: Iterable[str], place_words: tuple[str, ...] = ()) -> bool:
    """Whether `text` describes the same problem as a matter's reports (same place is the caller's check)."""
    return similarity(text, others, place_words) >= THRESHOLD
