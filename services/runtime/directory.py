"""The county directory: one validated YAML file that operators edit.

Communities with their hall (place, fixed day, quorum), five-party roster, departments, compounds
and buildings, and triage phrase additions. Parsing and validation only; no business rules.

    from services.runtime.directory import load_directory
    d = load_directory()              # path, or $HALL_DIRECTORY, or deploy/county.demo.yaml
    community, compound = d.find_compound("金泰和庄3号楼下水道堵了")
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from services.contracts.vocabulary import Category

PARTIES = ("party_org", "owners_committee", "property_company", "resident_rep", "partner_unit")

# Category identifiers come from the wire vocabulary, so a typo in the operator-edited file (in
# departments or phrases) is caught at load time instead of silently never matching.
CATEGORIES: tuple[str, ...] = get_args(Category)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PATH = REPO_ROOT / "deploy" / "county.demo.yaml"
ENV_VAR = "HALL_DIRECTORY"
# libyaml's safe loader parses a 1,000-community directory in about a second; the pure-Python one took 80 s.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

SLUG = r"^[a-z0-9][a-z0-9_-]*$"
Text = Annotated[str, StringConstraints(min_length=1)]
Slug = Annotated[str, StringConstraints(pattern=SLUG)]


class DirectoryError(ValueError):
    """The directory file is missing, unparsable or invalid; the message names the file and field."""


class _FieldError(ValueError):
    """A validation error located below the validated object (e.g. `compounds[2].code`)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


class _Model(BaseModel):
    # Forbid unknown keys so operator typos ("househlds") fail loudly; frozen because loaded
    # directories are cached and shared.
    # Numbers are accepted where text is expected: operators write `code: 12` for building 12.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, coerce_numbers_to_str=True)


class Member(_Model):
    name: Text
    unit: str | None = None
    role: str | None = None
    phone: str | None = None
    email: str | None = None
    wecom_id: str | None = None


class Department(_Model):
    code: Slug
    name: Text
    categories: list[str] = []
    contacts: list[Member] = []  # who receives reminders when the department is the responsible unit

    @field_validator("categories")
    @classmethod
    def _known_categories(cls, value: list[str]) -> list[str]:
        for i, cat in enumerate(value):
            if cat not in CATEGORIES:
                raise _FieldError(f"[{i}]", f"unknown category {cat!r} (expected one of {', '.join(CATEGORIES)})")
        return value


class Building(_Model):
    code: Text
    name: Text
    units: int = Field(default=1, ge=1)
    floors: int | None = Field(default=None, ge=1)
    households: int | None = Field(default=None, ge=0)
    area_m2: float | None = Field(default=None, gt=0)


class Notices(_Model):
    """How a community's notices (invitations, changes, reminders) are delivered; default: a log line."""

    channel: str = Field(default="log", pattern="^(log|wecom|smtp|sms)$")
    webhook_url: str | None = None  # wecom: the group bot's webhook
    sms_gateway_url: str | None = None  # sms: an HTTP gateway taking {"phone", "text"}
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_sender: str | None = None

    @model_validator(mode="after")
    def _channel_needs(self) -> Notices:
        if self.channel == "wecom" and not self.webhook_url:
            raise _FieldError(".webhook_url", "channel wecom needs webhook_url")
        if self.channel == "smtp" and not (self.smtp_host and self.smtp_sender):
            raise _FieldError(".smtp_host", "channel smtp needs smtp_host and smtp_sender")
        if self.channel == "sms" and not self.sms_gateway_url:
            raise _FieldError(".sms_gateway_url", "channel sms needs sms_gateway_url")
        return self


class CompoundHall(_Model):
    """A compound's own deliberation group (小区议事会, 小事不出小区), convened with the community's grid worker."""

    place: Text
    fixed_day: str | None = None  # default: the community hall's rule
    topics_per_session: int = Field(default=3, ge=1)
    # party_org at a compound meeting is the community's grid worker of the compound's grid.
    quorum: list[str] = ["party_org", "property_company", "resident_rep"]
    # Who convenes and sits: owners' committee, 楼栋长 (resident_rep), property company; party -> members.
    members: dict[str, list[Member]] = {}
    categories: list[str] | None = None  # matters it may take; None: the meeting service's default list
    max_households: int = Field(default=50, ge=1)  # more households than this: 大事, the community hall

    @field_validator("quorum")
    @classmethod
    def _quorum_parties(cls, value: list[str]) -> list[str]:
        for i, party in enumerate(value):
            if party not in PARTIES:
                raise _FieldError(f"[{i}]", f"unknown party {party!r} (expected one of {', '.join(PARTIES)})")
        return value

    @field_validator("members")
    @classmethod
    def _member_parties(cls, value: dict[str, list[Member]]) -> dict[str, list[Member]]:
        for key in value:
            if key not in PARTIES:
                raise _FieldError(f".{key}", f"unknown party {key!r} (expected one of {', '.join(PARTIES)})")
        return value

    @field_validator("categories")
    @classmethod
    def _hall_categories(cls, value: list[str] | None) -> list[str] | None:
        for i, cat in enumerate(value or []):
            if cat not in CATEGORIES:
                raise _FieldError(f"[{i}]", f"unknown category {cat!r}")
        return value


class Compound(_Model):
    code: Slug
    name: Text
    aliases: list[str] = []
    buildings: list[Building] = []
    property_company: str | None = None
    hall: CompoundHall | None = None  # its own 议事 group; None: its matters go to the community hall
    board: str | None = None  # where its notice board (公告栏) stands; default "<name>公告栏"
    owners_group: Notices | None = None  # the owners' WeChat/WeCom group the monthly notice is pushed to

    @model_validator(mode="after")
    def _unique_buildings(self) -> Compound:
        _check_unique([b.code for b in self.buildings], "buildings[{i}].code")
        return self

    @property
    def board_name(self) -> str:
        """The compound's notice board (小区公告栏)."""
        return self.board or f"{self.name}公告栏"

    @property
    def households(self) -> int:
        """Households of the compound, as far as the directory knows them."""
        return sum(b.households or 0 for b in self.buildings)

    def building(self, code: str) -> Building | None:
        """The building with this code ("12") or name ("12号楼")."""
        return next((b for b in self.buildings if code in (b.code, b.name)), None)

    @property
    def names(self) -> list[str]:
        """Every string that names this compound: code, name and aliases."""
        return [self.code, self.name, *self.aliases]


class Hall(_Model):
    place: Text
    fixed_day: Text  # e.g. "每月15日 09:00" or "每月第二个星期四 14:30"; parsed by the meeting service
    topics_per_session: int = Field(default=5, ge=1)
    quorum: list[str] = list(PARTIES)
    emergency_within_hours: int = Field(default=24, ge=1)

    @field_validator("quorum")
    @classmethod
    def _known_parties(cls, value: list[str]) -> list[str]:
        for i, party in enumerate(value):
            if party not in PARTIES:
                raise _FieldError(f"[{i}]", f"unknown party {party!r} (expected one of {', '.join(PARTIES)})")
        _check_unique(value, "[{i}]")
        return value


HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
LEAD_PARTIES = ("party_org", "property_company", "partner_unit")


class Shift(_Model):
    """One on-call shift (值班): who leads a red matter from `start` to `end` on `days` (ISO weekdays)."""

    start: Annotated[str, StringConstraints(pattern=HHMM)] = "00:00"
    end: Annotated[str, StringConstraints(pattern=HHMM)] = "00:00"  # before start: over midnight; equal: all day
    days: list[int] = [1, 2, 3, 4, 5, 6, 7]
    lead: str = "party_org"
    unit: str | None = None  # the lead unit; default: the compound's property company or the people's unit
    people: list[str | Member] = []  # roster names, or duty contacts not on the roster (a duty phone)

    @field_validator("days")
    @classmethod
    def _weekdays(cls, value: list[int]) -> list[int]:
        for i, day in enumerate(value):
            if not 1 <= day <= 7:
                raise _FieldError(f"[{i}]", f"weekday {day} is not 1 (Monday) .. 7 (Sunday)")
        return value

    @field_validator("lead")
    @classmethod
    def _lead(cls, value: str) -> str:
        if value not in LEAD_PARTIES:
            raise _FieldError("", f"unknown lead {value!r} (expected one of {', '.join(LEAD_PARTIES)})")
        return value


class OnCall(_Model):
    """A community's on-call roster for red matters, and its party secretary (the first escalation)."""

    shifts: list[Shift] = []
    secretary: str | None = None  # a party_org roster name; default: the first party_org member titled 书记


class Emergency(_Model):
    """County-wide emergency timers (docs/emergency.md)."""

    first_action_hours: int = Field(default=4, ge=1, le=72)
    repage_minutes: int = Field(default=5, ge=1, le=120)
    pages_per_tier: int = Field(default=2, ge=1, le=10)  # unacknowledged pages before escalating a tier


class GridMember(_Model):
    """Somebody who knocks on the grid's doors: a grid worker, a building head or a party member."""

    name: Text
    role: Annotated[str, StringConstraints(pattern="^(grid_worker|building_head|party_member)$")]
    phone: str | None = None
    wecom_id: str | None = None
    buildings: list[str] = []  # "compound:building" a building head looks after (within the grid's buildings)


class Grid(_Model):
    """A grid (网格): the buildings it covers ("compound:building", e.g. "jintaihezhuang:12") and its members."""

    code: Slug
    name: Text
    buildings: list[str]
    members: list[GridMember] = []

    def member(self, name: str) -> GridMember | None:
        """The member with this name."""
        return next((m for m in self.members if m.name == name), None)


def building_key(compound: str, building: str) -> str:
    """How grids name a building: "<compound code>:<building code>"."""
    return f"{compound}:{building}"


class Community(_Model):
    code: Slug
    name: Text
    hall: Hall
    roster: dict[str, list[Member]]
    departments: list[Department] = []
    compounds: list[Compound]
    phrases: dict[str, list[str]] = {}  # category -> extra triage phrases for this community
    notices: Notices = Notices()
    on_call: OnCall = OnCall()
    # Who takes a direct matter of a category (一般性问题立即解决), overriding the ledger's default rule:
    # "property_company", "party_org", a department code, or a unit on the roster.
    direct_routes: dict[str, str] = {}
    grids: list[Grid] = []
    party_board: str | None = None  # the party branch's board (支部党建宣传栏); default "<name>党建宣传栏"

    @property
    def party_board_name(self) -> str:
        """The community's party-building board (支部党建宣传栏)."""
        return self.party_board or f"{self.name}党建宣传栏"

    def grid_workers_of(self, compound: str) -> list[GridMember]:
        """The grid workers (网格员) of the grids covering a compound's buildings."""
        prefix = f"{compound}:"
        grids = [g for g in self.grids if any(b.startswith(prefix) for b in g.buildings)]
        return [m for g in grids for m in g.members if m.role == "grid_worker"]

    @field_validator("roster")
    @classmethod
    def _five_parties(cls, value: dict[str, list[Member]]) -> dict[str, list[Member]]:
        for key in value:
            if key not in PARTIES:
                raise _FieldError(f".{key}", f"unknown party {key!r} (expected one of {', '.join(PARTIES)})")
        missing = [p for p in PARTIES if p not in value]
        if missing:
            raise _FieldError("", f"missing part{'ies' if len(missing) > 1 else 'y'} {', '.join(missing)}")
        return value

    @field_validator("phrases")
    @classmethod
    def _phrase_categories(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        # Keys are category ids (extra keywords) or the two signal lists triage reads: danger, vulnerable.
        for key in value:
            if key not in CATEGORIES and key not in ("danger", "vulnerable"):
                raise _FieldError(f".{key}", f"unknown category {key!r} (or 'danger' / 'vulnerable')")
        return value

    @field_validator("direct_routes")
    @classmethod
    def _route_categories(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if key not in CATEGORIES:
                raise _FieldError(f".{key}", f"unknown category {key!r}")
        return value

    @model_validator(mode="after")
    def _unique_compounds(self) -> Community:
        _check_unique([c.code for c in self.compounds], "compounds[{i}].code")
        _check_unique([d.code for d in self.departments], "departments[{i}].code")
        names = {m.name for members in self.roster.values() for m in members}
        for i, shift in enumerate(self.on_call.shifts):
            for j, person in enumerate(shift.people):
                if isinstance(person, str) and person not in names:
                    raise _FieldError(f"on_call.shifts[{i}].people[{j}]", f"{person!r} is not on the roster")
        units = {m.unit for members in self.roster.values() for m in members if m.unit}
        targets = {"property_company", "party_org", *(d.code for d in self.departments), *units}
        for cat, target in self.direct_routes.items():
            if target not in targets:
                raise _FieldError(f"direct_routes.{cat}", f"{target!r} is not a party, department code or roster unit")
        self._check_grids()
        if self.on_call.secretary and self.on_call.secretary not in {m.name for m in self.roster["party_org"]}:
            raise _FieldError("on_call.secretary", f"{self.on_call.secretary!r} is not in the party_org roster")
        # A name or alias must point at one compound only, or lookups become ambiguous.
        seen: dict[str, int] = {}
        for i, comp in enumerate(self.compounds):
            for key in dict.fromkeys([comp.name, *comp.aliases]):
                if key in seen and seen[key] != i:
                    raise _FieldError(
                        f"compounds[{i}]", f"name or alias {key!r} already used by compounds[{seen[key]}]"
                    )
                seen[key] = i
        return self

    def _check_grids(self) -> None:
        _check_unique([g.code for g in self.grids], "grids[{i}].code")
        known = {building_key(c.code, b.code) for c in self.compounds for b in c.buildings}
        owner: dict[str, int] = {}
        for i, grid in enumerate(self.grids):
            for j, key in enumerate(grid.buildings):
                if key not in known:
                    raise _FieldError(
                        f"grids[{i}].buildings[{j}]", f"{key!r} is not a compound:building of this community"
                    )
                if key in owner and owner[key] != i:
                    raise _FieldError(f"grids[{i}].buildings[{j}]", f"{key!r} is already in grids[{owner[key]}]")
                owner[key] = i
            _check_unique([m.name for m in grid.members], f"grids[{i}].members[{{i}}].name")
            for j, m in enumerate(grid.members):
                for k, key in enumerate(m.buildings):
                    if key not in grid.buildings:
                        raise _FieldError(f"grids[{i}].members[{j}].buildings[{k}]", f"{key!r} is not in this grid")

    def grid(self, code: str) -> Grid | None:
        """The grid with this code."""
        return next((g for g in self.grids if g.code == code), None)

    def grid_of(self, compound: str, building: str) -> Grid | None:
        """The grid covering a building (compound and building by code)."""
        key = building_key(compound, building)
        return next((g for g in self.grids if key in g.buildings), None)

    def compound(self, key: str) -> Compound | None:
        """The compound whose code, name or alias equals `key`."""
        key = key.strip()
        return next((c for c in self.compounds if key in c.names), None)

    def member(self, name: str) -> Member | None:
        """The roster member with this name (any party)."""
        return next((m for members in self.roster.values() for m in members if m.name == name), None)

    def department(self, code: str) -> Department | None:
        return next((d for d in self.departments if d.code == code), None)

    def departments_for(self, category: str) -> list[Department]:
        return [d for d in self.departments if category in d.categories]


class County(_Model):
    code: Slug
    name: Text
    operators: list[Member] = []  # county operators on duty: the last escalation of an unacknowledged alert
    emergency: Emergency = Emergency()


class Directory(_Model):
    county: County
    communities: list[Community]

    @model_validator(mode="after")
    def _unique_communities(self) -> Directory:
        _check_unique([c.code for c in self.communities], "communities[{i}].code")
        return self

    def community(self, code: str) -> Community | None:
        """The community with this code (or, as a convenience, this exact name)."""
        return next((c for c in self.communities if code in (c.code, c.name)), None)

    def find_compound(self, text: str) -> tuple[Community, Compound] | None:
        """The compound whose name or alias occurs in free text; the longest match wins."""
        candidates = [
            (key, community, compound)
            for community in self.communities
            for compound in community.compounds
            for key in (compound.name, *compound.aliases)
        ]
        # Stable sort: on equal length, the order of the file decides.
        candidates.sort(key=lambda item: len(item[0]), reverse=True)
        for key, community, compound in candidates:
            if key and key in text:
                return community, compound
        return None


def _check_unique(values: list[str], path_template: str) -> None:
    seen: set[str] = set()
    for i, value in enumerate(values):
        if value in seen:
            raise _FieldError(path_template.format(i=i), f"duplicate {value!r}")
        seen.add(value)


def _path(loc: tuple[Any, ...], sub: str = "") -> str:
    """("communities", 1, "code") -> "communities[1].code"; `sub` continues the path below `loc`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    if sub and out and sub[0] not in ".[":
        sub = "." + sub
    return (out + sub).lstrip(".") or "<root>"


def _format_errors(exc: ValidationError) -> list[str]:
    lines = []
    for err in exc.errors():
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, _FieldError):
            lines.append(f"{_path(tuple(err['loc']), cause.path)}: {cause.message}")
        else:
            lines.append(f"{_path(tuple(err['loc']))}: {err['msg']}")
    return lines


def resolve_path(path: str | Path | None = None) -> Path:
    """The directory file to use: the argument, else $HALL_DIRECTORY, else the demo file."""
    chosen = path if path is not None else os.environ.get(ENV_VAR) or DEFAULT_PATH
    return _resolve(str(chosen))


@lru_cache(maxsize=64)
def _resolve(chosen: str) -> Path:
    # Every report looks the directory up; resolving the path is a few system calls each time.
    return Path(chosen).expanduser().resolve()


def parse_directory(data: Any, source: str = "<memory>") -> Directory:
    """Validate already-parsed YAML/JSON data; raises DirectoryError naming `source` and the field."""
    if not isinstance(data, dict):
        raise DirectoryError(f"{source}: the top level must be a mapping with 'county' and 'communities'")
    # Top-level "x-" keys hold YAML anchors (as in docker-compose) and are not part of the model.
    data = {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("x-"))}
    try:
        return Directory.model_validate(data)
    except ValidationError as exc:
        raise DirectoryError(f"{source}: " + "; ".join(_format_errors(exc))) from exc


@lru_cache(maxsize=16)
def _load_cached(resolved: str) -> Directory:
    try:
        text = Path(resolved).read_text(encoding="utf-8")
    except OSError as exc:
        raise DirectoryError(f"{resolved}: cannot read the directory file ({exc.strerror})") from exc
    try:
        data = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        raise DirectoryError(f"{resolved}: invalid YAML: {exc}") from exc
    return parse_directory(data, resolved)


def load_directory(path: str | Path | None = None) -> Directory:
    """Load and validate the county directory (cached per resolved path; see `clear_cache`)."""
    return _load_cached(str(resolve_path(path)))


def clear_cache() -> None:
    """Forget loaded directories, e.g. after an operator edited the file or in tests."""
    _load_cached.cache_clear()
    _resolve.cache_clear()
