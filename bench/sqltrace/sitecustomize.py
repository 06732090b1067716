"""Loaded by every Python process started with this folder on PYTHONPATH (bench.statements sets it).

In a service process (`python -m services.<name>`) it counts each SQL statement sent to the database, by its
normalized text, and rewrites $HALL_SQLTRACE_DIR/<service>-<pid>.json every second. Nothing else changes.
"""

import collections
import json
import os
import re
import threading
import time

try:  # the module name of `python -m`: sys.argv does not hold it yet while site runs (Linux only)
    with open("/proc/self/cmdline", "rb") as _f:
        _cmdline = _f.read().replace(b"\0", b" ").decode(errors="replace")
except OSError:
    _cmdline = ""
_service = re.search(r"-m services\.(intake|triage|meeting|ledger|feedback)\b", _cmdline)

if os.environ.get("HALL_SQLTRACE_DIR") and _service:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    _counts: collections.Counter = collections.Counter()
    _path = os.path.join(os.environ["HALL_SQLTRACE_DIR"], f"{_service.group(1)}-{os.getpid()}.json")

    def _normalized(sql: str) -> str:
        one_line = re.sub(r"\s+", " ", sql).strip()
        return re.sub(r"\((?:(?:\?|\$\d+|%\(\w+\)s)(?:::\w+)?,? ?)+\)", "(…)", one_line)[:200]

    @event.listens_for(Engine, "before_cursor_execute")
    def _count(_conn, _cursor, statement, _params, _context, executemany):
        _counts[("executemany " if executemany else "") + _normalized(statement)] += 1

    def _dump() -> None:
        while True:
            time.sleep(1)
            with open(_path + ".tmp", "w") as f:
                json.dump(dict(_counts), f, ensure_ascii=False)
            os.replace(_path + ".tmp", _path)

    threading.Thread(target=_dump, daemon=True, name="sqltrace").start()
