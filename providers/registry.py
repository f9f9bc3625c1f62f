# SPDX-License-Identifier: GPL-3.0-or-later
"""The one list of providers: adding a service is its module plus one ``Entry`` here.

Contract: ``REGISTRY`` names each provider's label, description, implementation (``module:Class`` inside
``providers``), credentials (preference attribute, label, environment variable, credential name), service
URL and its environment variable, job deadline and what the service documents about time and price.
From it come the provider menu (``properties.py``),
the preferences (``preferences.py``), the CLI's ``--provider`` choices, the job spec's credentials, URL and
deadline (``jobs/specs.py``) and the worker's provider objects (``implementations``). Pure Python, never
imports bpy; read in Blender's process and in the worker host.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Credential:
    preference: str  # the AddonPreferences attribute (a masked PASSWORD field)
    label: str
    env: str  # the environment variable that fills it in for headless use
    name: str  # what the provider reads from ``JobSpec.credentials``


@dataclass(frozen=True)
class Entry:
    name: str
    label: str
    description: str
    implementation: str  # "module:Class" inside this package
    service: str = ""  # who the user pays and holds keys with, as messages name it
    credentials: tuple[Credential, ...] = ()
    base_url: str = ""  # the official service; empty for the local engine
    base_url_env: str = ""
    deadline_min: float = 30.0  # minutes before a job is reported as timed out (it can be attached again)
    # (option, value, minutes): a longer deadline for jobs with that option value (CSM's precision model).
    slow_deadline: tuple[str, str, float] | None = None
    # What the service documents about time, limits and price, before anyone pays: ((option, value, text),
    # ...), the first whose option has that value wins; ("", "", text) always applies. A cloud entry's text
    # is shown after "Paid: ".
    expectations: tuple[tuple[str, str, str], ...] = ()

    @property
    def cloud(self) -> bool:
        return bool(self.base_url)


_CSM_PAID = "CSM credits, price not published"
REGISTRY: tuple[Entry, ...] = (
    Entry("local", "Local", "Offline quad remesh and decimation on this computer (free, seconds)",
          "local:LocalProvider", deadline_min=10.0,
          expectations=(("", "", "free, on this computer: seconds for most meshes"),)),
    Entry("csm", "CSM.ai", "CSM.ai v3 retopology session (swift or precision, minutes)", "csm:CsmProvider",
          "CSM.ai", (Credential("csm_api_key", "CSM API Key", "CSM_API_KEY", "api_key"),),
          "https://api.csm.ai", "CSM_BASE_URL", 20.0, ("csm_model", "precision", 60.0),
          (("csm_model", "swift", f"{_CSM_PAID}; about 5-10 min, up to 8K faces"),
           ("csm_model", "precision", f"{_CSM_PAID}; up to 50 min"))),
    Entry("tripo", "Tripo (Scenario)", "Tripo retopology through Scenario's API (face limit, quads, bake)",
          "tripo:TripoProvider", "Scenario",
          (Credential("scenario_api_key", "Scenario API Key", "SCENARIO_SDK_API_KEY", "api_key"),
           Credential("scenario_api_secret", "Scenario API Secret", "SCENARIO_SDK_API_SECRET", "api_secret")),
          "https://api.cloud.scenario.com", "SCENARIO_BASE_URL", 30.0, None,
          (("", "", "Scenario credits; time and price not published"),)),
    Entry("sboxcool", "sboxcool", "sboxcool Model Importer: decimation, LoD chain, PBR maps, s&box .vmdl",
          "sboxcool:SboxcoolProvider", "sboxcool",
          (Credential("sboxcool_api_key", "sboxcool API Key", "SBOXCOOL_API_KEY", "api_key"),),
          "https://sboxcool.com", "SBOXCOOL_BASE_URL", 30.0, None,
          (("", "", "at most 5 jobs at once per key, more wait in the queue; time and price not "
                    "published"),)),
)  # fmt: skip

BY_NAME: Mapping[str, Entry] = {entry.name: entry for entry in REGISTRY}
NAMES = tuple(BY_NAME)


def missing_credentials_message(entry: Entry) -> str:
    return (
        f"no {entry.service} credentials: enter them in Preferences > Add-ons > Retopo Hub "
        f"or set {' and '.join(c.env for c in entry.credentials)}"
    )


def credentials_problem(entry: Entry, values: Mapping[str, str]) -> str | None:
    """Why these credentials cannot be sent (missing, or pasted with smart quotes, spaces or accents, which
    HTTP headers cannot carry), in one line that never shows the value; None when they can."""
    if any(not values.get(c.name) for c in entry.credentials):
        return missing_credentials_message(entry)
    for credential in entry.credentials:
        value = values[credential.name]
        if not (value.isascii() and value.isprintable()) or any(ch.isspace() for ch in value):
            return (
                f"the {credential.label} has a character no key has (a quote, space or accent): paste it "
                f"again in Preferences > Add-ons > Retopo Hub or set {credential.env}"
            )
    return None


def deadline_min(entry: Entry, options: Mapping[str, Any]) -> float:
    """The default deadline of a job with ``options`` (the preferences may override it)."""
    if entry.slow_deadline and options.get(entry.slow_deadline[0]) == entry.slow_deadline[1]:
        return entry.slow_deadline[2]
    return entry.deadline_min


def expectation(entry: Entry, options: Mapping[str, Any]) -> str:
    """What the service documents about a job with ``options`` (time, limits, price), or ''."""
    for option, value, text in entry.expectations:
        if not option or options.get(option) == value:
            return text
    return ""


class _Deferred:
    """A provider object made on first use: a worker host that only runs local jobs never imports the
    cloud providers (and their HTTP stack), which starts it sooner."""

    def __init__(self, implementation: str) -> None:
        self._implementation = implementation
        self._provider: Any = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        with self._lock:  # worker threads may be first to use it
            if self._provider is None:
                module_name, class_name = self._implementation.split(":")
                module = importlib.import_module(f"{__package__}.{module_name}")
                self._provider = getattr(module, class_name)()
        return getattr(self._provider, name)


def implementations() -> dict[str, Any]:
    """One provider object per entry, each imported on first use (only the worker host runs them)."""
    return {entry.name: _Deferred(entry.implementation) for entry in REGISTRY}
