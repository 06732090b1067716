"""Door-to-door visit sheets (敲响邻里门): read CSV (UTF-8/GBK) or XLSX as staff keep them, one report per row."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from typing import Any

from services.intake import domain
from services.runtime.directory import Community
from services.runtime.errors import Problem
from services.runtime.inputs import YEAR_MAX, YEAR_MIN, control_at, year_in_range

MAX_ROWS = 2000
MAX_SHEET_ROWS = MAX_ROWS + 100  # a title, the header and blank lines between blocks
MAX_COLS = 52  # A..AZ: the ten known columns and whatever else staff keep beside them
MAX_UNZIPPED = 64 * 1024 * 1024  # a full 2000-row sheet inflates to a few MiB
MAX_MEMBERS = 500
CST = dt.timezone(dt.timedelta(hours=8))

# Canonical column -> the headers staff really write (compared after NFKC, without spaces, '*' and brackets).
HEADERS: dict[str, tuple[str, ...]] = {
    "date": ("日期", "走访日期", "走访时间", "时间", "登记日期", "date"),
    "visitor": ("走访人", "走访人员", "走访人姓名", "走访干部", "网格员", "登记人", "visitor"),
    "compound": ("小区", "小区名称", "小区名", "所在小区", "compound"),
    "building": ("楼栋", "楼栋号", "楼号", "栋", "幢", "栋号", "building"),
    "unit": ("单元", "单元号", "unit"),
    "room": ("房号", "房间号", "门牌号", "室", "户号", "room"),
    "name": ("居民姓名", "姓名", "户主姓名", "群众姓名", "反映人", "name"),
    "phone": ("联系电话", "电话", "手机", "手机号", "手机号码", "联系方式", "phone"),
    "text": ("反映问题", "问题描述", "诉求内容", "反映内容", "问题", "内容", "意见建议", "诉求", "text", "issue"),
    "kind": ("类型", "类别", "问题类型", "类型问题/建议", "kind", "type"),
    "callback_consent": ("同意回电", "是否同意回电", "同意回访", "可回电", "callback_consent"),
}
# What identifies a row across re-uploads: the columns sheets had before consent was asked (ids stay stable).
ID_KEYS = ("date", "visitor", "compound", "building", "unit", "room", "name", "phone", "text", "kind")
LABELS = {"date": "日期", "visitor": "走访人", "compound": "小区", "building": "楼栋", "unit": "单元",
          "room": "房号", "name": "居民姓名", "phone": "联系电话", "text": "反映问题", "kind": "类型",
          "callback_consent": "同意回电"}  # fmt: skip
KINDS = {"问题": "problem", "问题反映": "problem", "诉求": "problem", "problem": "problem",
         "建议": "suggestion", "意见": "suggestion", "意见建议": "suggestion", "suggestion": "suggestion"}  # fmt: skip
_DATE_RE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:\s+[\d:]+)?$")
_NUMBERED = re.compile(r"^(\d{1,3}|[一二两三四五六七八九十]{1,3})\s*(?:号楼|栋|幢|号|#|单元)?$")


class FileProblem(Problem):
    """The file as a whole cannot be read: nothing from it is stored."""


def _norm(value: Any, *, nfkc: bool = True) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel keeps 301 and phone numbers as floats
    text = unicodedata.normalize("NFKC", str(value)) if nfkc else str(value)
    return re.sub(r"\s+", " ", text).strip()


def _header_key(cell: Any) -> str | None:
    h = re.sub(r"[\s*：:（）()]", "", _norm(cell)).lower()
    for key, names in HEADERS.items():
        if h in names:
            return key
    return None


def sniff(data: bytes) -> str:
    """'xlsx' or 'csv'; other files are 415, an empty one 422."""
    if not data.strip():
        raise FileProblem(422, "文件为空", "The file is empty", field="file")
    if data.startswith(b"PK\x03\x04"):
        return "xlsx"
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileProblem(415, "不支持旧版 .xls，请另存为 .xlsx 或 CSV", "Legacy .xls: save as .xlsx or CSV")
    if b"\x00" in data[:4096] or data.startswith((b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8")):
        raise FileProblem(415, "只接受 CSV 或 XLSX 文件", "Only CSV or XLSX files are accepted")
    return "csv"


def _too_big(zh: str, en: str) -> FileProblem:
    return FileProblem(
        422, f"{zh}，请删除空行空列或拆分后上传", f"{en}; remove empty rows/columns or split it", field="file"
    )


def check_zip(data: bytes) -> None:
    """Refuse a zip that would inflate beyond MAX_UNZIPPED, judged by its members' declared sizes.

    zipfile never inflates a member past its declared size (it fails the CRC instead), so the sum is a bound.
    """
    try:
        infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise FileProblem(422, "XLSX 文件已损坏或无法读取", f"Corrupt or unreadable XLSX: {exc}", field="file") from exc
    if len(infos) > MAX_MEMBERS or sum(i.file_size for i in infos) > MAX_UNZIPPED:
        raise _too_big("XLSX 解压后过大", f"The XLSX inflates beyond {MAX_UNZIPPED // 2**20} MiB")


def read_xlsx(data: bytes) -> list[list[Any]]:
    """The first sheet's rows within the caps: zip sizes and the declared dimension first, then bounded reads."""
    import openpyxl

    check_zip(data)
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise FileProblem(422, "XLSX 文件已损坏或无法读取", f"Corrupt or unreadable XLSX: {exc}", field="file") from exc
    try:
        ws = wb.worksheets[0]
        # The <dimension> a sheet declares drives openpyxl's padding: 50,000 x ZZ empty cells from 5 KB.
        if (ws.max_row or 0) > MAX_SHEET_ROWS or (ws.max_column or 0) > MAX_COLS:
            raise _too_big(
                f"表格范围过大（{ws.max_row} 行 × {ws.max_column} 列，最多 {MAX_SHEET_ROWS} 行 × {MAX_COLS} 列）",
                f"Sheet too large ({ws.max_row} x {ws.max_column}; at most {MAX_SHEET_ROWS} x {MAX_COLS})",
            )
        # A sheet may also declare nothing (or too little): read at most one row past the cap, never more.
        rows = [list(r) for r in ws.iter_rows(max_row=MAX_SHEET_ROWS + 1, max_col=MAX_COLS, values_only=True)]
    except FileProblem:
        raise
    except Exception as exc:
        raise FileProblem(422, "XLSX 文件已损坏或无法读取", f"Corrupt or unreadable XLSX: {exc}", field="file") from exc
    finally:
        wb.close()
    if len(rows) > MAX_SHEET_ROWS:
        raise _too_big(f"表格超过 {MAX_SHEET_ROWS} 行", f"Sheet longer than {MAX_SHEET_ROWS} rows")
    return rows


def read_table(data: bytes) -> tuple[str, str | None, list[list[Any]]]:
    """(format, encoding, rows of cells) from CSV (UTF-8, UTF-8 with BOM, GBK/GB18030) or XLSX."""
    fmt = sniff(data)
    if fmt == "xlsx":
        return fmt, None, read_xlsx(data)
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes almost anything; kept for clarity
        raise FileProblem(422, "无法识别文件编码", "Unknown text encoding", field="file")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    return fmt, "utf-8" if encoding == "utf-8-sig" else "gb18030", list(csv.reader(io.StringIO(text), dialect))


def find_header(rows: list[list[Any]]) -> tuple[int, dict[int, str]]:
    """Index of the header row (a title row may come first) and column -> canonical key."""
    for i, row in enumerate(rows[:5]):
        cols = {j: k for j, cell in enumerate(row) if (k := _header_key(cell))}
        if "text" in cols.values():
            return i, cols
    raise FileProblem(
        422, "找不到「反映问题」列，请检查表头", "No issue column (反映问题) found in the header", field="file"
    )


@dataclass
class Row:
    """One sheet row after normalisation, or the reasons it was refused."""

    number: int
    values: dict[str, str] = field(default_factory=dict)
    errors: list[dict[str, str]] = field(default_factory=list)
    visited_on: dt.date | None = None
    callback_consent: bool = False

    def fail(self, key: str, header: str, zh: str, en: str) -> None:
        self.errors.append({"column": header, "field": key, "message": zh, "message_en": en})

    def message_id(self, community: str) -> str:
        """Stable across re-uploads, encodings and formats: a hash of the community and the normalised row."""
        content = json.dumps([community, *(self.values.get(k, "") for k in ID_KEYS)], ensure_ascii=False)
        return "dv-" + hashlib.sha256(content.encode()).hexdigest()[:40]


def _date(raw: Any) -> dt.date | None:
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    if isinstance(raw, int | float) and 20000 < raw < 80000:  # an Excel serial day number
        return dt.date(1899, 12, 30) + dt.timedelta(days=int(raw))
    m = _DATE_RE.match(_norm(raw))
    if m is None:
        return None
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def _numbered(raw: str) -> str:
    m = _NUMBERED.match(raw)
    return domain._num(m.group(1)) if m else raw


def normalise_row(number: int, cells: dict[str, Any], headers: dict[str, str], community: Community) -> Row:
    """Validate and normalise one row; each bad cell names its column in Chinese and English."""
    row = Row(number)
    v = {k: _norm(cells.get(k)) for k in HEADERS}
    v["text"] = _norm(cells.get("text"), nfkc=False)  # keep the resident's own punctuation (，not ,)
    col = lambda k: headers.get(k, LABELS[k])  # noqa: E731 - the column as the file names it
    if not v["text"]:
        row.fail("text", col("text"), "反映问题不能为空", "The issue text is empty")
    elif len(v["text"]) > 2000:
        row.fail("text", col("text"), "反映问题过长（最多 2000 字）", "Issue text too long (at most 2000)")
    if cells.get("date") not in (None, ""):
        row.visited_on = _date(cells["date"])
        if row.visited_on is None:
            row.fail("date", col("date"), f"日期「{v['date']}」无法识别", f"Unreadable date {v['date']!r}")
        elif not year_in_range(row.visited_on.year):
            row.fail("date", col("date"), f"日期应在 {YEAR_MIN}–{YEAR_MAX} 年之间", "Date out of range")
        elif row.visited_on > dt.datetime.now(CST).date() + dt.timedelta(days=1):
            row.fail("date", col("date"), "走访日期在未来", "Visit date lies in the future")
        else:
            v["date"] = row.visited_on.isoformat()
    if v["compound"]:
        found = community.compound(v["compound"])
        if found is None:
            row.fail("compound", col("compound"), f"本社区没有小区「{v['compound']}」", "Unknown compound")
        else:
            v["compound"] = found.code
    for key, limit in (("building", 32), ("unit", 16), ("room", 16), ("name", 32), ("visitor", 32)):
        if key in ("building", "unit"):
            v[key] = _numbered(v[key])
        if key == "room":
            v[key] = re.sub(r"(室|房|号)$", "", v[key])
        if len(v[key]) > limit:
            row.fail(key, col(key), f"内容过长（最多 {limit} 字）", f"Too long (at most {limit})")
    if v["phone"]:
        phone = re.sub(r"[\s\-()]", "", v["phone"]).removeprefix("+86")
        if not domain.valid_phone(phone):
            row.fail("phone", col("phone"), "联系电话应为 11 位手机号", "Phone must be an 11-digit mobile number")
        v["phone"] = phone
    if v["kind"]:
        kind = KINDS.get(v["kind"].lower())
        if kind is None:
            row.fail("kind", col("kind"), "类型应为「问题」或「建议」", "Type must be 问题 or 建议")
        v["kind"] = kind or v["kind"]
    consent = domain.consent_value(v["callback_consent"])
    if consent is None:
        row.fail(
            "callback_consent", col("callback_consent"), "同意回电应填「是」或「否」", "Callback consent: 是 or 否"
        )
    row.callback_consent = bool(consent)
    for key in HEADERS:
        if control_at(v[key]):  # the rule every report obeys (accept); here it costs only this row
            row.fail(key, col(key), "含有不可见的控制字符", "Contains control characters")
    row.values = v
    return row


def parse_sheet(data: bytes, community: Community) -> tuple[dict[str, Any], list[Row]]:
    """Read a whole file into rows; a file that cannot be read raises FileProblem."""
    fmt, encoding, table = read_table(data)
    start, columns = find_header(table)
    headers = {key: _norm(table[start][j]) for j, key in columns.items()}
    rows: list[Row] = []
    for i, raw in enumerate(table[start + 1 :], start=start + 2):
        if not any(_norm(c) for c in raw):
            continue  # blank lines between blocks are common
        if len(rows) >= MAX_ROWS:
            raise FileProblem(
                422, f"每个文件最多 {MAX_ROWS} 行，请拆分后上传", f"At most {MAX_ROWS} rows per file", field="file"
            )
        cells = {key: raw[j] for j, key in columns.items() if j < len(raw)}
        rows.append(normalise_row(i, cells, headers, community))
    return {"format": fmt, "encoding": encoding, "columns": sorted(columns.values())}, rows


def grid_member(community: Community, compound: str, building: str, visitor: str) -> dict:
    """{grid, visitor_role} when the sheet's visitor is a member of the building's grid in the directory, else {}."""
    found = community.compound(compound) if compound else None
    place = found.building(building) if found and building else None
    grid = community.grid_of(found.code, place.code) if found and place else None
    member = grid.member(visitor.strip()) if grid and visitor else None
    return {"grid": grid.code, "visitor_role": member.role} if member else {}
