"""Photo references people send: an http(s) URL or a path/reference of the platform's own uploads, nothing else.

A `javascript:`, `data:` or `vbscript:` URL (or any other scheme) put where a page shows a photo link runs script
in the reader's browser, so every place a photo enters the platform checks it here once.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

# http(s) with a host; or a reference without a scheme (no colon at all), e.g. uploads/2026/11/abc.jpg or a
# WeChat media id. Not protocol-relative (//host), no backslashes, blanks or control characters.
_HTTP = re.compile(r"(?i:https?)://[A-Za-z0-9.\-\[\]]+(:\d{1,5})?([/?#][^\s\\\x00-\x1f\x7f]*)?", re.ASCII)
_REFERENCE = re.compile(r"/?[\w][\w.\-]*(/[\w.\-]+)*")
MESSAGE = "照片须为 http(s) 链接或平台上传路径 / Photos must be http(s) URLs or upload paths of the platform"


def safe_photo(value: object) -> bool:
    """Tell whether a photo reference is an http(s) URL or a scheme-less upload path/reference."""
    return isinstance(value, str) and bool(_HTTP.fullmatch(value) or _REFERENCE.fullmatch(value))


def _checked(value: str) -> str:
    if not safe_photo(value):
        raise ValueError(MESSAGE)
    return value


Photo = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_checked)]
