"""Open311 GeoReport v2 on intake (/open311/v2): services, requests, tokens; JSON and XML; published data masked."""

from __future__ import annotations

import datetime as dt
from typing import Any

from services.contracts.refs import ledger_ref
from services.contracts.vocabulary import Category
from services.intake.models import Report
from services.runtime.directory import Community, load_directory
from services.runtime.inputs import year_in_range
from services.runtime.privacy import public_photo, public_text

# service_code = category id; (Chinese name, group, keywords, description).
SERVICES: dict[str, tuple[str, str, str, str]] = {
    "parking": ("停车", "交通出行", "停车,车位,占道,电动车,充电", "小区停车、车位、乱停放、充电桩"),
    "road": ("道路", "交通出行", "道路,坑洼,破损,路面", "小区道路、人行道破损与坑洼"),
    "lighting": ("照明", "公共设施", "路灯,楼道灯,照明,不亮", "路灯、楼道灯不亮或损坏"),
    "drainage": ("排水", "公共设施", "下水道,堵塞,积水,化粪池", "下水道堵塞、积水、污水外溢"),
    "elevator": ("电梯", "公共设施", "电梯,困人,故障,加装电梯", "电梯故障、困人、加装电梯"),
    "greening": ("绿化", "环境卫生", "绿化,树木,草坪,修剪", "绿地、树木、草坪养护"),
    "sanitation": ("环境卫生", "环境卫生", "垃圾,卫生,清运,异味", "垃圾清运、卫生死角、异味"),
    "safety_fire": ("消防与安全", "安全", "消防,通道,电线,冒烟,隐患", "消防通道、电线裸露等安全隐患"),
    "utilities": ("水电气暖", "公共设施", "停水,停电,水压,燃气,暖气", "供水、供电、燃气、供暖"),
    "property_management": ("物业服务", "物业", "物业,服务,收费,保洁,保安", "物业服务质量与收费"),
    "noise": ("噪声", "环境卫生", "噪音,扰民,广场舞,装修", "噪声扰民"),
    "pets": ("宠物", "邻里", "宠物,狗,犬,粪便", "宠物管理、犬只扰民"),
    "construction": ("违建与施工", "安全", "违建,搭建,施工,装修", "违章搭建、施工扰民"),
    "neighbor_dispute": ("邻里纠纷", "邻里", "纠纷,矛盾,漏水,邻居", "邻里之间的纠纷与矛盾"),
    "elderly_care": ("为老服务", "民生服务", "老人,养老,助餐,独居", "老年人助餐、照护等需求"),
    "children": ("儿童", "民生服务", "儿童,游乐,托管,四点半课堂", "儿童活动场地与托管"),
    "accessibility": ("无障碍", "民生服务", "无障碍,坡道,扶手,轮椅", "无障碍设施"),
    "security_access": ("门禁安防", "安全", "门禁,监控,防盗,单元门", "门禁、监控与安防"),
    "public_facilities": ("公共设施", "公共设施", "健身器材,座椅,宣传栏,设施", "公共设施的维护与增设"),
    "other": ("其他", "其他", "其他", "以上类别之外的问题和建议"),
}
assert set(SERVICES) == set(Category.__args__)  # every category is a service, and only those


def format_of(fmt: str) -> str | None:
    return fmt if fmt in ("json", "xml") else None


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.isoformat(timespec="seconds")


def service_of(code: str) -> dict[str, Any]:
    name, group, keywords, description = SERVICES[code]
    return {
        "service_code": code,
        "service_name": name,
        "description": description,
        "metadata": False,
        "type": "realtime",
        "keywords": keywords,
        "group": group,
    }


def masked_address(r: Report, community: Community | None) -> str | None:
    """Published places stop at compound and building: "金泰和庄12号楼"."""
    compound = community.compound(r.compound) if community and r.compound else None
    if compound is None:
        return community.name if community else None
    return compound.name + (f"{r.building}号楼" if r.building else "")


def published(r: Report) -> dict[str, Any]:
    """One service request as anyone may read it: no name, phone, room or household reference, masked or not."""
    community = load_directory().community(r.community)
    # Triage's category once the report is graded (every channel's reports), else what the client chose.
    code = r.category or r.category_hint or None
    return {
        "service_request_id": r.id,
        "status": "closed" if r.status == "closed" else "open",
        "status_notes": public_text(r.status_note),
        "service_name": SERVICES[code][0] if code in SERVICES else None,
        "service_code": code,
        "description": public_text(r.text),
        "agency_responsible": public_text(r.responsible),
        "service_notice": None,
        "requested_datetime": _iso(r.received_at),
        "updated_datetime": _iso(r.updated_at),
        "expected_datetime": _iso(r.expected_at),
        "address": masked_address(r, community),
        "address_id": None,
        "zipcode": None,
        "lat": None,
        "long": None,
        # A photo whose address holds a name, phone or room (…/13955556671_王建华.jpg) is not shown.
        "media_url": next((p for p in r.photos if public_photo(p)), None),
        # Extension: the matter's reference in the monthly disclosure (一月一公示), once it is graded.
        "ledger_ref": ledger_ref(r.matter_id) if r.matter_id else None,
    }


def parse_moment(value: str) -> dt.datetime | None:
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if not year_in_range(parsed.year):  # 0001-01-01T00:00+23:59 overflows once compared in UTC
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
