# SPDX-License-Identifier: GPL-3.0-or-later
"""A crash-safe journal of jobs, one small JSON file per job in the cache folder.

It survives Blender crashing before the .blend was saved (or a file never saved at all) and lets a re-run of
the same CLI command find its paid remote job again instead of submitting twice. Entries hold no secret:
only ids, states, options, paths, result file lists and the engine's warnings (so a re-run that reuses the
results still reports them). Writes are atomic; any thread may call it (the runner's workers write state
changes, the main thread writes at submit and removes after import).
The job rules that read an entry live here once: ``entry`` builds one, ``is_confirmed`` says whether the
service ever confirmed a paid job, ``is_unfinished`` whether it still needs resuming, ``submit_in_doubt``
whether a paid submit was on the wire when the job was interrupted (the worker journals ``submit_sent`` just
before it sends the request that creates the paid job), and ``reusable`` whether a finished job's downloaded
results can stand in for a new job.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .files import atomic_write_json
from .jobs import TERMINAL_STATES, State

log = logging.getLogger(__name__)

FIELDS = (
    "job_id", "provider", "remote_id", "source_name", "blend_file", "options", "work_dir", "state",
    "results", "created", "dedupe_key", "message", "submit_sent", "warnings",
)  # fmt: skip


TERMINAL = frozenset(state.value for state in TERMINAL_STATES)
UNCONFIRMED = "interrupted before the service confirmed the job; check your account before submitting again"


def entry(
    *,
    job_id: str,
    provider: str,
    source_name: str,
    options: Mapping[str, Any],
    work_dir: str,
    state: str,
    created: float,
    blend_file: str = "",
    remote_id: str = "",
    results: Any = None,
    dedupe_key: str | None = None,
    message: str = "",
    submit_sent: float | None = None,
    warnings: list[str] | None = None,
) -> dict[str, Any]:
    """The one shape of a journal entry (what ``Journal.write`` stores)."""
    return {
        "job_id": job_id, "provider": provider, "remote_id": remote_id, "source_name": source_name,
        "blend_file": blend_file, "options": dict(options), "work_dir": work_dir, "state": state,
        "results": results, "created": created, "dedupe_key": dedupe_key, "message": message,
        "submit_sent": submit_sent, "warnings": warnings,
    }  # fmt: skip


def is_confirmed(item: Mapping[str, Any]) -> bool:
    """Whether a job can be picked up again without paying twice: local jobs always can; a cloud job only
    once the service gave it an id (or its results are already on disk)."""
    return item.get("provider") == "local" or bool(item.get("remote_id")) or bool(item.get("results"))


def is_unfinished(item: Mapping[str, Any]) -> bool:
    return item.get("state") not in TERMINAL


def submit_in_doubt(item: Mapping[str, Any]) -> bool:
    """An unconfirmed cloud job whose paid submit had been sent: the service may have a job we never heard
    of. Submitting again could pay twice, so only the user can decide (after checking the account)."""
    return is_unfinished(item) and not is_confirmed(item) and bool(item.get("submit_sent"))


def reusable(item: Mapping[str, Any]) -> bool:
    """A finished job whose downloaded results are all still on disk: a re-run imports them, unpaid."""
    files = item.get("results") or []
    return (
        item.get("state") == State.DONE.value
        and bool(files)
        and all(isinstance(f, dict) and Path(str(f.get("path") or "")).exists() for f in files)
    )


def in_doubt_message(service: str, sent: float) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(sent))
    return (
        f"a submit of this input may have reached {service} at {when}; check your account, then re-run with "
        "--resubmit (or --attach ID if the job is there)"
    )


class Journal:
    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self._lock = threading.Lock()

    def _path(self, job_id: str) -> Path:
        return self.folder / f"{job_id}.json"

    def write(self, entry: Mapping[str, Any]) -> None:
        data = {k: entry.get(k) for k in FIELDS}
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write_json(self._path(str(data["job_id"])), data)

    def update(self, job_id: str, **changes: Any) -> None:
        with self._lock:
            current = self._read(self._path(job_id))
            if current is None:
                return  # removed (imported) already, or never journaled
            current.update({k: v for k, v in changes.items() if k in FIELDS})
            atomic_write_json(self._path(job_id), current)

    def remove(self, job_id: str) -> None:
        with self._lock:
            self._path(job_id).unlink(missing_ok=True)

    def get(self, job_id: str) -> dict[str, Any] | None:
        return self._read(self._path(job_id))

    def entries(self) -> list[dict[str, Any]]:
        if not self.folder.is_dir():
            return []
        found = (self._read(p) for p in sorted(self.folder.glob("*.json")))
        return sorted((e for e in found if e), key=lambda e: e.get("created") or 0)

    def find(self, dedupe_key: str) -> dict[str, Any] | None:
        matches = [e for e in self.entries() if e.get("dedupe_key") == dedupe_key]
        return matches[-1] if matches else None

    @staticmethod
    def _read(path: Path) -> dict[str, Any] | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            log.warning("ignoring unreadable journal entry %s", path.name)
            return None
        return data if isinstance(data, dict) else None
