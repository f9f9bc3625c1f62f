# SPDX-License-Identifier: GPL-3.0-or-later
"""Test Connection on Blender's side: one step function and its blocking driver, and the last answers.

Contract: ``start(provider)`` reads the preferences (``jobs.specs``, environment fallbacks included) and
answers at once, sending nothing, when online access is off (Blender's setting or the CLI's override) or the
key is missing; otherwise it hands the test to the worker host, which makes the request: Blender's process
makes none (``worker.runner`` says why). ``step(provider)`` takes the answer when it has come and never
waits; the UI calls it from a modal timer (``operators.connection``), ``run_blocking`` loops on it headless.
``last_result(provider)`` is this session's last one-line answer, kept in the preferences module for its
``draw()`` (``preferences.CONNECTION_RESULTS``): it holds no secret and is never saved. Main thread only.
"""

from __future__ import annotations

import time
import uuid

import bpy

from ..core.errors import RetopoError
from ..core.jobs import Credentials
from ..preferences import CONNECTION_RESULTS
from ..providers import probe, registry
from . import session, specs

HOST_START_S = 15.0  # on top of the request's own limit: starting the worker host on a slow disk
_pending: dict[str, tuple[str, float]] = {}  # provider -> (probe id, monotonic time to give up)


def network_timeout() -> float:
    """Blender's network timeout (Preferences > System), 0 meaning the system default."""
    seconds = getattr(bpy.context.preferences.system, "network_timeout", 0)
    return float(seconds) if seconds and seconds > 0 else probe.DEFAULT_TIMEOUT_S


def last_result(provider: str) -> str:
    return CONNECTION_RESULTS.get(provider, "")


def testing(provider: str) -> bool:
    """A test of ``provider`` is under way (one whose driver vanished stops counting at its time limit)."""
    return provider in _pending and time.monotonic() <= _pending[provider][1]


def start(provider: str) -> probe.Result | None:
    """The answer when none needs a request; else None, and the test runs in the worker host."""
    entry = registry.BY_NAME[provider]
    _pending.pop(provider, None)
    try:
        prefs = specs.read_preferences()  # an unusable job folder says so here, as a submit would
    except RetopoError as exc:
        return _finish(provider, probe.line(entry, probe.Outcome.SETTINGS, str(exc)))
    credentials = dict(prefs.credentials.get(provider, Credentials()).values)
    refused = probe.refusal(entry, online=prefs.online, credentials=credentials)
    if refused is not None:
        return _finish(provider, refused)
    timeout = network_timeout()
    probe_id = f"probe-{provider}-{uuid.uuid4().hex[:12]}"
    spec = specs.make_spec(prefs, job_id=probe_id, provider=provider, source_name="", options={}, work_dir="")
    try:
        session.worker_host().probe(spec, timeout)
    except OSError as exc:
        reason = f"the worker process could not start ({type(exc).__name__}); see the system console"
        return _finish(provider, probe.line(entry, probe.Outcome.UNEXPECTED, reason))
    _pending[provider] = (probe_id, time.monotonic() + 2 * timeout + HOST_START_S)
    CONNECTION_RESULTS[provider] = f"{entry.service}: testing the connection..."
    return None


def step(provider: str) -> probe.Result | None:
    """The answer of the test under way once it has come (else None); never waits."""
    if provider not in _pending:
        return None
    probe_id, give_up = _pending[provider]
    answer = session.worker_host().probe_result(probe_id)
    service = registry.BY_NAME[provider].service
    if answer is not None:
        result = probe.Result.from_dict(answer)
        if not result.message.startswith(f"{service}: "):  # the worker itself failed, not the request
            result = probe.Result(result.outcome, f"{service}: {result.message}")
    elif time.monotonic() > give_up:
        result = probe.line(registry.BY_NAME[provider], probe.Outcome.UNEXPECTED, "no answer in time")
    else:
        return None
    del _pending[provider]
    return _finish(provider, result)


def run_blocking(provider: str, *, poll_s: float = 0.05) -> probe.Result:
    """``start`` then ``step`` until the answer comes (``blender -b``, the ``bpy`` module, the EXEC call)."""
    result = start(provider)
    while result is None:
        if not session.worker_host().wait_for_event(poll_s):
            time.sleep(poll_s)  # no pipe to wait on: the host is gone, and step() says so
        result = step(provider)
    return result


def _finish(provider: str, result: probe.Result) -> probe.Result:
    CONNECTION_RESULTS[provider] = result.message
    return result
