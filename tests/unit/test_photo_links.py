"""Photos are http(s) URLs or the platform's own upload paths: script-bearing URLs are refused everywhere."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from services.console.resident import ResidentReportIn
from services.contracts.media import safe_photo
from services.feedback.service import Evidence
from services.intake.api import ReportIn
from services.ledger.api import ActionIn
from services.ledger.supporting_api import SupportActionIn

pytestmark = pytest.mark.unit

SCRIPT = [
    "javascript:alert(document.cookie)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "data:image/svg+xml,<svg onload=alert(1)>",
    "vbscript:msgbox(1)",
    "//evil.example/x.jpg",
    "file:///etc/passwd",
    "https://",
    "https://img.example/a b.jpg",
    "\\\\evil\\share\\x.jpg",
    "../../etc/passwd",
]
GOOD = [
    "https://img.example.cn/2026/11/a.jpg?x=1",
    "HTTP://10.0.0.8:8080/p.png",
    "IMG_20261130_0931.jpg",  # what the resident page takes: a link or a reference
    "uploads/2026/11/abc.jpg",
    "/uploads/door-visits/abc.png",
    "微信图片_20261130.jpg",
]


@pytest.mark.parametrize("value", SCRIPT)
def test_script_and_foreign_scheme_urls_are_not_photos(value):
    assert not safe_photo(value)


@pytest.mark.parametrize("value", GOOD)
def test_http_urls_and_upload_paths_are_photos(value):
    assert safe_photo(value)


def _base(model: type[BaseModel]) -> dict:
    return {
        ReportIn: {"community": "xueyuan", "text": "路灯不亮"},
        ResidentReportIn: {"client_id": "c-12345678", "community": "xueyuan", "text": "路灯不亮"},
        ActionIn: {"note": "已更换"},
        SupportActionIn: {"note": "已更换"},
    }[model]


@pytest.mark.parametrize("model", [ReportIn, ResidentReportIn, ActionIn, SupportActionIn])
@pytest.mark.parametrize("value", SCRIPT[:7])
def test_every_photo_field_refuses_script_urls(model, value):
    with pytest.raises(ValidationError) as err:
        model.model_validate({**_base(model), "photos": ["https://img.example/ok.jpg", value]})
    [problem] = err.value.errors()
    assert problem["loc"] == ("photos", 1) and "照片" in problem["msg"] and "Photos" in problem["msg"]
    assert model.model_validate({**_base(model), "photos": GOOD}).photos == GOOD


@pytest.mark.parametrize("value", SCRIPT[:7])
def test_home_visit_evidence_refuses_script_urls(value):
    with pytest.raises(ValidationError):
        Evidence.model_validate({"photos": [value]})
    with pytest.raises(ValidationError):
        Evidence.model_validate({"signature": value})
    assert Evidence.model_validate({"signature": "sig/2025/06/abc.png"}).signature == "sig/2025/06/abc.png"
