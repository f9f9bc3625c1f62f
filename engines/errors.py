# SPDX-License-Identifier: GPL-3.0-or-later
"""Exceptions raised by the local geometry engine.

Contract: every message is a single line that tells the user what to do, because the Blender side shows it
verbatim in a report and the child process forwards it as one JSON line. Pure Python (stdlib only); never
touches bpy and is used in the engine child process.
"""

import importlib
import os
from types import ModuleType


class EngineError(Exception):
    """Base class of every failure the engine reports on purpose."""


class EngineInputError(EngineError):
    """The input mesh or parameters cannot be processed; the message says how to fix them."""


class EngineUnavailable(EngineError):  # noqa: N818 - name fixed by the add-on's engine contract
    """A native library (Instant Meshes, fast_simplification) is missing; callers fall back to Blender."""


class EngineCancelled(EngineError):  # noqa: N818 - name fixed by the add-on's engine contract
    """The caller asked to stop; raised between stages."""


def one_line(text: str) -> str:
    """Collapse whitespace so a message survives the one-JSON-object-per-line protocol."""
    return " ".join(str(text).split())


def native_module(name: str, label: str, fallback: str) -> ModuleType:
    """Import an optional native wheel on first use; EngineUnavailable (Blender falls back) if it is missing.

    ``RETOPO_HUB_ENGINE_WITHOUT_WHEELS`` makes every wheel look missing, so the tests can take that path.
    """
    try:
        if os.environ.get("RETOPO_HUB_ENGINE_WITHOUT_WHEELS"):
            raise ImportError("disabled by RETOPO_HUB_ENGINE_WITHOUT_WHEELS")
        return importlib.import_module(name)
    except ImportError as exc:
        raise EngineUnavailable(f"{label} is not installed ({exc}): using Blender's {fallback}") from exc
