"""Where uploaded photos live and how a report names one: `uploads/<community>/<yyyy>/<mm>/<id>.jpg`."""

from __future__ import annotations

import re
from pathlib import Path

PREFIX = "uploads/"
REF = re.compile(r"uploads/([a-z0-9_\-]{1,64})/(\d{4})/(\d{2})/([0-9a-f]{32})\.jpg")


def photo_dir(settings) -> Path:
    """Where intake keeps uploaded photos: INTAKE_PHOTO_DIR, or var/intake-photos."""
    return Path(settings.intake.photo_dir or settings.var_dir / "intake-photos")


def path_of(settings, ref: str) -> Path | None:
    """The file of a well-formed reference (None for anything else: no path of the caller's choosing)."""
    return photo_dir(settings) / ref.removeprefix(PREFIX) if REF.fullmatch(ref) else None


def stored(settings, ref: str, community: str) -> bool:
    """Tell whether `ref` names a stored upload of `community` (a report may not borrow another's photo)."""
    m = REF.fullmatch(ref)
    path = path_of(settings, ref)
    return bool(m and m.group(1) == community and path and path.is_file())
