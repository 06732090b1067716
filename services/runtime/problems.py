"""RFC 9457 problem+json errors with field-level messages in Chinese first and English."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.contracts.labels import field_words
from services.runtime.errors import Problem, field_error

__all__ = ["MEDIA_TYPE", "Problem", "field_error", "problem_body", "problem_response"]

log = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"

_TITLES = {
    400: ("请求有误", "Bad request"),
    401: ("未登录或凭证无效", "Not authenticated"),
    403: ("无权执行此操作", "Forbidden"),
    404: ("未找到", "Not found"),
    405: ("不支持的请求方法", "Method not allowed"),
    409: ("状态冲突", "Conflict"),
    413: ("请求内容过大", "Payload too large"),
    415: ("不支持的内容类型", "Unsupported media type"),
    422: ("提交的内容未通过校验", "Validation failed"),
    429: ("请求过于频繁", "Too many requests"),
    500: ("服务器内部错误", "Internal server error"),
    503: ("服务暂不可用", "Service unavailable"),
}

# pydantic error type -> (Chinese, English) message templates.
_MESSAGES = {
    "missing": ("此项必填", "This field is required"),
    "string_too_short": ("内容过短或为空", "Too short or empty"),
    "string_too_long": ("内容过长", "Too long"),
    "too_long": ("条目过多", "Too many items"),
    "too_short": ("条目过少", "Too few items"),
    "string_pattern_mismatch": ("格式不正确", "Wrong format"),
    "literal_error": ("取值不在允许范围内", "Value not allowed"),
    "enum": ("取值不在允许范围内", "Value not allowed"),
    "int_parsing": ("应为整数", "Must be an integer"),
    "float_parsing": ("应为数字", "Must be a number"),
    "bool_parsing": ("应为是/否", "Must be true or false"),
    "datetime_parsing": ("时间格式不正确", "Invalid date-time"),
    "datetime_from_date_parsing": ("时间格式不正确", "Invalid date-time"),
    "json_invalid": ("不是合法的 JSON", "Invalid JSON"),
    "model_attributes_type": ("应为对象", "Must be an object"),
    "dict_type": ("应为对象", "Must be an object"),
    "list_type": ("应为列表", "Must be a list"),
    "string_type": ("应为文本", "Must be a string"),
    "greater_than_equal": ("数值过小", "Value too small"),
    "less_than_equal": ("数值过大", "Value too large"),
    "extra_forbidden": ("不认识的字段", "Unknown field"),
}


def problem_body(
    status: int,
    detail_zh: str,
    detail_en: str,
    *,
    instance: str | None = None,
    errors: list[dict] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The problem+json document: title and detail in Chinese, English alongside."""
    title_zh, title_en = _TITLES.get(status, ("错误", "Error"))
    body = {
        "type": f"https://hall.example/problems/{status}",
        "title": title_zh,
        "title_en": title_en,
        "status": status,
        "detail": detail_zh,
        "detail_en": detail_en,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    body.update(extra)
    return body


def problem_response(
    status: int,
    detail_zh: str,
    detail_en: str,
    *,
    request: Request | None = None,
    errors: list[dict] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem+json response."""
    instance = request.url.path if request is not None else None
    return JSONResponse(
        problem_body(status, detail_zh, detail_en, instance=instance, errors=errors, **extra),
        status_code=status,
        media_type=MEDIA_TYPE,
        headers=headers,
    )


def validation_errors(errors: list[dict]) -> list[dict[str, str]]:
    """Turn pydantic errors into field errors; the location skips 'body'/'query' prefixes."""
    out = []
    for err in errors[:50]:
        loc = [str(p) for p in err.get("loc", ())]
        if loc and loc[0] in ("body", "query", "path", "header", "form"):
            loc = loc[1:]
        zh, en = _MESSAGES.get(err.get("type", ""), ("取值不正确", str(err.get("msg", "Invalid value"))))
        ctx = err.get("ctx") or {}
        if "max_length" in ctx:
            zh, en = f"{zh}（最多 {ctx['max_length']}）", f"{en} (at most {ctx['max_length']})"
        elif "min_length" in ctx:
            zh, en = f"{zh}（至少 {ctx['min_length']}）", f"{en} (at least {ctx['min_length']})"
        if err.get("type") == "value_error" and err.get("msg"):
            msg = str(err["msg"]).removeprefix("Value error, ")
            zh, en = (msg.split(" / ", 1) + [msg])[:2] if " / " in msg else (msg, msg)
        out.append(field_error(".".join(loc) or "body", zh, en))
    return out


def install(app: FastAPI) -> None:
    """Register the problem+json handlers on an app."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem):
        return problem_response(
            exc.status,
            exc.detail_zh,
            exc.detail_en,
            request=request,
            errors=exc.errors,
            headers=exc.headers,
            **exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = validation_errors(list(exc.errors()))
        first = errors[0] if errors else field_error("body", "内容不合法", "Invalid content")
        return problem_response(
            422,
            f"{field_words(first['field'])}：{first['message']}",
            f"{field_words(first['field'], 'en')}: {first['message_en']}",
            request=request,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        title_zh, title_en = _TITLES.get(exc.status_code, ("错误", "Error"))
        detail = exc.detail if isinstance(exc.detail, str) else title_en
        return problem_response(
            exc.status_code, title_zh, detail, request=request, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception):
        log.exception("http.unhandled path=%s", request.url.path)
        return problem_response(500, "服务器内部错误，请稍后再试", "Internal server error", request=request)
