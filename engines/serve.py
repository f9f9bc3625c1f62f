# SPDX-License-Identifier: GPL-3.0-or-later
"""A long-lived engine process: ``python -m engines.serve`` runs requests one after another.

Contract: it loads numpy, the engine and its native libraries once, then reads one JSON line per request on
stdin. A list of the three paths (IN.npz, PARAMS.json, OUT.npz) runs that job exactly as ``engines.child``
does, with the same protocol lines ending with the ``done`` or ``error`` one (a malformed request gets the
usage error). ``{"measure": {"source": npz, "results": {name: npz}}}`` answers one line,
``{"measured": {...}}`` (``report.measure_answer``). After each request it writes ``{"ready": true}`` and
waits for the next, or ends instead: after an internal error, when its resident memory stays above
``RECYCLE_RSS_BYTES`` once freed pages are handed back, after a job whose input file was bigger than
``RECYCLE_INPUT_BYTES`` (where memory cannot be read), and after ``MAX_REQUESTS``; so a parent reuses it only
after that line. End of stdin: exit 0. Starting Python and those libraries costs about 0.2 s of CPU per
process, which serving many jobs pays once. Stdlib, numpy and the engine's modules only; never bpy.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from contextlib import suppress
from pathlib import Path
from typing import TextIO

from .child import _Protocol, _protocol_stdout, main, run_process

# Loaded before the first request; a missing one is reported by the job that needs it.
NATIVE_MODULES = ("pynanoinstantmeshes", "fast_simplification", "xatlas")
# A process ends rather than take another request once a job has left it this big (resident memory after
# handing freed pages back: numpy's arrays are gone, but the allocator may keep their pages), ...
RECYCLE_RSS_BYTES = 512 << 20
# ... after a job whose input file was this big (where resident memory cannot be read: a big job's peak),
RECYCLE_INPUT_BYTES = 48 << 20
# ... and after this many requests whatever they were, so nothing can pile up without bound.
MAX_REQUESTS = 200


def preload() -> None:
    for name in NATIVE_MODULES:
        with suppress(ImportError):
            importlib.import_module(name)
    importlib.import_module(f"{__package__}.report")  # what a measure request needs beyond the engine


def _measure(request: object) -> int:
    """Answer one measure request with its ``{"measured": ...}`` line; 1 when measuring itself crashed."""
    from .report import measure_answer

    protocol = _Protocol()
    with _protocol_stdout():
        if not (isinstance(request, dict) and isinstance(request.get("results"), dict)):
            protocol.emit({"measured": {"error": "internal error: a malformed measure request"}})
            return 2
        answer, crashed = measure_answer(str(request.get("source")), request["results"])
        protocol.emit({"measured": answer})
    return 1 if crashed else 0


def _resident_bytes() -> int | None:
    """This process's resident memory now (Linux), or its peak (other POSIX); None where neither is known."""
    with suppress(OSError, ValueError, IndexError), open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    with suppress(ImportError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024
    return None


def _release_memory() -> None:
    """Hand freed heap pages back to the system (glibc keeps them otherwise)."""
    import gc

    gc.collect()
    if sys.platform.startswith("linux"):
        with suppress(OSError, AttributeError):
            import ctypes

            ctypes.CDLL("libc.so.6").malloc_trim(0)


def _keeps_serving(request: object, code: int, served: int) -> bool:
    if code == 1 or served >= MAX_REQUESTS:
        return False  # an internal error may have left anything behind
    if isinstance(request, list) and request:
        with suppress(OSError, TypeError, ValueError):
            if Path(request[0]).stat().st_size > RECYCLE_INPUT_BYTES:
                return False
    rss = _resident_bytes()
    if rss is not None and rss > RECYCLE_RSS_BYTES:
        _release_memory()
        rss = _resident_bytes()
    return rss is None or rss <= RECYCLE_RSS_BYTES


def serve(stdin: TextIO) -> int:
    """Preload, then run the requests on ``stdin`` one after another (see the module docstring)."""
    preload()
    served = 0
    for line in iter(stdin.readline, ""):
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except ValueError:
            request = None
        if isinstance(request, dict) and "measure" in request:
            code = _measure(request["measure"])
        elif isinstance(request, list) and all(isinstance(p, str) for p in request):
            code = main(request)
        else:
            code = main([])  # fails main's usage check with a clear message
        served += 1
        if not _keeps_serving(request, code, served):
            return 0
        _Protocol.emit({"ready": True})
    return 0


if __name__ == "__main__":
    run_process(lambda: serve(sys.stdin))
