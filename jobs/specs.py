# SPDX-License-Identifier: GPL-3.0-or-later
"""The one bridge from Blender's settings to a job: preferences + object settings + job folder -> JobSpec.

Contract: ``read_preferences()`` reads the add-on preferences and the environment once per submit into a
frozen ``Preferences``; ``options_from_object`` reads an object's settings for its provider (names and
defaults from ``core.options``); ``make_spec`` freezes all of it into the ``JobSpec`` a worker receives.
Nothing below this module reads ``bpy.context`` for settings. Main thread only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bpy

from ..core.errors import InputError
from ..core.jobs import Credentials, JobSpec, freeze
from ..core.journal import Journal
from ..core.options import options_for
from ..preferences import DEFAULT_QUOTE_LIMIT, get_prefs
from ..providers import registry
from . import session


@dataclass(frozen=True)
class Preferences:
    """What the preferences and the environment say, read once; credentials never leave in a repr."""

    credentials: Mapping[str, Credentials]
    base_urls: Mapping[str, str]
    deadlines_min: Mapping[str, float]  # keyed by provider, and by "<provider>_slow" for a slow deadline
    online: bool
    job_folder: Path  # where jobs and downloads are kept (the preferences, --cache, or the user folder)
    quote_limit: float = DEFAULT_QUOTE_LIMIT  # credits a quoted job may cost without asking (--max-cost)

    def journal(self) -> Journal:
        return Journal(self.job_folder / "journal")

    def credentials_problem(self, provider: str) -> str | None:
        """Missing or unusable keys for ``provider`` (one line, never the key), or None."""
        have = self.credentials.get(provider, Credentials())
        return registry.credentials_problem(registry.BY_NAME[provider], have.values)

    def deadline_s(self, provider: str, options: Mapping[str, Any]) -> float:
        if (override := session.deadline_override()) is not None:
            return 60.0 * override
        entry = registry.BY_NAME[provider]
        slow = entry.slow_deadline and options.get(entry.slow_deadline[0]) == entry.slow_deadline[1]
        key = f"{provider}_slow" if slow else provider
        return 60.0 * self.deadlines_min.get(key, registry.deadline_min(entry, options))


def read_preferences(*, probe: bool = False) -> Preferences:
    """Everything a submit needs from the preferences and the environment, read once. ``probe`` also proves
    a file can be written in the job folder (done once per submit, never in the step)."""
    prefs = get_prefs()
    credentials, urls, deadlines = {}, {}, {}
    for entry in registry.REGISTRY:
        values = {}
        for credential in entry.credentials:
            stored = getattr(prefs, credential.preference, "") if prefs else ""
            value = stored or os.environ.get(credential.env, "")
            if value.strip():
                values[credential.name] = value.strip()
        credentials[entry.name] = Credentials(values)
        configured = getattr(prefs, f"{entry.name}_base_url", "") if prefs else ""
        from_env = os.environ.get(entry.base_url_env, "") if entry.base_url_env else ""
        urls[entry.name] = configured or from_env or entry.base_url
        if prefs is not None:
            deadlines[entry.name] = getattr(prefs, f"{entry.name}_deadline_min")
            if entry.slow_deadline:
                deadlines[f"{entry.name}_slow"] = getattr(prefs, f"{entry.name}_slow_deadline_min")
    folder = session.cache_root(probe=probe, configured=prefs.cache_dir if prefs else "")
    limit = session.quote_limit_override()
    if limit is None:
        limit = prefs.quote_limit if prefs is not None else DEFAULT_QUOTE_LIMIT
    return Preferences(credentials, urls, deadlines, session.online_allowed(), folder, float(limit))


def provider_entry(name: str) -> registry.Entry:
    entry = registry.BY_NAME.get(name)
    if entry is None:
        raise InputError(f"unknown provider {name!r}: use {', '.join(registry.NAMES)}")
    return entry


def options_from_object(obj: bpy.types.Object) -> dict[str, Any]:
    """The object's settings for its provider, as job options."""
    settings = obj.retopo_hub
    provider = settings.provider
    options = {
        option.name: option.from_property(getattr(settings, option.name)) for option in options_for(provider)
    }
    if options.pop("tripo_adaptive_faces", False):
        del options["target_faces"]  # no faceLimit: Tripo picks the face count itself
    return options


def make_spec(prefs: Preferences, *, job_id, provider, source_name, options, work_dir, **extra) -> JobSpec:
    return JobSpec(
        job_id=job_id,
        provider=provider,
        source_name=source_name,
        options=freeze(options),
        work_dir=str(work_dir),
        credentials=prefs.credentials.get(provider, Credentials()),
        base_url=prefs.base_urls.get(provider, ""),
        online=prefs.online,
        deadline_s=prefs.deadline_s(provider, options),
        extension_root=session.EXTENSION_ROOT,
        python_paths=python_paths(),
        journal_dir=str(prefs.journal().folder),
        quote_limit=prefs.quote_limit,
        **extra,
    )


def python_paths() -> tuple[str, ...]:
    """Blender's ``sys.path``, for the worker host and the engine child to find the bundled wheels."""
    return tuple(p for p in sys.path if p)


def job_folder(root: Path, provider: str, job_id: str) -> Path:
    return root / f"{provider}-{job_id}"
