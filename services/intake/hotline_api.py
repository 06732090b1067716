"""12345 hotline work orders (12345 工单): the order number is the idempotency key and stays visible to staff."""

from __future__ import annotations

import re
import unicodedata

from fastapi import APIRouter
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from services.intake import domain, hotline_replies
from services.intake.api import Accepted, Submitter, admit
from services.intake.service import Incoming, accept
from services.runtime.directory import load_directory
from services.runtime.inputs import Moment, refuse_controls
from services.runtime.problems import Problem
from services.runtime.service import Ctx

router = APIRouter(prefix="/v1", tags=["intake"])
ORDER_NO_RE = re.compile(r"^[A-Za-z0-9-]{4,64}$")


def _alias(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class HotlineOrderIn(BaseModel):
    """A 12345 work order as the hotline platform hands it over (English or the order's Chinese field names)."""

    model_config = ConfigDict(populate_by_name=True)

    community: str = Field(min_length=1, max_length=64, description="Community the order was dispatched to")
    order_no: str = Field(
        validation_alias=_alias("order_no", "工单编号"), min_length=1, max_length=64, description="工单编号"
    )
    called_at: Moment = Field(validation_alias=_alias("called_at", "来电时间"), description="来电时间")
    content: str = Field(validation_alias=_alias("content", "诉求内容"), min_length=1, max_length=2000)
    contact_name: str | None = Field(None, validation_alias=_alias("contact_name", "联系人"), max_length=32)
    contact_phone: str | None = Field(None, validation_alias=_alias("contact_phone", "联系电话"), max_length=20)
    address: str | None = Field(None, validation_alias=_alias("address", "地址"), max_length=200)
    deadline: Moment | None = Field(None, validation_alias=_alias("deadline", "承办时限"), description="承办时限")
    callback_consent: bool = Field(
        False, validation_alias=_alias("callback_consent", "同意回电"), description="来电人同意社区回电 (是/否)"
    )

    @field_validator("order_no")
    @classmethod
    def _order_no(cls, v: str) -> str:
        v = unicodedata.normalize("NFKC", v).strip().upper()
        if not ORDER_NO_RE.match(v):
            raise ValueError("工单编号只能包含字母、数字和连字符 / Order number: letters, digits and '-' only")
        return v

    @field_validator("content")
    @classmethod
    def _content(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("诉求内容不能为空 / Content must not be blank")
        return v

    @field_validator("callback_consent", mode="before")
    @classmethod
    def _consent(cls, v: object) -> bool:
        consent = domain.consent_value(v)
        if consent is None:
            raise ValueError("同意回电应为「是」或「否」 / Callback consent must be 是 or 否")
        return consent

    @field_validator("contact_phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        v = re.sub(r"[\s-]", "", v).removeprefix("+86")
        if not domain.valid_phone(v):
            raise ValueError("联系电话应为 11 位手机号 / Not a valid mainland mobile number")
        return v


class HotlineAccepted(Accepted):
    """The answer to a hotline order: the report, and the order number it is filed under."""

    order_no: str


@router.post(
    "/hotline-orders", status_code=201, response_model=HotlineAccepted, summary="Submit a 12345 work order (12345工单)"
)
async def submit_hotline_order(
    body: HotlineOrderIn,
    ctx: Ctx,
    who: Submitter,
) -> HotlineAccepted:
    """File a hotline work order as a report; the same order number again returns the same report."""
    community = load_directory().community(body.community)
    if community is None:
        raise Problem(422, f"未知社区「{body.community}」", f"Unknown community {body.community!r}", field="community")
    actor = await admit(ctx, who, community.code, "hotline_12345")
    # accept() refuses them too, but would name its own fields (text, name): name the order's.
    refuse_controls({k: getattr(body, k) for k in ("order_no", "content", "contact_name", "contact_phone", "address")})
    place = domain.parse_place(domain.clean_text(body.address or ""), community) if body.address else None
    inc = Incoming(
        community=community.code,
        channel="hotline_12345",
        channel_message_id=body.order_no,
        text=body.content,
        compound=place.compound if place else None,
        building=place.building if place else None,
        unit=place.unit if place else None,
        room=place.room if place else None,
        name=body.contact_name,
        phone=body.contact_phone,
        callback_consent=body.callback_consent,
        occurred_at=body.called_at,
        due_by=body.deadline,
        provenance={
            "entered_by": actor,
            "order_no": body.order_no,
            "called_at": body.called_at.isoformat(),
            "deadline": body.deadline.isoformat() if body.deadline else None,
        },
    )

    async def work(uow):
        report, created = await accept(uow, inc)
        if created:
            uow.session.add(hotline_replies.opened(report, body.order_no, body.deadline))
        if created and body.deadline:
            report.expected_at = body.deadline  # the hotline's own deadline until the ledger sets one
        return report, created

    report, created = await ctx.bus.run(work, actor=actor)
    return HotlineAccepted(
        report_id=report.id, tracking_code=report.tracking_code, created=created, order_no=body.order_no
    )
