"""The labelled triage corpus: render hand-written seeds in every channel's style, split, read and write JSONL.

`python -m services.triage corpus` rebuilds services/triage/corpus/{train,heldout}.jsonl from seeds.txt; the
output is deterministic (fixed seeds), so the shipped files can be checked against a rebuild.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

from services.contracts import vocabulary
from services.triage.rules import CATEGORIES

CORPUS_DIR = Path(__file__).parent / "corpus"
SEEDS = CORPUS_DIR / "seeds.txt"
TRAIN = CORPUS_DIR / "train.jsonl"
HELDOUT = CORPUS_DIR / "heldout.jsonl"
WRITERS_DIR = CORPUS_DIR / "writers"  # independent writers' labelled reports, one file per writer (w1.jsonl, ...)
# Writers kept out of training: the shipped model was graded on them once; the next change to the grader has
# writers it never saw (docs/triage.md, "Held-out writers"). `read_corpus` never reads them.
HELD_OUT_WRITERS_DIR = CORPUS_DIR / "heldout_writers"


def writer_file(writer: str) -> Path:
    """A writer's labelled file, in the training corpus or among the held-out writers."""
    trained = WRITERS_DIR / f"{writer}.jsonl"
    return trained if trained.exists() else HELD_OUT_WRITERS_DIR / f"{writer}.jsonl"


SEED_WRITER = "w0"  # the seeds' author: train.jsonl + heldout.jsonl
HEADS = ("level", "route", "kind", "category")
SPLIT_SEED = 20261130
HELDOUT_SHARE = 0.2
RENDERINGS = 3  # channel styles per seed
LEVELS = get_args(vocabulary.Level)
ROUTES = get_args(vocabulary.Route)
KINDS = get_args(vocabulary.Kind)

COMPOUNDS = (
    "金泰和庄", "锦湖花园", "秀谷新城", "临川苑", "书香门第", "御景湾", "翠园小区", "象山家园", "东门老街小区",
    "滨江名苑", "金溪一中宿舍", "仰山苑",
)  # fmt: skip
NAMES = ("小吴", "李姐", "周师傅", "黄网格员", "陈楼栋长", "小刘", "王主任", "徐大姐")
WHO = ("住户", "一位老党员", "业主", "租户", "退休教师", "楼栋长", "一位大妈", "张先生")


@dataclass(frozen=True)
class Seed:
    """One hand-written core sentence with its labels."""

    category: str
    level: str
    route: str
    kind: str
    households: int | None
    text: str


def read_seeds(path: Path = SEEDS) -> list[Seed]:
    """Parse seeds.txt; a malformed line raises with its number."""
    seeds = []
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        head, _, text = line.partition("|")
        parts = head.split()
        category, level, route, kind = parts[:4]
        households = int(parts[4]) if len(parts) > 4 else None
        ok = category in CATEGORIES and level in LEVELS and route in ROUTES and kind in KINDS and text.strip()
        if not ok or (level == "red" and route != "deliberate"):
            raise ValueError(f"{path.name}:{no}: bad seed {line!r}")
        seeds.append(Seed(category, level, route, kind, households, text.strip()))
    return seeds


# --- channel styles ----------------------------------------------------------------------------------

_TYPOS = (("在", "再"), ("已经", "以经"), ("的", "滴"), ("那里", "哪里"), ("一下", "一哈"), ("好几", "好机"))


def _typo(text: str, rng: random.Random) -> str:
    """Chat typing slips, at most one per message."""
    found = [(a, b) for a, b in _TYPOS if a in text]
    if not found or rng.random() < 0.4:
        return text
    a, b = rng.choice(found)
    return text.replace(a, b, 1)


def _wechat(core: str, place: str, rng: random.Random) -> str:
    core = _typo(core, rng)
    return rng.choice(
        (
            "@物业 {core}",
            "{core}[图片][图片]",
            "有没有人管管啊，{core}",
            "各位邻居，{core}，@物业 @网格员 麻烦看一下",
            "{place}的，{core}。。。",
            "{core}，有人知道该找谁吗",
            "@社区 {core} [图片]",
            "{core}！！[语音]",
        )
    ).format(core=core, place=place)


def _miniprogram(core: str, place: str, rng: random.Random) -> str:
    return rng.choice(
        (
            "【位置】{place}\n【问题描述】{core}\n【图片】{n}张",
            "报事位置：{place}；问题描述：{core}；是否需要回访：是",
            "地点：{place}\n描述：{core}",
            "【诉求内容】{core}\n【所在位置】{place}",
        )
    ).format(core=core, place=place, n=rng.randint(1, 3))


def _door_visit(core: str, place: str, rng: random.Random) -> str:
    month, day = rng.randint(1, 12), rng.randint(1, 28)
    return rng.choice(
        (
            "走访记录：{m}月{d}日网格员{name}入户走访{place}，{who}反映：{core}。已登记，待跟进。",
            "走访记录：{place}，{who}说{core}。网格员{name}已拍照上报。",
            "敲响邻里门走访：{m}月{d}日到{place}，{who}提到{core}，已记录。",
            "楼栋长{name}走访记录：{who}反映{core}",
        )
    ).format(core=core, place=place, m=month, d=day, name=rng.choice(NAMES), who=rng.choice(WHO))


def _opinion_box(core: str, place: str, rng: random.Random) -> str:
    return rng.choice(("意见：{core}", "{core}。——{place}住户", "给社区提个意见：{core}", "{core}")).format(
        core=core, place=place
    )


def _wish_wall(core: str, place: str, rng: random.Random) -> str:
    return rng.choice(("心愿：{core}", "我的小心愿：{core}", "{core}（{place}居民）")).format(core=core, place=place)


def _hotline(core: str, place: str, rng: random.Random, households: int | None) -> str:
    number = f"{rng.choice(('JX', 'FZ', ''))}2026{rng.randint(10**7, 10**8 - 1)}"
    tail = f"据来电人称涉及约{households}户。" if households else ""
    return rng.choice(
        (
            "工单编号：{num}。市民来电反映：{place}{core}。{tail}市民诉求：请尽快核实处理。",
            "【12345工单】编号{num}，来电人称其居住在{place}，{core}，{tail}要求相关部门处理。",
            "工单编号{num}：市民来电反映，{place}{core}。{tail}请属地社区及时办理并回复市民。",
        )
    ).format(core=core, place=place, num=number, tail=tail)


PROBLEM_CHANNELS = ("wechat_group", "miniprogram", "door_visit", "hotline_12345", "opinion_box")
SUGGESTION_CHANNELS = ("wechat_group", "miniprogram", "opinion_box", "wish_wall", "door_visit")


def _render(seed: Seed, channel: str, rng: random.Random) -> dict:
    building = rng.randint(1, 24)
    core = seed.text.format(b=building, n=rng.randint(2, 9), d=rng.randint(2, 10), h=rng.randint(10, 80))
    place = f"{rng.choice(COMPOUNDS)}{building}号楼" if "{b}" not in seed.text else rng.choice(COMPOUNDS)
    households = seed.households
    if channel == "hotline_12345" and seed.level == "yellow" and households is None and rng.random() < 0.5:
        households = rng.choice((12, 20, 36, 48, 60))  # a formal order often states the households affected
    styles = {
        "wechat_group": _wechat,
        "miniprogram": _miniprogram,
        "door_visit": _door_visit,
        "opinion_box": _opinion_box,
        "wish_wall": _wish_wall,
    }
    text = _hotline(core, place, rng, households) if channel == "hotline_12345" else styles[channel](core, place, rng)
    row = {
        "text": text,
        "channel": channel,
        "level": seed.level,
        "route": seed.route,
        "kind": seed.kind,
        "category": seed.category,
    }
    if households:
        row["households_affected"] = households
    return row


def _stable_rng(*parts: object) -> random.Random:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()
    return random.Random(int(digest[:16], 16))


def build(seeds: list[Seed]) -> tuple[list[dict], list[dict]]:
    """Render every seed in RENDERINGS channel styles; split seeds 80/20 stratified by level (fixed seed)."""
    heldout_ids: set[int] = set()
    split_rng = random.Random(SPLIT_SEED)
    for level in LEVELS:
        ids = [i for i, s in enumerate(seeds) if s.level == level]
        split_rng.shuffle(ids)
        heldout_ids.update(ids[: round(len(ids) * HELDOUT_SHARE)])
    train, heldout = [], []
    for i, seed in enumerate(seeds):
        rng = _stable_rng(SPLIT_SEED, seed.text)
        channels = list(SUGGESTION_CHANNELS if seed.kind == "suggestion" else PROBLEM_CHANNELS)
        rng.shuffle(channels)
        for n, channel in enumerate(channels[:RENDERINGS]):
            row = {"id": f"s{i:03d}-{n}", **_render(seed, channel, rng)}
            (heldout if i in heldout_ids else train).append(row)
    return train, heldout


def write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    """One JSON object a line, UTF-8, Chinese unescaped."""
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def read_jsonl(path: Path) -> Iterator[dict]:
    """Rows of a JSONL file; blank lines are skipped."""
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def rebuild() -> tuple[int, int]:
    """Regenerate the shipped train/held-out files from seeds.txt; return their sizes."""
    train, heldout = build(read_seeds())
    write_jsonl(TRAIN, train)
    write_jsonl(HELDOUT, heldout)
    return len(train), len(heldout)


def usable(row: dict) -> bool:
    """A row with text and valid labels for every head (red always deliberates)."""
    ok = (
        bool(str(row.get("text") or "").strip())
        and row.get("level") in LEVELS
        and row.get("route") in ROUTES
        and row.get("kind") in KINDS
        and row.get("category") in CATEGORIES
    )
    return ok and (row["level"] != "red" or row["route"] == "deliberate")


def read_writer(path: Path) -> list[dict]:
    """One writer file's usable rows, each with its writer (the file's stem when the row names none)."""
    return [r for r in ({**r, "writer": r.get("writer") or path.stem} for r in read_jsonl(path)) if usable(r)]


def read_corpus(writers_dir: Path = WRITERS_DIR) -> list[dict]:
    """Every labelled row: the seeds' renderings as writer w0, then each writer file; unusable rows skipped."""
    rows = [{**r, "writer": SEED_WRITER} for path in (TRAIN, HELDOUT) for r in read_jsonl(path)]
    for path in sorted(writers_dir.glob("*.jsonl")) if writers_dir.exists() else ():
        rows += read_writer(path)
    return [r for r in rows if usable(r)]
