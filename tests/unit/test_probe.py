# SPDX-License-Identifier: GPL-3.0-or-later
"""Test Connection in the worker's job runner against the emulators: every outcome in one line, no secret,
and nothing but one GET ever reaches a service."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator

import pytest
from emulators import CsmEmulator, SboxcoolEmulator, ScenarioEmulator
from retopo_hub.core.jobs import Credentials, JobEvent, JobSpec, State
from retopo_hub.providers import probe
from retopo_hub.providers.registry import BY_NAME, implementations
from retopo_hub.worker import ipc
from retopo_hub.worker.client import WorkerHost
from retopo_hub.worker.runner import JobRunner

KEYS = {
    "csm": {"api_key": "csm-secret-key-1234"},
    "tripo": {"api_key": "scn-secret-key-1234", "api_secret": "scn-secret-secret-5678"},
    "sboxcool": {"api_key": "sbox_tk_secret_1234"},
}
EMULATORS = {
    "csm": lambda: CsmEmulator(KEYS["csm"]["api_key"]),
    "tripo": lambda: ScenarioEmulator(KEYS["tripo"]["api_key"], KEYS["tripo"]["api_secret"]),
    "sboxcool": lambda: SboxcoolEmulator(KEYS["sboxcool"]["api_key"]),
}
PATHS = {"csm": r"^/user/userdata$", "tripo": r"^/v1/models$", "sboxcool": r"^/api/tools/v1/queue/my-jobs$"}


@pytest.fixture(scope="module")
def runner() -> Iterator[JobRunner]:
    runner = JobRunner(implementations())
    yield runner
    runner.shutdown()


def check(runner: JobRunner, provider: str, base_url: str, *, online: bool = True, **credentials: str):
    spec = JobSpec(
        job_id=f"probe-{time.monotonic_ns()}", provider=provider, source_name="", options={}, work_dir="",
        credentials=Credentials(credentials), base_url=base_url, online=online,
    )  # fmt: skip
    runner.probe(spec, timeout_s=5.0)
    end = time.monotonic() + 20
    while time.monotonic() < end:
        for probe_id, result in runner.drain_probes():
            assert probe_id == spec.job_id
            assert "\n" not in result.message
            assert result.message.startswith(f"{BY_NAME[provider].service}: ") or provider == "local"
            for secret in (*credentials.values(), *KEYS.get(provider, {}).values()):
                assert secret not in result.message
            return result
        time.sleep(0.01)
    raise AssertionError("no answer")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("provider", sorted(KEYS))
def test_every_outcome_with_one_get_at_most(runner: JobRunner, provider: str) -> None:
    with EMULATORS[provider]() as emu:
        url, good = emu.base_url, KEYS[provider]
        assert check(runner, provider, url, **good).outcome is probe.Outcome.OK
        wrong = {name: value + "x" for name, value in good.items()}
        result = check(runner, provider, url, **wrong)
        assert result.outcome is probe.Outcome.WRONG_KEY and "HTTP 401" in result.message
        assert check(runner, provider, url, online=False, **good).outcome is probe.Outcome.OFFLINE
        assert check(runner, provider, url).outcome is probe.Outcome.NO_KEY
        emu.inject("GET", PATHS[provider], "status", status=503, times=None)
        result = check(runner, provider, url, **good)
        assert result.outcome is probe.Outcome.UNEXPECTED and "(HTTP 503" in result.message
        assert emu.faults[0].fired == 1, "a test is one request: no retry"
        emu.clear_faults()
        emu.inject("GET", PATHS[provider], "malformed")
        result = check(runner, provider, url, **good)
        assert result.outcome is probe.Outcome.UNEXPECTED and "HTTP 200" in result.message
        assert [r.method for r in emu.requests] == ["GET"] * 4  # OK, wrong key, 503, malformed
        assert all(re.search(PATHS[provider], r.path) for r in emu.requests)
        assert not emu.jobs and not emu.submissions and not emu.internal_errors
        assert not emu.credential_leaks()
    port = closed_port()
    result = check(runner, provider, f"http://127.0.0.1:{port}/some/path", **good)
    assert result.outcome is probe.Outcome.UNREACHABLE
    assert "cannot reach 127.0.0.1:" in result.message and str(port) not in result.message
    assert "/some/path" not in result.message


def test_unusable_settings_send_nothing(runner: JobRunner) -> None:
    result = check(runner, "csm", "http://example.com", api_key="csm-secret-key-1234")
    assert result.outcome is probe.Outcome.SETTINGS and "https://" in result.message
    result = check(runner, "csm", "https://api.csm.ai", api_key="csm secret key")
    assert result.outcome is probe.Outcome.SETTINGS and "secret" not in result.message
    result = check(runner, "local", "", api_key="local-not-a-key")
    assert result.outcome is probe.Outcome.UNEXPECTED and "not a cloud provider" in result.message


def test_result_round_trips_through_the_wire() -> None:
    result = probe.line(BY_NAME["tripo"], probe.Outcome.WRONG_KEY, "HTTP 403")
    assert probe.Result.from_dict(result.to_dict()) == result
    assert "Scenario API Key and Scenario API Secret" in result.message
    assert "SCENARIO_SDK_API_KEY and SCENARIO_SDK_API_SECRET" in result.message


class _Lines:
    """A stand-in for the host's pipe: the lines it has written so far, read once."""

    def __init__(self, *messages: dict) -> None:
        self.lines = [ipc.dumps(m).strip() for m in messages]

    def read_lines(self) -> list[bytes]:
        lines, self.lines = self.lines, []
        return lines


def test_probe_answers_and_job_events_never_steal_each_others_lines() -> None:
    host = WorkerHost("/nonexistent")
    event = JobEvent("job-1", state=State.RUNNING, progress=0.5, message="running")
    host._reader = _Lines(
        {"event": ipc.encode_event(event)},
        {"probe": {"id": "probe-1", "outcome": "ok", "message": "CSM.ai: OK, the key was accepted"}},
        {"event": ipc.encode_event(JobEvent("job-1", message="still running"))},
    )
    host._probing.add("probe-1")
    assert host.probe_result("probe-2") is None
    assert host.probe_result("probe-1") == {"outcome": "ok", "message": "CSM.ai: OK, the key was accepted"}
    assert host.probe_result("probe-1") is None, "an answer is taken once"
    assert [e.message for e in host.drain()] == ["running", "still running"], "events kept in order"
    host._probing.add("probe-3")  # the host is gone (never started here): the probe is answered, not lost
    assert host.probe_result("probe-3")["outcome"] == "unexpected"
