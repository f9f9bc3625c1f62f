# SPDX-License-Identifier: GPL-3.0-or-later
"""Run one engine function in a Python process of its own, so a native crash in it costs only its result.

Contract: ``call(module, function, arrays, cancelled=None)`` runs ``engines.<module>.<function>(arrays)``
in a fresh interpreter (``sys.executable`` with this process's ``sys.path``) and returns the dict of
numpy arrays it returned. The arrays travel as ``.npz`` files in a temporary folder that is removed
afterwards. It raises ``CrashedError`` when that process ended without an answer (a segmentation fault in a
native library, say: xatlas has them on some meshes), ``EngineCancelled`` when ``cancelled()`` turned true
(the process is killed first), and ``EngineError`` with the callee's one-line message when it raised. The
process never outlives its parent: it watches its stdin, which only the parent holds, and exits when that
closes, so killing the engine child (the user's Cancel) ends it too. The callee sees ``engines`` loaded
as a package of its own (its modules import only each other), so this works whatever the add-on's
package is called. Imports the stdlib, numpy and the engine's own modules; never touches bpy.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from contextlib import suppress
from pathlib import Path

import numpy as np

from .errors import EngineCancelled, EngineError

# How often the parent checks on the process and on ``cancelled`` (seconds).
POLL_S = 0.1
ENGINES_DIR = Path(__file__).resolve().parent

# Runs in the new process: load ``engines`` from its folder, watch stdin, call, write the answer.
_BOOT = """
import importlib.util, os, sys, threading
engines_dir, module, function, in_path, out_path = sys.argv[1:6]
def orphaned():
    sys.stdin.read()  # returns when the parent closes the pipe or dies
    os._exit(3)
threading.Thread(target=orphaned, daemon=True).start()
spec = importlib.util.spec_from_file_location(
    "_isolated_engines", os.path.join(engines_dir, "__init__.py"), submodule_search_locations=[engines_dir]
)
package = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = package
spec.loader.exec_module(package)
runner = importlib.import_module(spec.name + ".isolated")
sys.exit(runner.serve(module, function, in_path, out_path))
"""


class CrashedError(EngineError):
    """The isolated process ended without an answer (killed by a signal, or out of memory)."""


def serve(module: str, function: str, in_path: str, out_path: str) -> int:
    """The new process's side: read the arrays, call, write the answer (or the error's message)."""
    import importlib

    target = getattr(importlib.import_module(f"{__package__}.{module}"), function)
    with np.load(in_path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    try:
        answer = dict(target(arrays))
    except Exception as exc:  # sent back whole: the caller raises it as EngineError
        answer = {"__error__": np.asarray(f"{type(exc).__name__}: {exc}")}
    _save(out_path, answer)
    return 0


def _save(path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray]) -> None:
    part = f"{path}.part"
    with open(part, "wb") as handle:
        np.savez(handle, **arrays)
    Path(part).replace(path)


def call(
    module: str,
    function: str,
    arrays: Mapping[str, np.ndarray],
    cancelled: Callable[[], bool] | None = None,
) -> dict[str, np.ndarray]:
    """See the module docstring."""
    with tempfile.TemporaryDirectory(prefix="retopo_hub_isolated_") as folder:
        in_path, out_path = Path(folder) / "in.npz", Path(folder) / "out.npz"
        _save(in_path, arrays)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        command = [
            sys.executable,
            "-c",
            _BOOT,
            str(ENGINES_DIR),
            module,
            function,
            str(in_path),
            str(out_path),
        ]
        # stdout is the engine child's protocol stream: the process must never write to it.
        proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env)
        try:
            while proc.poll() is None:
                if cancelled is not None and cancelled():
                    raise EngineCancelled("the job was cancelled")
                with suppress(subprocess.TimeoutExpired):
                    proc.wait(POLL_S)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdin.close()
        if proc.returncode != 0 or not out_path.exists():
            raise CrashedError(
                f"engines.{module}.{function} ended without an answer (exit code {proc.returncode})"
            )
        with np.load(out_path, allow_pickle=False) as data:
            answer = {key: data[key] for key in data.files}
    if "__error__" in answer:
        raise EngineError(str(answer["__error__"]))
    return answer
