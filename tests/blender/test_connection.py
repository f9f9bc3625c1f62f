# SPDX-License-Identifier: GPL-3.0-or-later
"""Test Connection in real Blender against the emulators: one line per outcome, never a paid request.

Per cloud provider: OK, wrong key, no online access and no key (nothing reaches the service), an unreachable
host (a closed port: the line names the host only), unexpected answers (a 500, a malformed body); the
preferences draw the button and the last line. The last test reads every emulator's log: GETs of the one
documented read-only path only, no POST, no job, no submission.
"""

from __future__ import annotations

import re
import socket
import time

import bpy
import pytest
from emulators import CsmEmulator, SboxcoolEmulator, ScenarioEmulator
from emulators.remote import Remote

from tests.support.cloud import configure, reset
from tests.support.layout import draw_preferences

KEYS = {
    "csm": {"api_key": "csm-secret-key-0123456789"},
    "tripo": {"api_key": "scn-secret-key-0123456789", "api_secret": "scn-secret-secret-0123456789"},
    "sboxcool": {"api_key": "sbox_tk_secret_0123456789"},
}
EMULATORS = {
    "csm": (CsmEmulator, KEYS["csm"]["api_key"]),
    "tripo": (ScenarioEmulator, KEYS["tripo"]["api_key"], KEYS["tripo"]["api_secret"]),
    "sboxcool": (SboxcoolEmulator, KEYS["sboxcool"]["api_key"]),
}
CHECK_PATHS = {
    "csm": r"^/user/userdata$",
    "tripo": r"^/v1/models$",
    "sboxcool": r"^/api/tools/v1/queue/my-jobs$",
}
SERVICE = {"csm": "CSM.ai", "tripo": "Scenario", "sboxcool": "sboxcool"}
ENV = ("CSM_API_KEY", "CSM_BASE_URL", "SCENARIO_SDK_API_KEY", "SCENARIO_SDK_API_SECRET", "SCENARIO_BASE_URL",
       "SBOXCOOL_API_KEY", "SBOXCOOL_BASE_URL")  # fmt: skip
PROVIDERS = sorted(KEYS)


@pytest.fixture(scope="module")
def emulators():
    started = {name: Remote(*args).start() for name, args in EMULATORS.items()}
    yield started
    for emu in started.values():
        emu.stop()
        assert not emu.internal_errors, emu.internal_errors
        assert not emu.credential_leaks(), [(r.method, r.path) for r in emu.credential_leaks()]


@pytest.fixture
def cloud(addon, blank, emulators, monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    addon.jobs.session.set_online_override(False)  # other suites' CLI runs leave it on
    try:
        yield emulators
    finally:
        reset(addon)
        addon.jobs.session.set_online_override(False)


def press_test_connection(provider: str, addon) -> str:
    """Press the button (headless, EXEC blocks); the line it reported, as the preferences keep it."""
    assert bpy.ops.retopo_hub.test_connection("INVOKE_DEFAULT", provider=provider) == {"FINISHED"}
    line = addon.jobs.connection.last_result(provider)
    assert line.startswith(f"{SERVICE[provider]}: ") and "\n" not in line, line
    for secret in KEYS[provider].values():
        assert secret not in line
    return line


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_ok_and_wrong_key(cloud, addon, provider):
    emu = cloud[provider]
    configure(addon, provider, emu.base_url, **KEYS[provider])
    assert press_test_connection(provider, addon) == f"{SERVICE[provider]}: OK, the key was accepted"

    wrong = {name: f"wrong-{value}" for name, value in KEYS[provider].items()}
    configure(addon, provider, emu.base_url, **wrong)
    line = press_test_connection(provider, addon)
    assert "wrong key (HTTP 401)" in line and "Preferences > Add-ons > Retopo Hub" in line
    for value in wrong.values():
        assert value not in line

    # The UI's driver: start, then the same non-blocking step a modal timer calls until the answer comes.
    configure(addon, provider, emu.base_url, **KEYS[provider])
    connection = addon.jobs.connection
    assert connection.start(provider) is None and connection.testing(provider)
    assert connection.last_result(provider).endswith("testing the connection...")
    end, result = time.monotonic() + 30, None
    while result is None and time.monotonic() < end:
        result = connection.step(provider)
        time.sleep(0.01)
    assert result is not None and result.ok and not connection.testing(provider)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_no_online_access_and_no_key_send_nothing(cloud, addon, provider):
    emu = cloud[provider]
    before = len(emu.requests)
    configure(addon, provider, emu.base_url, **KEYS[provider])
    bpy.context.preferences.system.use_online_access = False
    line = press_test_connection(provider, addon)
    assert "no online access" in line and "Allow Online Access" in line

    bpy.context.preferences.system.use_online_access = True
    configure(addon, provider, emu.base_url)  # no key at all
    line = press_test_connection(provider, addon)
    assert "no key: enter the" in line and "Preferences > Add-ons > Retopo Hub" in line
    assert len(emu.requests) == before, "no request may reach the service"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_unreachable_host_names_the_host_only(cloud, addon, provider):
    port = closed_port()
    configure(addon, provider, f"http://127.0.0.1:{port}/api/base", **KEYS[provider])
    line = press_test_connection(provider, addon)
    assert "cannot reach 127.0.0.1:" in line, line
    assert str(port) not in line and "/api/base" not in line


@pytest.mark.parametrize("provider", PROVIDERS)
def test_unexpected_answers(cloud, addon, provider):
    emu = cloud[provider]
    configure(addon, provider, emu.base_url, **KEYS[provider])
    emu.inject("GET", CHECK_PATHS[provider], "status", status=500)
    line = press_test_connection(provider, addon)
    assert "unexpected answer (HTTP 500" in line, line
    emu.inject("GET", CHECK_PATHS[provider], "malformed")
    line = press_test_connection(provider, addon)
    assert "unexpected answer (HTTP 200" in line, line
    assert press_test_connection(provider, addon).endswith("OK, the key was accepted"), (
        "the faults fired once each"
    )


def test_preferences_draw_a_button_and_the_last_line_per_cloud_provider(cloud, addon):
    prefs = bpy.context.preferences.addons[addon.__name__].preferences
    configure(addon, "csm", cloud["csm"].base_url, **KEYS["csm"])
    press_test_connection("csm", addon)
    log = draw_preferences(prefs, bpy.context)
    assert log.count(("operator", "retopo_hub.test_connection")) == 3
    assert [e[3] for e in log if e[:3] == ("operator_prop", "retopo_hub.test_connection", "provider")] == [
        "csm", "tripo", "sboxcool"
    ]  # fmt: skip
    labels = [e[1] for e in log if e[0] == "label"]
    assert "CSM.ai: OK, the key was accepted" in labels
    # Each line is drawn right under its own button, after that service's keys.
    button = log.index(("operator", "retopo_hub.test_connection"))
    assert log[button - 1] == ("prop", "csm_api_key") and log[button + 2] == ("label", labels[1])
    for secret in (v for keys in KEYS.values() for v in keys.values()):
        assert all(secret not in text for text in labels)


def test_never_a_paid_request(cloud, addon):
    """After every test above (and one more press each, so this test stands alone too): each service saw
    GETs of its read-only path only, and nothing was created."""
    for provider, emu in cloud.items():
        configure(addon, provider, emu.base_url, **KEYS[provider])
        assert press_test_connection(provider, addon).endswith("OK, the key was accepted")
        requests = emu.requests
        assert requests, f"{provider} was never asked"
        assert {r.method for r in requests} == {"GET"}, provider
        assert all(re.search(CHECK_PATHS[provider], r.path) for r in requests), provider
        assert not emu.jobs and not emu.submissions, provider
        assert emu.count("POST", ".*") == 0
