# SPDX-License-Identifier: GPL-3.0-or-later
"""Exceptions raised by the local geometry engine.

Contract: every message is a single line that tells the user what to do, because the Blender side shows it
verbatim in a report and the child process forwards it as one JSON line. Pure Python, imports nothing; never
touches bpy and is used both in the engine child process and in worker threads.
"""


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
