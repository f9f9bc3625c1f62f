# SPDX-License-Identifier: GPL-3.0-or-later
"""This Blender session's runtime job state, which must never live in a .blend.

Contract: one ``WorkerHost`` handle (the worker host process, started on the first job), the queue of jobs
waiting to be imported, the CLI's overrides (job folder, online access, CLI mode) and why the local engine's
wheels could not load, once known. ``shutdown`` forgets all of it. Main thread only.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

import bpy

from ..core.errors import ConfigError
from ..core.files import check_writable_dir
from ..core.journal import Journal
from ..preferences import ADDON_ID, get_prefs
from ..worker.client import WorkerHost

# The extension's root folder: the worker host and the engine child import the package from there.
EXTENSION_ROOT = str(Path(__file__).resolve().parent.parent)


class _Session:
    host: WorkerHost | None = None
    pending_imports: deque[str] = deque()
    measuring: dict[str, str] = {}  # measurement id -> job id, until its report is on the job
    measured: deque[tuple[str, str, str, float]] = deque()  # heatmaps to paint: (job, object, file, scale)
    bakes: dict[str, Any] = {}  # job id -> jobs.bake.BakeRun, while a background Blender bakes its maps
    cache_override: str | None = None
    online_override: bool = False
    cli_mode: bool = False  # the CLI resumes by its own dedupe key, never by file-load handlers
    quote_limit_override: float | None = None  # --max-cost
    deadline_override_min: float | None = None  # the CLI's --deadline, for every job it runs
    engine_problem: str = ""


def worker_host() -> WorkerHost:
    """The worker host process (see ``worker.runner`` for why Blender itself runs no worker thread)."""
    if _Session.host is None:
        _Session.host = WorkerHost(EXTENSION_ROOT)
    return _Session.host


def pending_imports() -> deque[str]:
    return _Session.pending_imports


def measuring() -> dict[str, str]:
    return _Session.measuring


def measured() -> deque[tuple[str, str, str, float]]:
    return _Session.measured


def bakes() -> dict[str, Any]:
    return _Session.bakes


def set_cache_dir(path: str | None) -> None:
    _Session.cache_override = path


def set_online_override(enabled: bool) -> None:
    _Session.online_override = enabled


def set_cli_mode(enabled: bool) -> None:
    _Session.cli_mode = enabled


def cli_mode() -> bool:
    return _Session.cli_mode


def set_quote_limit_override(credits: float | None) -> None:
    _Session.quote_limit_override = credits


def quote_limit_override() -> float | None:
    return _Session.quote_limit_override


def set_deadline_override(minutes: float | None) -> None:
    _Session.deadline_override_min = minutes


def deadline_override() -> float | None:
    return _Session.deadline_override_min


def online_allowed() -> bool:
    return bool(bpy.app.online_access or _Session.online_override)


def note_engine_problem(reason: str) -> bool:
    """Remember why the engine's wheels could not load; True the first time (so it is logged once)."""
    first = not _Session.engine_problem
    _Session.engine_problem = reason
    return first


def local_engine_problem() -> str:
    """Why the local engine's wheels could not load in this Blender ('' while they could): the panel says
    it once, above the local settings, until the extension is disabled (``shutdown``)."""
    return _Session.engine_problem


def cache_root(*, probe: bool = False, configured: str | None = None) -> Path:
    """The job folder: ``--cache``, else the preferences' folder (``configured``, or read now), else the
    extension's user folder. ``probe`` also proves a file can be written there: done once per submit (and
    for ``--cache``), not on every journal write, which runs on the main thread's step."""
    if configured is None:
        prefs = get_prefs()
        configured = prefs.cache_dir if prefs else ""
    configured = _Session.cache_override or configured
    if configured:
        root = Path(bpy.path.abspath(configured))
        try:
            root.mkdir(parents=True, exist_ok=True)
            return check_writable_dir(root) if probe else root
        except (OSError, ConfigError) as exc:
            raise ConfigError(
                f"cannot use the job folder {root}: pick another one in Preferences > Add-ons > Retopo Hub "
                "or with --cache"
            ) from exc
    return Path(bpy.utils.extension_path_user(ADDON_ID, path="jobs", create=True))


def journal() -> Journal:
    return Journal(cache_root() / "journal")


def shutdown() -> None:
    """Cancel and join workers (extension disabled or Blender quitting); records keep their remote ids."""
    if _Session.host is not None:
        _Session.host.shutdown()
        _Session.host = None
    _Session.pending_imports.clear()
    _Session.measuring.clear()
    _Session.measured.clear()
    while _Session.bakes:
        _Session.bakes.popitem()[1].stop()
    _Session.engine_problem = ""
