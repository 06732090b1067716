"""Phrase tables for triage grading (分类领办).

Pure data: every list here is read by `services.triage.domain`. Keeping the tables apart from the logic
lets staff review and extend the vocabulary without touching the grading rules.
"""

from __future__ import annotations

from services.contracts import labels

# Tables are packed several phrases per line for review; keep the formatter from exploding them.
# fmt: off

CATEGORIES: tuple[str, ...] = (
    "parking", "road", "lighting", "drainage", "elevator", "greening", "sanitation", "safety_fire",
    "utilities", "property_management", "noise", "pets", "construction", "neighbor_dispute",
    "elderly_care", "children", "accessibility", "security_access", "public_facilities", "other",
)

CATEGORY_LABELS: dict[str, str] = labels.zh_map("category")

# Livelihood matters that usually touch many households (牵涉群体较多的民生事项) start at yellow;
# the rest are needs of particular groups or individuals and start at green.
YELLOW_CATEGORIES: frozenset[str] = frozenset(
    {
        "parking", "road", "lighting", "drainage", "elevator", "greening", "sanitation", "safety_fire",
        "utilities", "property_management", "noise", "construction", "security_access",
        "public_facilities",
    }
)

# Keyword tables. A keyword's weight is its length in characters (longer = more specific), and a keyword
# contained in a longer matched keyword of the same category is not counted twice.
CATEGORY_KEYWORDS: dict[str, tuple[str, ...]] = {
    "parking": (
        "停车", "车位", "乱停", "乱停车", "乱停乱放", "占道停车", "停车场", "停车位", "充电桩", "僵尸车",
        "车库", "地库", "挡住车", "挡道", "占用车位", "私家车", "电瓶车", "电动车", "停满", "挪车", "道闸",
        "停车费", "停车难", "车辆", "外来车辆",
    ),
    "road": (
        "道路", "路面", "马路", "坑", "坑洼", "坑坑洼洼", "井盖", "路不平", "修路", "人行道", "减速带",
        "地砖松动", "水泥路", "道路硬化", "巷子", "路口", "斑马线", "泥巴路", "烂路", "路面破损", "路基",
        "路面塌陷", "通道",
    ),
    "lighting": (
        "路灯", "楼道灯", "灯不亮", "不亮", "灯坏", "灯泡", "声控灯", "照明", "黑灯瞎火", "太黑", "很黑",
        "漆黑", "亮化", "感应灯", "庭院灯", "太暗", "没有灯", "装灯", "灯管", "灯",
    ),
    "drainage": (
        "下水道", "下水管", "下水", "排水", "排污", "堵塞", "堵了", "管道堵", "污水", "化粪池", "积水",
        "返水", "反水", "冒水", "漫水", "地漏", "雨水管", "排水沟", "阴沟", "臭水", "疏通", "污水井",
        "窨井", "倒灌", "淹水", "马桶堵", "管网", "污水管", "积水严重", "严重积水",
    ),
    "elevator": (
        "电梯", "加装电梯", "困人", "直梯", "电梯故障", "电梯停运", "维保", "年检", "电梯异响", "轿厢",
        "爬楼", "关在电梯",
    ),
    "greening": (
        "绿化", "树", "树木", "大树", "树枝", "修剪", "草坪", "草地", "花坛", "杂草", "毁绿", "种菜",
        "绿地", "落叶", "枯树", "虫害", "树根", "挡光", "菜地", "绿化带",
    ),
    "sanitation": (
        "垃圾", "卫生", "垃圾桶", "清运", "乱扔", "脏", "臭", "异味", "老鼠", "蟑螂", "蚊子", "苍蝇",
        "保洁", "打扫", "清扫", "垃圾分类", "建筑垃圾", "堆放", "杂物", "小广告", "牛皮癣", "发臭",
        "环境差", "消杀", "脏乱差",
    ),
    "safety_fire": (
        "消防", "灭火器", "消火栓", "消防栓", "消防通道", "安全隐患", "隐患", "火灾", "着火", "起火",
        "冒烟", "漏电", "电线裸露", "电线", "触电", "飞线", "飞线充电", "电动车上楼", "电瓶车上楼",
        "楼道堆物", "高空抛物", "坠物", "危房", "开裂", "裂缝", "坍塌", "塌陷", "烟感", "应急灯",
        "安全出口", "防火门", "燃气泄漏", "煤气味", "燃气味", "漏气", "危险", "外墙脱落",
    ),
    "utilities": (
        "停水", "停电", "断水", "断电", "没水", "没电", "水压", "水压低", "自来水", "水质", "黄水", "浑水",
        "电费", "电表", "水表", "燃气", "天然气", "煤气", "暖气", "供暖", "不热", "热水", "跳闸", "电压",
        "宽带", "水管", "爆管", "水管爆裂", "供电", "供水", "变压器", "电箱", "停气",
    ),
    "property_management": (
        "物业", "物业费", "收费", "乱收费", "保安", "物业公司", "服务态度", "不作为", "管理费", "维修基金",
        "业委会", "公共收益", "物业经理", "报修", "管家", "换物业",
    ),
    "noise": (
        "噪音", "噪声", "太吵", "扰民", "广场舞", "装修声", "装修噪音", "音响", "喇叭", "唱歌", "喧哗",
        "吵闹", "声音很大", "电钻", "吵得",
    ),
    "pets": (
        "狗", "猫", "宠物", "狗屎", "狗粪", "遛狗", "拴绳", "不牵绳", "流浪猫", "流浪狗", "犬", "养狗",
        "狗叫", "被狗咬", "鸽子", "养鸡",
    ),
    "construction": (
        "违建", "违章建筑", "违章搭建", "搭建", "私搭乱建", "施工", "工地", "装修", "阳光房", "封阳台",
        "拆除", "占用公共", "砌墙", "开挖", "工程", "夜间施工", "渣土", "脚手架", "搭棚",
    ),
    "neighbor_dispute": (
        "邻居", "邻里", "纠纷", "吵架", "矛盾", "漏水到楼下", "渗水", "漏水", "对门", "隔壁", "打架",
        "争执", "不讲理", "楼上漏水", "天花板漏水", "楼上", "楼下",
    ),
    "elderly_care": (
        "老人", "老年人", "独居老人", "孤寡老人", "空巢老人", "助餐", "老年食堂", "长者食堂", "养老",
        "居家养老", "日间照料", "高龄", "老年活动室", "助浴", "陪护", "失能", "失智", "探访", "老人家",
    ),
    "children": (
        "孩子", "小孩", "儿童", "小朋友", "游乐", "游乐设施", "滑梯", "秋千", "托管", "四点半课堂", "学生",
        "幼儿园", "放学", "婴儿", "宝宝", "托育", "暑期",
    ),
    "accessibility": (
        "无障碍", "坡道", "轮椅", "扶手", "残疾", "盲道", "残疾人", "行动不便", "拐杖", "台阶太高",
        "无障碍通道", "助行",
    ),
    "security_access": (
        "门禁", "监控", "摄像头", "单元门", "门锁", "防盗门", "外来人员", "陌生人", "小偷", "被盗", "盗窃",
        "刷卡", "人脸识别", "门卫", "巡逻", "闸机", "安防", "可视对讲", "门禁卡",
    ),
    "public_facilities": (
        "健身器材", "座椅", "长椅", "凳子", "公共设施", "凉亭", "宣传栏", "公告栏", "晾衣", "晾晒", "公厕",
        "厕所", "活动室", "篮球场", "自行车棚", "车棚", "信报箱", "快递柜", "健身", "休闲椅", "活动场地",
    ),
    "other": (),
}

# --- red (急难险重) signals -----------------------------------------------------------------------

# Utility outages: routine alone, red when combined with scope, weather, duration, vulnerability or night.
OUTAGE_PHRASES: tuple[str, ...] = (
    "停水", "停电", "断水", "断电", "没水", "没电", "没有水", "没有电", "停气", "断气", "没暖气",
    "没有暖气", "暖气不热", "停暖", "没有热水", "暖气停了", "水停了", "电停了", "冻住",
)

# A planned outage that was announced is routine, not an emergency.
PLANNED_OUTAGE_MARKERS: tuple[str, ...] = (
    "计划停水", "计划停电", "停水通知", "停电通知", "检修停电", "检修停水", "预计恢复",
)

# Mild flooding: routine drainage alone, red with extreme weather or vulnerable residents.
MILD_FLOOD_PHRASES: tuple[str, ...] = ("积水", "进水", "漫水", "水漫", "冒水")

# Risks that are red only when a vulnerable person is involved.
VULNERABLE_RISK_PHRASES: tuple[str, ...] = (
    "摔倒", "跌倒", "联系不上", "没人照顾", "无人照料", "生病", "发烧", "没饭吃", "没吃东西", "没力气",
    "找不到大人", "走丢",
)

VULNERABLE_PHRASES: tuple[str, ...] = (
    "独居老人", "孤寡老人", "空巢老人", "高龄老人", "老人", "瘫痪", "卧床", "孕妇", "残疾", "小孩", "孩子",
    "婴儿", "宝宝", "重病", "透析", "行动不便", "坐轮椅",
)

SCOPE_PHRASES: tuple[str, ...] = (
    "整栋楼", "整栋", "整幢", "全楼", "整个楼", "整个单元", "整单元", "全单元", "全小区", "整个小区",
    "好几栋", "多栋", "全部住户", "所有住户", "家家户户", "整片",
)

WEATHER_PHRASES: tuple[str, ...] = (
    "暴雨", "大暴雨", "台风", "寒潮", "高温", "酷暑", "大雪", "暴雪", "冰冻", "冻住", "40度", "零下",
)

NIGHT_PHRASES: tuple[str, ...] = ("晚上", "夜里", "半夜", "深夜", "凌晨", "夜间", "大半夜")

# Immediately before a phrase: the phrase is denied or preventive, not an occurrence.
NEGATION_PREFIXES: tuple[str, ...] = (
    "没有", "没", "无", "未", "不是", "不", "并未", "并没有", "未发现", "没发现", "没有发现", "不存在", "排除",
)

# A few characters before a phrase in the same clause: prevention talk ("防止电动车着火"), not an event.
PREVENTION_WORDS: tuple[str, ...] = ("防止", "预防", "以防", "避免", "杜绝", "演练", "宣传")

# Immediately after a phrase: the danger is already over.
RESOLVED_SUFFIXES: tuple[str, ...] = (
    "已修好", "已经修好", "已处理", "已经处理", "已解决", "已排除", "已恢复", "已经恢复", "恢复了", "处理好了",
    "修好了", "解决了",
)

# Hedging or worry: the danger is uncertain. Still graded red (missing red is the worst error) but
# flagged for a human.
HEDGE_WORDS: tuple[str, ...] = (
    "一点", "有点", "好像", "似乎", "不知道", "可能", "隐约", "偶尔", "感觉", "疑似", "是不是", "不确定",
    "要不要紧", "怕", "担心", "以免", "万一", "容易",
)

# One household's own need (green) unless a collective marker says many are affected.
INDIVIDUAL_PHRASES: tuple[str, ...] = (
    "我家", "我的", "我妈", "我爸", "我们家", "自己家", "本人", "我女儿", "我儿子", "我孩子", "我窗户",
)
# Many people share the problem: a need of a particular group becomes a livelihood matter (yellow).
COLLECTIVE_PHRASES: tuple[str, ...] = (
    "大家", "好多人", "很多人", "好几户", "多户", "邻居们", "住户们", "业主们", "居民们", "整个", "全小区",
    "都不敢", "孩子们", "小朋友们", "太多了", "越来越多", "到处都是", "成群",
)

# Emotional words that must not by themselves raise the level.
ALARM_WORDS: tuple[str, ...] = (
    "吓死人", "吓死", "太吓人", "吓人", "急死", "气死", "要命", "崩溃", "烦死", "吵死", "十万火急", "急急急",
    "紧急", "赶紧", "快来人", "要出人命", "不得了",
)  # fmt: skip

# --- route (直接办 vs 上会议事) signals -----------------------------------------------------------

UNCLEAR_RESPONSIBILITY: tuple[str, ...] = (
    "权责不清", "归谁管", "谁来管", "谁管", "没人负责", "推来推去", "互相推诿", "推诿", "踢皮球",
    "不归我们管", "三不管", "产权不清", "责任不清",
)
SHARED_COST: tuple[str, ...] = (
    "费用分摊", "分摊", "维修基金", "维修资金", "谁出钱", "出钱", "集资", "钱谁出", "费用由谁",
)
# "吵" alone usually means noise (太吵了), so only compound forms count as a dispute.
DISAGREEMENT: tuple[str, ...] = (
    "不同意", "反对", "纠纷", "吵架", "争吵", "吵起来", "矛盾", "不配合", "拒绝", "不让", "扯皮",
    "意见不一", "有意见", "不肯",
)
STRONG_REACTION: tuple[str, ...] = (
    "群众反映强烈", "反映强烈", "多次反映", "反复反映", "多次投诉", "反复投诉", "一直没人管", "没人管",
    "一直没解决", "迟迟", "一直拖", "好几次", "屡次", "意见很大", "反复",
)
COLLECTIVE_DECISION: tuple[str, ...] = (
    "加装电梯", "加装", "改造", "增设", "新建", "扩建", "改建", "规划", "建一个", "修建", "统一更换",
)

# --- kind (问题 vs 意见建议) signals --------------------------------------------------------------

SUGGESTION_PHRASES: tuple[str, ...] = (
    "建议", "提议", "倡议", "希望能", "希望增加", "希望增设", "希望可以", "可否", "能否", "最好能",
    "能不能增加", "能不能加", "能不能建", "能不能装", "能不能设", "能不能多", "可不可以增加",
    "是否可以增加", "要是能", "如果能",
)

# fmt: on
