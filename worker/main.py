# SPDX-License-Identifier: GPL-3.0-or-later
"""Entry point of the worker host process (``python worker/main.py``); never imports bpy.

The extension's real package name (under ``bl_ext``, by repository) only exists inside Blender, so the host
imports this folder under a private name; ``__init__`` is free of side effects, which makes that safe.
"""

import importlib.util
import logging
import os
import sys
from pathlib import Path

PACKAGE = "retopo_hub_worker"


def _load_package() -> None:
    root = Path(__file__).resolve().parent.parent
    spec = importlib.util.spec_from_file_location(
        PACKAGE, root / "__init__.py", submodule_search_locations=[str(root)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = module
    spec.loader.exec_module(module)


if __name__ == "__main__":
    # Run as a script, Python put this folder first on sys.path: its modules must not shadow top-level ones.
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if not p or Path(p).resolve() != here]
    _load_package()
    host = importlib.import_module(f"{PACKAGE}.worker.host")
    code = host.main()
    logging.shutdown()
    sys.stderr.flush()
    # Every job has stopped and its last event is sent: skipping the interpreter's teardown ends the host
    # sooner, and Blender waits for that. host.main has ended the idle engine children; any other one ends
    # by itself when its stdin, which this process holds, closes.
    os._exit(code)
