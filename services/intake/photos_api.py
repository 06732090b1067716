"""Residents' photos (随手拍): uploaded once, re-encoded without metadata, kept under intake's storage, staff only.

A photo arrives as the raw bytes of a JPEG, PNG or WebP image (at most 5 MiB). It is decoded with Pillow,
turned upright, scaled to at most 2048 px and written anew as a JPEG: whatever the file carried besides the
picture (EXIF with GPS position and phone model, comments, a script appended to the file) is not copied. The
answer is a reference `uploads/<community>/<yyyy>/<mm>/<id>.jpg` that a report lists in `photos`; only staff
who may read that community's reports can fetch it, never a public page.
"""

from __future__ import annotations

import datetime as dt
import io
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel

from services.intake.api import Submitter, admit
from services.intake.photo_store import PREFIX, REF, path_of, photo_dir
from services.runtime.auth import Principal
from services.runtime.authz import in_scope, require
from services.runtime.directory import load_directory
from services.runtime.problems import Problem
from services.runtime.service import Ctx

router = APIRouter(prefix="/v1", tags=["intake"])

PATH = "/v1/photos"
MAX_BYTES = 5 * 1_048_576
MAX_PIXELS = 40_000_000  # larger is refused before decoding (a decompression bomb)
MAX_SIDE = 2048
TYPES = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n", "image/webp": b"RIFF"}


class PhotoOut(BaseModel):
    """A stored photo: the reference a report lists in `photos`."""

    ref: str
    width: int
    height: int
    bytes: int


PATH = "/v1/photos"
MAX_BYTES = 5 * 1_048_576
MAX_PIXELS = 40_000_000  # larger is refused before decoding (a decompression bomb)
MAX_SIDE = 2048
TYPES = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n", "image/webp": b"RIFF"}


def reencode(data: bytes) -> tuple[bytes, int, int]:
    """Decode an image and write it anew as an upright JPEG of at most MAX_SIDE px, with no metadata at all."""
    try:
        from PIL import Image, ImageOps
    except ImportError:  # pragma: no cover - Pillow is a dependency (pyproject.toml); say so if a venv lacks it
        raise Problem(
            503, "照片上传暂未开通（服务器缺少图像处理组件）", "Photo upload unavailable: Pillow missing"
        ) from None
    bad = Problem(
        422, "照片无法识别，请上传 JPEG、PNG 或 WebP 图片", "Not a readable JPEG, PNG or WebP image", field="photo"
    )
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in ("JPEG", "PNG", "WEBP"):
                raise bad
            if probe.width * probe.height > MAX_PIXELS:
                raise Problem(422, "照片像素过大", "Image has too many pixels", field="photo")
            probe.verify()
        with Image.open(io.BytesIO(data)) as img:
            img = ImageOps.exif_transpose(img)  # upright as the phone showed it, before EXIF is dropped
            img.thumbnail((MAX_SIDE, MAX_SIDE))
            if img.mode not in ("RGB", "L"):
                img = img.convert("RGBA")
                flat = Image.new("RGB", img.size, (255, 255, 255))
                flat.paste(img, mask=img.getchannel("A"))
                img = flat
            out = io.BytesIO()
            img.save(out, "JPEG", quality=85, optimize=True)  # no exif=, icc_profile= or comment: none copied
            return out.getvalue(), img.width, img.height
    except Problem:
        raise
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        raise bad from None


@router.post("/photos", status_code=201, response_model=PhotoOut, summary="Upload a report photo (上传照片)")
async def upload_photo(
    request: Request,
    ctx: Ctx,
    who: Submitter,
    community: Annotated[str, Query(min_length=1, max_length=64)],
    channel: Annotated[str, Query(max_length=32)] = "miniprogram",
) -> PhotoOut:
    """Store one photo for a report about to be submitted; the body is the image itself (image/jpeg, png, webp)."""
    if load_directory().community(community) is None:
        raise Problem(422, f"未知社区「{community}」", f"Unknown community {community!r}", field="community")
    await admit(ctx, who, community, channel)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in TYPES:
        raise Problem(415, "只能上传 JPEG、PNG 或 WebP 图片", "Only JPEG, PNG or WebP images", field="photo")
    data = await request.body()
    if not data:
        raise Problem(422, "照片为空", "Empty photo", field="photo")
    if len(data) > MAX_BYTES:
        raise Problem(413, "照片不能超过 5 MB", "Photos may be at most 5 MiB", field="photo")
    if not data.startswith(TYPES[kind]):
        raise Problem(415, "文件内容与图片类型不符", "The file is not the image type it claims", field="photo")
    jpeg, width, height = reencode(data)
    now = dt.datetime.now(dt.UTC)
    ref = f"{PREFIX}{community}/{now:%Y}/{now:%m}/{uuid.uuid4().hex}.jpg"
    path = photo_dir(ctx.settings) / ref.removeprefix(PREFIX)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(jpeg)
    tmp.replace(path)  # never a half-written file under a name a report can list
    return PhotoOut(ref=ref, width=width, height=height, bytes=len(jpeg))


@router.get("/photos/{ref:path}", summary="A report photo (staff only)")
async def get_photo(
    ref: str, ctx: Ctx, principal: Annotated[Principal, Depends(require("report.read"))]
) -> FileResponse:
    """The stored JPEG, for staff who may read the community's reports."""
    m, path = REF.fullmatch(ref), path_of(ctx.settings, ref)
    if m is None or path is None:
        raise Problem(404, "未找到该照片", "Photo not found")
    in_scope(principal, m.group(1))
    if not path.is_file():
        raise Problem(404, "未找到该照片", "Photo not found")
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})
