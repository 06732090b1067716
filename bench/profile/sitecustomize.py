"""Loaded by every Python process started with this folder on PYTHONPATH (bench.profiling sets it).

In a service process (`python -m services.<name>`) it runs cProfile on the main thread (the event loop):
SIGUSR1 starts a fresh profile, SIGUSR2 writes it to $HALL_PROFILE_DIR/<service>-<pid>.prof. Nothing else changes.
"""

import cProfile
import os
import re
import signal

try:  # the module name of `python -m`: sys.argv does not hold it yet while site runs (Linux only)
    with open("/proc/self/cmdline", "rb") as _f:
        _cmdline = _f.read().replace(b"\0", b" ").decode(errors="replace")
except OSError:
    _cmdline = ""
_service = re.search(r"-m services\.(intake|triage|meeting|ledger|feedback)\b", _cmdline)

if os.environ.get("HALL_PROFILE_DIR") and _service:
    _path = os.path.join(os.environ["HALL_PROFILE_DIR"], f"{_service.group(1)}-{os.getpid()}.prof")
    _state = {"p": None}

    def _start(*_):
        if _state["p"] is not None:
            _state["p"].disable()
        _state["p"] = cProfile.Profile()
        _state["p"].enable()

    def _dump(*_):
        p = _state["p"]
        if p is not None:
            p.disable()
            p.dump_stats(_path)
            _state["p"] = None

    signal.signal(signal.SIGUSR1, _start)
    signal.signal(signal.SIGUSR2, _dump)
