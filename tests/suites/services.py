# SPDX-License-Identifier: GPL-3.0-or-later
"""The three cloud emulators at once, the extension pointed at them, and the measures the suites share.

* ``cloud_services(addon)`` starts CSM, Scenario (Tripo) and sboxcool emulators, each in a process of its
  own (``emulators.remote``), puts their keys and URLs in the preferences and yields ``{provider: emulator}``;
  afterwards it checks that no emulator raised and no key reached a file host.
* ``submitted_names`` attributes every remote job an emulator created to the source object it came from
  (the upload carries the object's name), which is how "submitted twice" is counted.
* ``unclear`` says why a message is not a clear error (one line, < 300 chars, names what happened, no
  traceback, no secret), ``part_files`` finds half-written downloads.
* ``worker_patches`` shortens the read timeout or fills the disk in the processes the extension starts
  (see ``hooks/sitecustomize.py``), and in this one, wherever the workers run.
"""

from __future__ import annotations

import base64
import importlib.util
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import bpy
from emulators import CsmEmulator, SboxcoolEmulator, ScenarioEmulator
from emulators.assets import read_glb
from emulators.remote import Remote

from tests.support.cloud import configure, reset

HOOKS = Path(__file__).resolve().parent / "hooks"
PROVIDERS = ("csm", "tripo", "sboxcool")
KEYS = {
    "csm": {"api_key": "csm-suite-secret-7f3a91"},
    "tripo": {"api_key": "scn-suite-key-51c0de", "api_secret": "scn-suite-secret-9e2b44"},
    "sboxcool": {"api_key": "sbox_tk_suite_secret_c4d2"},
}
PREF_ATTRS = {
    "csm_api_key": KEYS["csm"]["api_key"],
    "scenario_api_key": KEYS["tripo"]["api_key"],
    "scenario_api_secret": KEYS["tripo"]["api_secret"],
    "sboxcool_api_key": KEYS["sboxcool"]["api_key"],
}
_BASIC = base64.b64encode(f"{KEYS['tripo']['api_key']}:{KEYS['tripo']['api_secret']}".encode()).decode()
SECRETS = (*PREF_ATTRS.values(), _BASIC)
# Words that tell the user a paid job may exist although this job never learned its id.
MAY_EXIST = re.compile(
    r"may have been created|may have reached|may exist|may still|check your \S+ (account|jobs|sessions)",
    re.I,
)


@contextmanager
def cloud_services(addon, *, csm=None, tripo=None, sboxcool=None) -> Iterator[dict]:
    """Start the three emulators (keyword options per emulator) and point the extension at them."""
    emus = {
        "csm": Remote(CsmEmulator, KEYS["csm"]["api_key"], **(csm or {})),
        "tripo": Remote(ScenarioEmulator, *KEYS["tripo"].values(), **(tripo or {})),
        "sboxcool": Remote(SboxcoolEmulator, KEYS["sboxcool"]["api_key"], **(sboxcool or {})),
    }
    for emu in emus.values():
        emu.start()
    try:
        for provider, emu in emus.items():
            configure(addon, provider, emu.base_url, **KEYS[provider])
        yield emus
    finally:
        reset(addon)
        addon.jobs.session.set_online_override(False)
        for emu in emus.values():
            emu.stop()
    for provider, emu in emus.items():
        assert not emu.internal_errors, (provider, emu.internal_errors)
        assert not emu.credential_leaks(), (provider, [(r.method, r.path) for r in emu.credential_leaks()])


def submitted_names(emus: dict) -> Counter:
    """How many remote jobs each source object got, read from what the emulators received."""
    names: Counter = Counter()
    for sub in emus["sboxcool"].submissions:
        names[Path(sub["filename"]).stem] += 1
    tripo_assets = emus["tripo"].assets  # one copy from the emulator's process, not one per submission
    for sub in emus["tripo"].submissions:
        names[Path(tripo_assets[sub["model"]]["name"]).stem] += 1
    for sub in emus["csm"].submissions:
        data = base64.b64decode(sub["mesh"].split(",", 1)[1]) if sub["mesh"].startswith("data:") else b""
        names[read_glb(data)[0]["nodes"][0]["name"] if data else sub["mesh"]] += 1
    return names


def unclear(message: str) -> str | None:
    """Why ``message`` is not a clear error, or None when it is one."""
    if not message.strip():
        return "no message"
    if "\n" in message or "\r" in message:
        return "more than one line"
    if len(message) >= 300:
        return f"{len(message)} characters"
    if "Traceback" in message or re.search(r'File ".*", line \d+', message):
        return "a traceback"
    if any(secret in message for secret in SECRETS):
        return "a secret"
    if message.lower().startswith(("internal error", "error", "exception")) or message == "failed":
        return "it does not say what happened"
    return None


def part_files(*folders: Path) -> list[Path]:
    """Half-written files (``*.part*``) anywhere below ``folders``."""
    return [p for folder in folders if Path(folder).exists() for p in Path(folder).rglob("*.part*")]


def job_folder(addon) -> Path:
    return Path(bpy.context.preferences.addons[addon.__name__].preferences.cache_dir)


def sphere(name: str, provider: str, *, index: int = 0, subdivisions: int = 2, **settings):
    """A small icosphere set up for ``provider`` (OBJ uploads for sboxcool, a reachable face count)."""
    bpy.ops.mesh.primitive_ico_sphere_add(subdivisions=subdivisions, location=(3.0 * index, 0.0, 0.0))
    obj = bpy.context.active_object
    obj.name = obj.data.name = name
    obj.retopo_hub.provider = provider
    obj.retopo_hub.sbox_format = "obj"
    obj.retopo_hub.target_faces = 500 if provider == "tripo" else max(4, len(obj.data.polygons) // 4)
    for key, value in settings.items():
        setattr(obj.retopo_hub, key, value)
    return obj


def drive(engine, job_ids: list[str], *, guard_s: float = 180.0) -> list:
    """``run_blocking`` with a hang guard: a job that never ends fails the test instead of hanging it."""
    end = time.monotonic() + guard_s
    while True:
        engine.step.step(bpy.context.scene, max_imports=max(1, len(job_ids)))
        records = [engine.records.find(j) for j in job_ids]
        if all(r is None or engine.records.terminal(r.state) for r in records):
            return records
        states = [(r.source_name, r.state, r.message) for r in records if r is not None]
        assert time.monotonic() < end, f"jobs never ended: {states}"
        engine.session.worker_host().wait_for_event(0.05)


def step_until(engine, done, *, guard_s: float = 120.0) -> None:
    """Call the step function until ``done()`` is true (a hang guard fails the test instead of hanging it)."""
    end = time.monotonic() + guard_s
    while not done():
        assert time.monotonic() < end, "the jobs never got there"
        engine.step.step(bpy.context.scene)
        engine.session.worker_host().wait_for_event(0.05)


def _load_hooks():
    spec = importlib.util.spec_from_file_location("retopo_hub_test_hooks", HOOKS / "sitecustomize.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextmanager
def worker_patches(addon, *, read_timeout: float | None = None, free_bytes: int | None = None):
    """Shorter read timeouts or a full disk for the jobs started inside the ``with`` block.

    The worker host is restarted on entry and on exit, so it starts with (then without) the patches; the
    same patches apply in this process too, for workers that run here.
    """
    engine = addon.jobs
    saved = {k: os.environ.get(k) for k in ("RETOPO_HUB_TEST_READ_TIMEOUT", "RETOPO_HUB_TEST_FREE_BYTES")}
    engine.session.shutdown()
    if read_timeout:
        os.environ["RETOPO_HUB_TEST_READ_TIMEOUT"] = str(read_timeout)
    if free_bytes is not None:
        os.environ["RETOPO_HUB_TEST_FREE_BYTES"] = str(free_bytes)
    sys.path.insert(0, str(HOOKS))
    take_back = _load_hooks().install(read_timeout, free_bytes)
    try:
        yield
    finally:
        take_back()
        sys.path.remove(str(HOOKS))
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        engine.session.shutdown()


def worker_host_pids() -> list[int]:
    """Process ids of the worker hosts this process started (none when workers run in threads here)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z" and b"worker/main.py" in cmdline:
            found.append(int(stat.parent.name))
    return found


def wait_gone(pid: int, guard_s: float = 30.0) -> None:
    """Wait until process ``pid`` has exited (a zombie counts as gone)."""
    end = time.monotonic() + guard_s
    while time.monotonic() < end:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return
        if state == "Z":
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} did not exit")
