"""The hazard taxonomy of 急难险重 (what makes a report red), as data, and the reader that applies it to a text.

Built from public classifications, not from the corpus: the four classes of 突发事件 in the 突发事件应对法
(自然灾害 / 事故灾难 / 公共卫生事件 / 社会安全事件), the 城市生命线 and 公共安全 risk classes of the 城市安全风险综合
监测预警 guidance (燃气、供水、排水、电力、热力、桥梁/房屋建筑、特种设备/电梯、消防、人员密集), 12345 hotlines'
紧急类诉求 (转 110/119/120/燃气/供电抢修 and 急难愁盼 for vulnerable people). docs/triage.md documents it.

Each hazard has cue families: `signs` (a phenomenon that is itself the hazard: "漏气", "冒烟", "困人"),
`objects` (things that can become the hazard: "燃气", "外墙砖") and `states` (what the object is doing:
"味", "松动", "掉") that count only when an object of the same hazard is in the same clause. Variants seen in
chat (typos 煤汽/然气, dialect 着伙/电悌) sit in the same families. `reading(text)` returns every hazard hit
with its status (active, imminent, hedged, negated, resolved, past, prevention) and the exposure cues of the
text (vulnerable people, many people, the reporter's own household).
"""

# ruff: noqa: E501 -- data tables of Chinese words packed for review; CJK counts double width
from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from services.triage import gloss

# fmt: off


@dataclass(frozen=True)
class Hazard:
    """One kind of 急难险重 hazard and the words that reveal it."""

    id: str
    label: str  # Chinese name shown to staff
    source: str  # the public class it comes from
    category: str  # the usual triage category of a report about it
    signs: tuple[str, ...]  # the phenomenon itself: enough alone
    objects: tuple[str, ...] = ()  # what can become dangerous
    states: tuple[str, ...] = ()  # ...and what it does: counts only with an object of this hazard in the clause
    # A sign alone makes red ("always"); or only with a vulnerable person, an amplifier (weather, night, duration)
    # or an imminent-harm word ("exposed"); or only with a vulnerable person ("vulnerable": a fall, a fever).
    # An object+state pair is weaker evidence: red with a vulnerable person, weather/night, passers-by or imminence.
    when: str = "always"


HAZARDS: tuple[Hazard, ...] = (
    Hazard(
        "fire", "火灾与烟雾", "事故灾难·火灾（119）", "safety_fire",
        signs=("着火", "起火", "失火", "火灾", "冒烟", "冒了烟", "冒黑烟", "冒白烟", "浓烟", "烟雾", "火苗", "火光",
               "明火", "烧起来", "烧着了", "烧了起来", "火着了", "焦味", "焦糊味", "糊味", "烧焦", "烧焦味", "烧塑料",
               "着伙", "起伙", "冒眼", "烟很大", "一股烟", "烧起", "自燃", "爆燃", "火星", "着了火", "火烧"),
        objects=("电动车", "电瓶车", "电瓶", "电池", "充电器", "插座", "插线板", "配电箱", "电箱", "电表箱", "电线",
                 "油锅", "垃圾堆", "柴火", "秸秆"),
        states=("烫手", "发烫", "鼓包", "鼓起来", "冒火", "焦", "噼啪", "滋滋", "炸", "烧"),
    ),
    Hazard(
        "gas", "燃气泄漏", "城市生命线·燃气", "safety_fire",
        signs=("疑似燃气", "像燃气", "燃气管道被挖断", "挖断燃气", "燃气管被挖", "烧炭", "炭火盆", "燃气泄漏", "煤气泄漏", "天然气泄漏", "漏气", "漏汽", "泄漏", "煤气味", "燃气味", "天然气味", "液化气味",
               "臭鸡蛋味", "瓦斯味", "煤气中毒", "一氧化碳"),
        objects=("燃气管道", "管道燃气", "炭火", "火盆", "炭盆", "煤炉", "蜂窝煤", "燃气", "煤气", "天然气", "液化气", "煤气罐", "液化气罐", "气罐", "钢瓶", "瓦斯", "燃气管", "燃气表",
                 "燃气灶", "煤气灶", "然气", "燃汽", "煤汽"),
        states=("浓", "异味", "嘶嘶声", "挖断", "恶心", "关紧门窗", "门窗紧闭", "味", "气味", "臭", "嘶嘶", "呲呲", "泄", "一直开着", "没关", "开着火", "熏", "头晕", "闻到"),
    ),
    Hazard(
        "electrical", "漏电触电", "城市生命线·电力", "safety_fire",
        signs=("漏电", "触电", "电到人", "被电到", "电了一下", "电麻", "手麻", "电线裸露", "电线外露", "电线掉", "电线垂",
               "私拉电线", "私拉乱接", "飞线充电", "打火", "电火花", "火花", "短路", "电缆断", "高压线断", "变压器爆"),
        objects=("电线", "电缆", "电箱", "配电箱", "电表箱", "变压器", "开关", "插座", "高压线", "路灯杆", "灯杆", "水龙头",
                 "铁门", "护栏", "栏杆"),
        states=("湿透", "往下淌", "渗水", "淋湿", "全是水", "都是水", "一闪一闪", "带电", "麻", "电人", "裸露", "外露", "露出", "断了", "掉下来", "垂下来", "泡在水", "泡水", "进水", "滋滋",
                "噼啪", "火花", "冒火"),
    ),
    Hazard(
        "structural", "房屋与构筑物结构", "城市安全·房屋建筑", "construction",
        signs=("山体滑坡", "滑坡", "落石", "石块滚落", "新裂缝", "坍塌", "塌陷", "塌方", "塌了", "倒塌", "垮塌", "垮了", "危房", "墙体开裂", "墙体裂缝", "裂缝很大", "大裂缝",
               "外墙脱落", "瓷砖脱落", "墙皮脱落", "摇摇欲坠", "倾斜", "歪了", "下沉", "随时会塌", "随时可能塌", "鼓起来"),
        objects=("避雷针", "山坡", "边坡", "挡墙", "墙", "外墙", "承重墙", "楼板", "房梁", "屋顶", "屋面", "阳台", "雨棚", "挡土墙", "围墙", "楼梯", "台阶",
                 "地基", "房子", "楼体", "天花板", "吊顶", "脚手架", "广告牌", "招牌", "护坡", "桥", "门头"),
        states=("滚落", "锈穿", "锈断", "吊在", "裂", "开裂", "裂缝", "裂开", "掉", "脱落", "松动", "晃", "摇", "歪", "斜", "塌", "垮", "沉", "鼓", "露出钢筋",
                "钢筋", "往下掉", "掉渣", "掉块"),
    ),
    Hazard(
        "falling_object", "高空坠物", "公共安全·高空抛物坠物", "safety_fire",
        signs=("高空抛物", "高空坠物", "坠物", "掉下来砸", "砸到", "砸伤", "差点砸", "砸下来", "往下扔", "从楼上扔",
               "随时会掉", "随时可能掉", "快掉下来", "要掉下来", "吹松", "一推就晃"),
        objects=("避雷针", "钢条", "架子", "支架", "花盆", "空调外机", "外机", "窗户", "玻璃", "窗框", "防盗网", "晾衣架", "瓷砖", "墙砖", "外墙砖", "广告牌",
                 "招牌", "树枝", "枯枝", "冰凌", "雨棚", "铁皮", "彩钢瓦", "转轮"),
        states=("歪着", "锈穿", "锈断", "吊在", "挂在", "掉", "坠", "砸", "松", "晃", "吊着", "悬着", "挂着", "摇摇晃晃", "脱落", "吹落", "扔"),
    ),
    Hazard(
        "fall_hole", "坠落与失足（井盖、坑洞、临边）", "公共安全·临边洞口", "road",
        signs=("井盖破损", "井盖破了", "踩进去", "一脚踩进", "深的水", "掉进", "摔进", "掉下去", "跌进", "坠落", "井盖丢", "井盖没了", "井盖不见", "井盖被偷", "没有井盖",
               "井盖坏", "井盖碎", "井盖翻", "没有围挡", "没围挡", "没有护栏", "护栏断", "栏杆断", "天台门开着"),
        objects=("防盗窗", "窗台", "楼顶", "顶楼", "边上", "边边", "地下室", "积水坑", "深水", "井盖", "窨井", "下水井", "深坑", "大坑", "沟", "水沟", "池塘", "河", "水塘", "天台", "护栏", "栏杆", "窗户",
                 "阳台", "基坑", "坑"),
        states=("踩进", "破损", "趴", "站在", "坐在", "探出", "悬空", "没有防护", "没锁", "扔石头", "玩水", "两米", "掉", "摔", "跌", "翻", "没有盖", "敞开", "敞着", "空着", "塌", "缺", "断", "松", "爬", "没有围", "一米多深",
                "很深"),
    ),
    Hazard(
        "water", "进水、内涝与爆管", "城市生命线·供水排水；自然灾害·内涝", "drainage",
        signs=("漫到客厅", "冒污水", "往外冒", "流进屋", "顺着墙", "倒灌", "被淹", "淹水", "水淹", "淹了", "内涝", "爆管", "水管爆裂", "水管爆了", "管子爆了", "水管裂了",
               "没过脚踝", "没过膝盖", "没过小腿", "淹到", "涨水", "水漫金山", "漫进", "灌进", "化粪池满溢", "化粪池冒",
               "粪水外溢", "粪水流", "污水倒灌", "漫到屋里", "进了屋"),
        objects=("地下室", "车库", "地库", "一楼", "屋里", "家里", "配电房", "电梯井", "水管", "主水管", "总阀", "化粪池"),
        states=("冒", "淌", "进水", "积水", "漫", "灌", "淹", "涨", "往里流", "往里灌", "冒水", "喷水", "哗哗", "爆", "裂"),
        when="always",
    ),
    Hazard(
        "hazmat", "危险物品", "事故灾难·危险化学品", "safety_fire",
        signs=("危化品", "危险品", "易燃易爆", "汽油桶", "囤汽油", "囤油", "私存汽油", "储存汽油", "烟花爆竹", "炸药", "雷管",
               "农药味", "化学品泄漏", "硫酸", "盐酸", "氨气", "液氨"),
        objects=("液化气", "汽油", "柴油", "油桶", "酒精", "煤气罐", "液化气罐", "氧气瓶", "鞭炮", "烟花", "油漆", "稀释剂", "化学品",
                 "农药"),
        states=("十几罐", "几罐", "罐", "晒", "堆", "存", "囤", "放了", "一桶", "好几桶", "好多桶", "泄", "洒", "漏", "味"),
    ),
    Hazard(
        "lift", "电梯困人与故障伤人", "特种设备·电梯", "elevator",
        signs=("关人", "电梯关人", "电梯卡", "困人", "被困", "困住", "关在电梯", "卡在电梯", "困在电梯", "电梯下坠", "溜梯", "冲顶", "蹲底", "夹人",
               "电梯急坠"),
        objects=("电提", "电梯", "轿厢", "电悌", "电t", "梯子门"),
        states=("掉", "坠", "夹", "困", "卡住", "关在里面", "出不来", "开着门走", "门没关就走", "突然往下", "冲", "猛地",
                "急停", "停在两层"),
    ),
    Hazard(
        "utility_loss", "停水停电停气停暖（生命线中断）", "城市生命线·供水供电供热", "utilities",
        signs=("停水", "停电", "断水", "断电", "没水", "没电", "没有水", "没有电", "停气", "断气", "没暖气", "没有暖气",
               "暖气不热", "停暖", "水停了", "电停了", "冻住", "冻裂", "没有热水"),
        objects=("制氧机", "呼吸机", "透析", "冰箱里的药", "胰岛素"),
        states=("用不了", "没电", "停了", "断了"),
        when="exposed",
    ),
    Hazard(
        "person_in_distress", "人员急症与自伤、受虐", "急难愁盼·人身安全（120/110 联动）", "elderly_care",
        signs=("晕倒", "昏倒", "昏迷", "不省人事", "起不来", "爬不起来", "喘不上气", "呼吸困难", "抽搐", "吐血", "轻生",
               "想不开", "自杀", "跳楼", "寻短见", "家暴", "虐待", "割腕", "喊救命"),
    ),
    Hazard(
        "person_at_risk", "弱势人员失联、遇险、无人照料", "急难愁盼·特殊群体", "elderly_care",
        signs=("出血", "出了血", "未归", "没回来", "没回家", "阿尔茨海默", "老年痴呆", "安眠药", "攒药", "不想活", "活着没意思", "遗书", "无人应答", "无应答", "没人接", "联系不上", "联系不到", "敲门没人应", "敲门不应", "没人应", "没人开门", "好几天没出门", "几天没见", "没见人",
               "摔倒", "跌倒", "摔了一跤", "走失", "走丢", "找不到人", "找不到了", "没饭吃", "没吃东西", "没人照顾", "无人照料",
               "没人管他", "没人管她", "发高烧", "发烧", "流血", "不对劲", "一个人锁在家", "被打"),
        objects=("独居老人", "孤寡老人", "空巢老人", "老人", "老太太", "老大爷", "老爷爷", "老奶奶", "婆婆", "爹爹", "小孩",
                 "孩子", "婴儿", "宝宝", "孕妇", "病人", "瘫痪", "卧床", "残疾"),
        states=("没动静", "没声音", "喊不应", "不接电话", "电话不接", "一个人在家", "锁在", "哭", "不见了"),
        when="vulnerable",
    ),
    Hazard(
        "public_order", "治安与人身威胁", "社会安全事件（110）", "security_access",
        signs=("推搡", "手持", "铁锹", "菜刀", "哭喊", "撞击声", "吼叫", "摔东西", "求救", "拿汽油", "要烧", "同归于尽", "拿着刀", "拿刀", "持刀", "动刀", "砍人", "打起来了", "打架", "斗殴", "打人", "行凶", "撬门", "撬锁", "在撬",
               "入室", "闯进", "砸门", "砸车", "扬言", "威胁", "报复", "要杀", "泼油", "纵火", "放火", "跟踪", "尾随",
               "猥亵", "抢劫", "抢东西", "闹事", "聚集闹", "诈骗", "冒充", "救命"),
        objects=("汽油", "刀", "棍子", "铁棍", "陌生人", "醉汉", "精神病人", "小偷"),
        states=("烧", "提", "挥", "追", "砸", "堵门", "骂", "威胁", "冲进", "拿着"),
    ),
    Hazard(
        "health", "中毒、传染与急症", "公共卫生事件（120）", "sanitation",
        signs=("腹泻", "针头", "针筒", "注射器", "中毒", "食物中毒", "集体腹泻", "上吐下泻", "一氧化碳", "中暑", "晕厥", "过敏休克", "传染",
               "疫情", "发热病人", "狂犬", "被咬伤", "咬伤", "咬人", "被狗咬", "被蛇咬", "马蜂窝", "蜂窝", "毒蛇",
               "冻感冒", "冻伤", "水发臭喝了", "农药", "老鼠药"),
        objects=("老鼠", "蛇", "自来水", "水", "饭菜", "食堂", "桶装水", "狗", "恶犬", "流浪狗", "马蜂", "蜜蜂", "黄蜂"),
        states=("呕吐", "拉肚子", "输液", "住院", "出血", "出了血", "盘", "三角形", "有毒", "发黑", "有虫", "喝了", "吃了", "不舒服", "肚子疼", "头晕", "追人", "扑人", "咬", "蛰"),
    ),
    Hazard(
        "fire_access", "消防设施失效与通道堵塞", "公共安全·消防", "safety_fire",
        signs=("消防通道堵死", "消防通道被堵死", "消防车进不来", "消防车根本进不来", "安全出口锁", "安全出口被锁",
               "逃生通道堵"),
        objects=("消防通道", "安全出口", "逃生通道", "消防栓", "消火栓", "灭火器", "防火门", "消防车道", "楼道",
                 "电动车", "电瓶车"),
        states=("堵死", "锁死", "锁住", "锁了", "堵满", "堆满", "没水", "坏", "过期", "被占", "焊死", "上楼", "充电"),
    ),
    Hazard(
        "tree_outdoor", "树木倒伏与户外设施", "自然灾害·大风；公共安全·户外设施", "greening",
        signs=("大树倒", "树倒了", "树倒", "树要倒", "树快倒", "树干断", "断枝", "树枝断", "压倒", "砸倒", "压在车上",
               "压在路上", "倒在路上", "倒在车上"),
        objects=("大树", "树", "树枝", "电线杆", "灯杆", "广告牌", "围墙", "健身器材", "滑梯", "秋千", "护栏"),
        states=("倒", "断", "歪", "斜", "晃", "裂", "松", "折", "劈", "倾"),
    ),
)

# --- status: is the harm here now? ---------------------------------------------------------------

# Just before a cue (within a few characters): the hazard is denied.
NEGATIONS: tuple[str, ...] = (
    "没有发现", "未发现", "没发现", "没有", "并没有", "并未", "没", "无", "未", "不是", "不存在", "排除", "不会", "没什么",
    "检查了没", "确认没",
)
# Anywhere in the clause: said of a past event that is over. Calling 110/119 is not among them: the harm goes on.
RESOLVED: tuple[str, ...] = (
    "已修好", "已经修好", "已处理", "已经处理", "处理好了", "处理完", "已解决", "解决了", "已排除", "已经排除", "已恢复",
    "已经恢复", "恢复了", "修好了", "灭了", "扑灭", "已经灭", "救出来", "已救出", "放出来了", "已经出来", "人已经没事",
    "没事了", "已经好了", "来过了", "已经换了", "已经关了", "关掉了", "已送医",
)
PAST: tuple[str, ...] = ("去年", "前年", "上次", "以前", "之前", "曾经", "那年", "当年", "小时候", "几年前", "上个月",
                         "那天", "那次", "那回", "后来")
# Before a cue in the clause: the talk is about preventing it, not reporting it.
PREVENTION: tuple[str, ...] = (
    "防止", "预防", "以防", "以免", "避免", "杜绝", "演练", "宣传", "培训", "讲座", "知识", "检查一下", "排查", "万一",
    "防范", "怕以后", "将来", "会不会", "消除", "提醒大家", "注意",
)
# The danger is about to happen: imminent harm counts as red.
IMMINENT: tuple[str, ...] = (
    "随时", "马上", "快要", "眼看", "眼瞅着", "摇摇欲坠", "就要", "快塌", "快掉", "快倒", "要掉", "要塌", "要倒", "迟早",
    "说不定哪天", "早晚", "一碰就", "一推就",
)
# It is going on now.
ONGOING: tuple[str, ...] = (
    "正在", "现在", "还在", "一直", "刚才", "刚刚", "此刻", "目前", "越来越", "不停", "持续", "到现在", "又", "还是",
)
# The reporter hedges: still red (recall first) but flagged for a person.
HEDGES: tuple[str, ...] = (
    "一点", "有点", "好像", "似乎", "不知道", "可能", "隐约", "偶尔", "感觉", "疑似", "是不是", "不确定", "要不要紧",
    "不太确定", "应该没事", "没什么大事", "不是很急", "不急", "小问题", "估计", "怕", "担心", "容易",
)

# --- exposure: who is at risk ----------------------------------------------------------------------

VULNERABLE: tuple[str, ...] = (
    "独居老人", "孤寡老人", "空巢老人", "高龄老人", "老人", "老年人", "老太太", "老大爷", "老爷爷", "老奶奶", "老两口",
    "瘫痪", "卧床", "孕妇", "残疾", "坐轮椅", "行动不便", "小孩", "孩子", "小朋友", "婴儿", "宝宝", "学生", "重病", "病人",
    "透析", "制氧机", "呼吸机", "八十多", "九十多", "七十多", "腿脚不好", "痴呆", "失智", "一个人住",
    "伢子", "伢崽", "细伢", "幼儿", "娃娃", "小娃", "老人家", "公公", "婆婆", "爹爹", "奶奶", "爷爷", "孙子", "孙女",
    "心脏病", "阿尔茨海默",
)
CROWD: tuple[str, ...] = (
    "整栋楼", "整栋", "整幢", "全楼", "整个楼", "整个单元", "全单元", "全小区", "整个小区", "好几栋", "多栋", "所有住户",
    "家家户户", "整片", "好多人", "很多人", "大家", "居民们", "住户们", "人来人往", "上下学", "放学", "上班", "路过",
    "经过", "行人", "天天有人", "人很多", "广场", "几十户", "上百户",
)
# People pass under or by it: exposure for object+state pairs of hazards that strike passers-by.
PASSERS_BY: tuple[str, ...] = (
    "下面就是", "楼下就是", "底下就是", "下面是", "主路", "人行道", "幼儿园", "学校", "出入口", "人来人往", "行人", "路过",
    "经过", "上下学", "放学", "接送",
)
SELF: tuple[str, ...] = ("我家", "我们家", "自己家", "我的", "本人", "我一个人")

# Make a hazard that needs exposure red: extreme weather and night (also for object+state pairs) ...
WEATHER: tuple[str, ...] = (
    "暴雨", "大暴雨", "台风", "寒潮", "高温", "酷暑", "大雪", "暴雪", "冰冻", "零下", "40度", "三十八度", "三十九度",
    "半夜", "深夜", "凌晨", "大半夜", "还在涨", "往上涨", "越来越深", "越来越大",
)
# ... and duration (only for signs: a long outage, days without being seen).
DURATION: tuple[str, ...] = ("好几天", "两天", "三天", "几天", "一整天", "一天一夜", "两三天", "一个星期", "一周")
AMPLIFIERS: tuple[str, ...] = WEATHER + DURATION
# fmt: on

STATUS_LABELS = {"active": "正在发生", "imminent": "即将发生", "hedged": "表述含糊", "negated": "已否定",
                 "resolved": "已处理", "past": "过去的事", "prevention": "预防性表述"}  # fmt: skip
# The same words in English, for the English twin of the reasons staff read (reasons.py).
STATUS_EN = {"active": "happening now", "imminent": "about to happen", "hedged": "vaguely worded",
             "negated": "denied", "resolved": "dealt with", "past": "in the past",
             "prevention": "about prevention"}  # fmt: skip
LABELS_EN: dict[str, str] = {
    "fire": "Fire and smoke",
    "gas": "Gas leak",
    "electrical": "Electrical leak or shock",
    "structural": "Unsafe building or structure",
    "falling_object": "Falling objects",
    "fall_hole": "Falls (manholes, pits, unguarded edges)",
    "water": "Flooding, waterlogging or burst pipes",
    "hazmat": "Dangerous goods",
    "lift": "Trapped in a lift or hurt by one",
    "utility_loss": "Loss of water, power, gas or heating",
    "person_in_distress": "Medical emergency, self-harm or abuse",
    "person_at_risk": "Vulnerable person missing, in danger or left without care",
    "public_order": "Public order and threats to people",
    "health": "Poisoning, infection or acute illness",
    "fire_access": "Fire equipment out of order or escape routes blocked",
    "tree_outdoor": "Fallen trees and outdoor fixtures",
}
_CLAUSE = re.compile(r"[，,。.！!？?；;、\n～~]|……|\.\.\.")
BY_ID: dict[str, Hazard] = {h.id: h for h in HAZARDS}
assert set(LABELS_EN) == set(BY_ID), "every hazard needs its English name"


def label_en(hazard_id: str) -> str:
    """A hazard's name in English words."""
    return LABELS_EN[hazard_id]


@dataclass(frozen=True)
class Hit:
    """One hazard found in a text: which, by which cue, and whether harm is here now."""

    hazard: str
    cue: str
    status: str  # one of STATUS_LABELS
    clause: str
    sign: bool = True  # False: an object+state pair (weaker evidence)


@dataclass(frozen=True)
class Reading:
    """Every hazard hit in a text plus who is exposed."""

    hits: tuple[Hit, ...]
    vulnerable: tuple[str, ...]
    crowd: tuple[str, ...]
    own_home: bool
    amplifiers: tuple[str, ...]
    weather: bool
    imminent: bool
    passers_by: bool
    ongoing: bool

    def live(self) -> tuple[Hit, ...]:
        """Hits whose harm is here now or about to happen (active, imminent or hedged)."""
        return tuple(h for h in self.hits if h.status in ("active", "imminent", "hedged"))

    def red_hits(self) -> tuple[Hit, ...]:
        """Live hits that make a report red: signs (with exposure where the hazard needs it), exposed pairs."""
        exposed = bool(self.vulnerable or self.amplifiers)
        near = bool(self.vulnerable or self.weather or self.passers_by)
        return tuple(
            h
            for h in self.live()
            if h.status == "imminent"
            or (
                (h.sign and (BY_ID[h.hazard].when == "always" or exposed))
                and (BY_ID[h.hazard].when != "vulnerable" or bool(self.vulnerable))
            )
            or (not h.sign and near)
        )


_SENTENCE = re.compile(r"[。！!？?；;\n]|\s{2,}")
_NOISE = re.compile(r"\[[^\]\[]{1,6}\]|@\S+?(?=\s|$)")


_CJK_GAP = re.compile(r"(?<=[\u4e00-\u9fff]) (?=[\u4e00-\u9fff])")
_WORD_GAP = re.compile(r"(?<=[\u4e00-\u9fff0-9]) (?=[\u4e00-\u9fff0-9])")


def _unspaced(text: str) -> str:
    """A text typed word by word ("河 水 涨 到 桥 面 了") without the spaces between its Chinese characters.

    Chat uses a space as a comma, so the reader splits clauses on spaces; a writer who puts a space after every
    word or character (Mandarin as a second language, some voice input) would have every word read alone, and
    "那天…后来是打 119 救的" would lose the words that make it past. Such a text has a space after most words.
    """
    gaps = len(_CJK_GAP.findall(text))
    return _WORD_GAP.sub("", text) if gaps >= 4 and gaps * 3 >= len(re.findall(r"[\u4e00-\u9fff]", text)) else text


def prepare(text: str) -> str:
    """NFKC text, English read through the glossary, without chat artefacts ([图片], @物业); whitespace kept."""
    text = _NOISE.sub(" ", gloss.to_chinese(unicodedata.normalize("NFKC", text or "")))
    return _unspaced(re.sub(r"[ \t\u3000]+", " ", text).strip())


_CUES: frozenset[str] = frozenset(w for hz in HAZARDS for w in (*hz.signs, *hz.objects, *hz.states))


def _clauses(text: str) -> list[str]:
    return [c for c in _CLAUSE.split(text) if c]


def clauses(text: str) -> list[tuple[str, str]]:
    """(sentence, clause) pairs of a prepared text, split as `reading` splits it."""
    return [(s, c) for s in _SENTENCE.split(text) if s for c in _clauses(s.replace(" ", "，"))]


def status(clause: str, at: int, cue: str) -> str:
    """Where the cue stands in its clause: denied, over, past, prevention talk, about to happen, hedged, or now."""
    before = clause[max(0, at - 5) : at]
    lead = clause[max(0, at - 8) : at]
    after = clause[at + len(cue) :]
    if any(before.endswith(n) for n in NEGATIONS) or after.startswith(("没有", "不是")):
        return "negated"
    if any(r in clause for r in RESOLVED):
        return "resolved"
    if any(p in lead for p in PREVENTION):
        return "prevention"
    if any(p in clause for p in PAST) and not any(o in clause for o in ONGOING):
        return "past"
    if any(i in clause for i in IMMINENT):
        return "imminent"
    if any(h in clause for h in HEDGES):
        return "hedged"
    return "active"


def _find(clause: str, words: tuple[str, ...]) -> list[tuple[str, int]]:
    """(word, position) of words present in the clause; a word inside a longer found word is dropped."""
    found = [(w, clause.find(w)) for w in words if w in clause]
    return [(w, i) for w, i in found if not any(w != o and w in o for o, _ in found)]


@functools.lru_cache(maxsize=4096)  # the rules and the model read the same text once each per grade
def reading(text: str) -> Reading:
    """Apply the taxonomy to a text (see `prepare`): hazard hits with status, and the exposure cues.

    A sign counts in its clause; an object+state pair needs both in one sentence (chat splits a thought over
    commas and spaces), and its status is read in the state's clause.
    """
    hits: list[Hit] = []
    for sentence in _SENTENCE.split(text):
        if not sentence:
            continue
        present = {w for w in _CUES if w in sentence}  # one pass over every cue; most sentences hold a few
        if not present:
            continue
        clauses = _clauses(sentence.replace(" ", "，"))
        for hz in HAZARDS:
            signs = tuple(w for w in hz.signs if w in present)
            found_sign = False
            for clause in clauses if signs else ():
                for cue, at in _find(clause, signs):
                    hits.append(Hit(hz.id, cue, status(clause, at, cue), clause))
                    found_sign = True
            if found_sign or not hz.objects:
                continue
            objs = tuple(w for w in hz.objects if w in present)
            states = tuple(w for w in hz.states if w in present)
            objects = [o for c in clauses for o, _ in _find(c, objs)] if objs and states else []
            if not objects:
                continue
            pair = None
            for clause in clauses:
                for state, at in _find(clause, states):
                    if not any(state in o for o in objects):  # the object's own name is not its state
                        pair = Hit(hz.id, f"{objects[0]}…{state}", status(clause, at, state), clause, sign=False)
                        break
                if pair:
                    break
            if pair:
                hits.append(pair)
    flat = text.replace(" ", "")
    return Reading(
        hits=tuple(hits),
        vulnerable=tuple(w for w, _ in _find(flat, VULNERABLE)),
        crowd=tuple(w for w, _ in _find(flat, CROWD)),
        own_home=any(s in flat for s in SELF),
        amplifiers=tuple(w for w, _ in _find(flat, AMPLIFIERS)),
        weather=any(w in flat for w in WEATHER),
        imminent=any(i in flat for i in IMMINENT),
        ongoing=any(o in flat for o in ONGOING),
        passers_by=any(p in flat for p in PASSERS_BY),
    )


def features(r: Reading) -> dict[str, float]:
    """The reading as model features: hazard × status, status counts, exposure and amplifier flags."""
    feats: dict[str, float] = {}
    for h in r.hits:
        feats[f"hz={h.hazard}:{h.status}"] = 1.0
        feats[f"hz_{'sign' if h.sign else 'pair'}={h.status}"] = 1.0
        feats[f"hz_status={h.status}"] = 1.0
        feats["hz_any"] = 1.0
    live = r.live()
    if live:
        feats["hz_live"] = 1.0
        feats["hz_live_n"] = min(3.0, float(len({h.hazard for h in live})))
    if r.red_hits():
        feats["hz_red"] = 1.0
    for name, on in (("vulnerable", r.vulnerable), ("crowd", r.crowd), ("own_home", r.own_home),
                     ("amplifier", r.amplifiers), ("imminent", r.imminent), ("ongoing", r.ongoing),
                     ("passers_by", r.passers_by)):  # fmt: skip
        if on:
            feats[f"exp={name}"] = 1.0
            if live:
                feats[f"live&{name}"] = 1.0
    return feats


def cue_words() -> set[str]:
    """Every cue word of the taxonomy (for the segmenter's dictionary)."""
    words: set[str] = set()
    for hz in HAZARDS:
        words.update(hz.signs)
        words.update(hz.objects)
    words.update(VULNERABLE)
    words.update(CROWD)
    return {w for w in words if len(w) >= 2}


def sign_words() -> set[str]:
    """Every sign of every hazard (the words that reveal a hazard on their own)."""
    return {w for hz in HAZARDS for w in hz.signs}
