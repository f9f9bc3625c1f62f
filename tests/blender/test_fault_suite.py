# SPDX-License-Identifier: GPL-3.0-or-later
"""The fault suite: nothing lost, nothing paid twice, every failure a clear error, whatever the network does.

Real Blender against the CSM, Scenario (Tripo) and sboxcool emulators. Each round arms faults on all three
services, submits three objects per service in one ``submit_objects`` call (so they run concurrently) and
drives them with the step function until every job ends: 429s, 500/502/503, answers slower than the read
timeout, dropped connections, truncated bodies, malformed JSON, failed remote jobs, expired links, garbage
instead of a mesh, a submit answer lost after the service took the job, Blender killed (SIGKILL) between
submit and import, the worker host killed mid-job (the file then reopened, saved first or not), killed
while the paid submits are on the wire (the services still create the jobs), and stopped (SIGSTOP). Every
job is judged right after its round (``suites.ledger``) and the suite prints ``N jobs, F faults injected,
0 lost, 0 submitted twice, E clear errors``.

It proves: a job the service created is imported or ends in a one-line error that says what happened (and,
when the job never learned its remote id, that a paid job may exist); no local job ever creates two remote
jobs; retryable faults cost nothing but time; a crash or a dead worker host loses no downloaded or running
job; no half-written download stays in the job folder.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import bpy
import pytest

from tests.suites.ledger import Ledger
from tests.suites.services import (
    PREF_ATTRS,
    PROVIDERS,
    cloud_services,
    drive,
    job_folder,
    part_files,
    sphere,
    step_until,
    unclear,
    wait_gone,
    worker_host_pids,
    worker_patches,
)

CHILD = Path(__file__).resolve().parents[1] / "suites" / "kill_after_submit.py"
PER_PROVIDER = 3
READ_TIMEOUT_S = 2.0  # the workers' read timeout during the timeout rounds
SLOW_S = 3.0  # how long a "slow" answer takes: past that timeout
# (request path regex, server) of the submit, the status poll and the result download of each service
TARGETS = {
    "csm": {"submit": (r"^/v3/sessions/?$", "api"), "poll": (r"^/v3/sessions/SESSION_", "api"),
            "download": (r"/retopo_mesh_\d+\.obj$", "cdn")},
    "tripo": {"submit": (r"^/v1/generate/", "api"), "poll": (r"^/v1/jobs/", "api"),
              "download": (r"^/assets/", "cdn")},
    "sboxcool": {"submit": (r"^/api/tools/model$", "api"), "poll": (r"^/api/tools/model/", "api"),
                 "download": (r"^/uploads/temp/", "api")},
}  # fmt: skip
GARBAGE = b"<html><body>502 Bad Gateway</body></html>"


@dataclass(frozen=True)
class Scenario:
    tag: str
    faults: tuple = ()  # (target, kind, times, options) armed on every service
    failures: tuple[int, int, int] = (0, 0, 0)  # jobs expected to fail per service (csm, tripo, sboxcool)
    failed_jobs: int = 0  # remote jobs each service makes fail (fail_next_job)
    slow: bool = False  # needs the short read timeout


SCENARIOS = (
    Scenario("rate", (("submit", "status", 3, {"status": 429}), ("poll", "status", 2, {"status": 429}))),
    Scenario("poll5xx", tuple(("poll", "status", 1, {"status": s}) for s in (500, 502, 503))),
    Scenario("fetch5xx", (("download", "status", 1, {"status": 503}), ("download", "status", 1, {}))),
    Scenario("submit5xx", (("submit", "status", 1, {}), ("submit", "status", 1, {"status": 502})), (2, 2, 2)),
    Scenario("pollslow", (("poll", "slow", 2, {"seconds": SLOW_S}),), slow=True),
    Scenario("fetchslow", (("download", "slow", 1, {"seconds": SLOW_S}),), slow=True),
    Scenario("submitslow", (("submit", "slow", 1, {"seconds": SLOW_S}),), (1, 1, 1), slow=True),
    Scenario("dropped", (("download", "drop", 2, {}), ("poll", "drop", 1, {}))),
    Scenario("truncated", (("download", "truncate", 2, {}), ("poll", "truncate", 1, {}))),
    Scenario("malformed", (("poll", "malformed", 2, {}), ("submit", "malformed", 1, {})), (1, 1, 1)),
    Scenario("jobfail", failures=(2, 2, 2), failed_jobs=2),
    Scenario("expired", (("download", "expire", 1, {}),), (1, 1, 1)),
    # 200 with an HTML page instead of the mesh: Tripo's size check retries it, the others cannot read it.
    Scenario("garbage", (("download", "status", 1, {"status": 200, "body": GARBAGE}),), (1, 0, 1)),
    # The service created the job, then the answer was lost or mangled on the way back.
    Scenario(
        "lostanswer",
        (("submit", "drop", 1, {"process": True}), ("submit", "malformed", 1, {"process": True})),
        (2, 2, 2),
    ),
)


@pytest.fixture
def services(addon, blank):
    with cloud_services(addon) as emus:
        yield emus


def test_fault_suite(addon, services, tmp_path, capsys):
    ledger = Ledger(services)
    problems = _kill_blender_round(addon, services, ledger)
    for scenario in SCENARIOS:
        problems += _fault_round(addon, services, ledger, scenario)
    for save_after in (False, True):
        problems += _kill_host_round(addon, services, ledger, tmp_path, save_after=save_after)
    problems += _submit_in_doubt_round(addon, services, ledger)
    problems += _stopped_host_round(addon, services, ledger)
    with capsys.disabled():
        sys.stdout.write(f"\nfault suite: {ledger.summary()}\n")
    problems += ledger.problems()
    problems += [f"half-written file left: {p}" for p in part_files(job_folder(addon))]
    assert not problems, "\n".join(problems)
    assert ledger.count("lost") == 0 and not ledger.twice()


def _fault_round(addon, emus, ledger, scenario: Scenario) -> list[str]:
    engine = addon.jobs
    for provider, emu in emus.items():
        for target, kind, times, options in scenario.faults:
            path, server = TARGETS[provider][target]
            method = "POST" if target == "submit" else "GET"
            emu.inject(method, path, kind, times=times, server=server, **options)
        for _ in range(scenario.failed_jobs):
            emu.fail_next_job(f"{scenario.tag}: the mesh has no usable surface")
    ledger.other_faults += scenario.failed_jobs * len(emus)
    names = [(p, f"{scenario.tag}_{p}_{i}") for p in PROVIDERS for i in range(PER_PROVIDER)]
    objects = [sphere(name, p, index=i) for i, (p, name) in enumerate(names)]
    patches = worker_patches(addon, read_timeout=READ_TIMEOUT_S) if scenario.slow else nullcontext()
    with patches:
        records = drive(engine, engine.submit.submit_objects(bpy.context, objects))
    _wait_for_slow_answers(emus)
    verdicts = ledger.judge(scenario.tag, [(p, n, r) for (p, n), r in zip(names, records, strict=True)])
    tag = scenario.tag
    armed = [(provider, fault) for provider, emu in emus.items() for fault in emu.faults]  # as they are now
    problems = [
        f"{tag}/{p}: {f.kind} fault on {f.pattern.pattern} fired {f.fired} of {f.fired + f.remaining}"
        for p, f in armed
        if f.remaining
    ]
    for provider, expected in zip(PROVIDERS, scenario.failures, strict=True):
        failed = [str(v) for v in verdicts if v.provider == provider and v.outcome != "imported"]
        if len(failed) != expected:
            problems.append(f"{tag}/{provider}: {len(failed)} jobs not imported, expected {expected}")
            problems += [f"  {v}" for v in failed]
    for emu in emus.values():
        emu.clear_faults()
        problems += [f"{scenario.tag}: unused job failure {m!r}" for m in emu.drop_unused_failures()]
    return problems


def _wait_for_slow_answers(emus) -> None:
    """A slow answer is processed after its client gave up: wait for it, so the books see that job too."""
    end = time.monotonic() + SLOW_S + 10.0
    slow = [r for emu in emus.values() for r in emu.requests if r.fault == "slow"]
    while any(r.status is None for r in slow) and time.monotonic() < end:
        time.sleep(0.05)


def _expire_results_of(emus, provider: str, remote_id: str) -> None:
    """Make the download links of one remote job answer as expired, from now on."""
    emu = emus[provider]
    if provider == "tripo":
        assets = "|".join(map(re.escape, emu.jobs[remote_id].data["assets"]))
        emu.inject("GET", rf"^/assets/({assets})/", "expire", times=None, server="cdn")
    elif provider == "csm":
        emu.inject("GET", re.escape(remote_id), "expire", times=None, server="cdn")
    else:
        emu.inject("GET", rf"^/uploads/temp/.*{re.escape(remote_id)}", "expire", times=None)


def _kill_blender_round(addon, emus, ledger) -> list[str]:
    """Blender dies (SIGKILL) with some jobs downloaded and others running; the links then expire. The
    next session must import the downloaded ones from the job folder and finish the running ones."""
    engine = addon.jobs
    names = [(f"K_{p}_{i}", p) for p in PROVIDERS for i in range(2)]
    urls = {f"{p}_base_url": emu.base_url for p, emu in emus.items()}
    plan = {"job_dir": str(job_folder(addon)), "prefs": PREF_ATTRS | urls, "objects": names}
    emus["sboxcool"].polls_per_step = 4  # so these are still running when the others are downloaded
    proc = subprocess.run([sys.executable, str(CHILD), json.dumps(plan)], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ), check=False)  # fmt: skip
    emus["sboxcool"].polls_per_step = 1
    if proc.returncode != -signal.SIGKILL:
        return [f"killed: the child did not die as planned (exit {proc.returncode}): {proc.stderr[-3000:]}"]
    ledger.other_faults += 1
    lines = [line.split() for line in proc.stdout.splitlines()]
    host = next((line[1:] for line in lines if line[0] == "HOST"), [])
    if host:
        wait_gone(int(host[0]))  # the orphaned worker host notices and stops; then Blender comes back
    jobs = [line[1:] for line in lines if line[0] == "JOB"]
    for _job_id, name, remote_id, downloaded in jobs:
        if downloaded == "1":
            _expire_results_of(emus, name.split("_")[1], remote_id)
    problems = [] if any(j[3] == "1" for j in jobs) else ["killed: no job had downloaded before the kill"]
    bpy.ops.wm.read_homefile(use_empty=True)  # the startup file brings the unsaved session's jobs back
    resumed = [r.job_id for r in bpy.context.scene.retopo_hub.jobs if not engine.records.terminal(r.state)]
    if sorted(resumed) != sorted(j[0] for j in jobs):
        problems.append(f"killed: resumed {sorted(resumed)}, expected every job of {jobs}")
    drive(engine, resumed)
    triples = [(name.split("_")[1], name, engine.records.find(job_id)) for job_id, name, *_ in jobs]
    ledger.judge("killed", triples, must_import=True)
    for emu in emus.values():
        emu.clear_faults()
    return problems


def _kill_host_round(addon, emus, ledger, tmp_path, *, save_after: bool) -> list[str]:
    """The worker host is killed while jobs run: each job fails with a clear error that says to reopen the
    file, and reopening it resumes them by their remote ids, whether or not the file was saved meanwhile."""
    engine, tag = addon.jobs, "host-killed-saved" if save_after else "host-killed"
    names = [(p, f"{tag}_{p}_{i}".replace("-", "")) for p in PROVIDERS for i in range(2)]
    objects = [sphere(name, p, index=i) for i, (p, name) in enumerate(names)]
    emus["sboxcool"].polls_per_step = emus["csm"].polls_per_step = 4
    job_ids = engine.submit.submit_objects(bpy.context, objects)
    step_until(engine, lambda: all(engine.records.find(j).remote_id for j in job_ids))
    emus["sboxcool"].polls_per_step = emus["csm"].polls_per_step = 1
    blend = tmp_path / f"{tag}.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    pids = worker_host_pids()
    if not pids:
        drive(engine, job_ids)
        return []  # the workers run inside Blender: there is no host to kill
    os.kill(pids[0], signal.SIGKILL)
    ledger.other_faults += 1
    problems = [
        f"{tag}: {r.source_name}: not a clear error ({unclear(r.message)}): {r.message!r}"
        for r in drive(engine, job_ids)
        if r.state == "failed" and unclear(r.message)
    ]
    if save_after:
        bpy.ops.wm.save_mainfile()  # Ctrl+S, or "Save" when Blender asks before opening a file
    bpy.ops.wm.open_mainfile(filepath=str(blend))  # as the message says: reopen the file
    drive(engine, job_ids)
    triples = [(p, n, engine.records.find(j)) for (p, n), j in zip(names, job_ids, strict=True)]
    ledger.judge(tag, triples, must_import=True)
    return problems


def _submit_in_doubt_round(addon, emus, ledger) -> list[str]:
    """The worker host dies while every paid submit is on the wire, and the services still create the jobs:
    each job fails saying the job may exist (check the account), none is submitted again by itself."""
    engine, tag = addon.jobs, "indoubt"
    engine.session.shutdown()  # a fresh worker host: its deaths in the rounds before do not count here
    names = [(p, f"{tag}_{p}_{i}") for p in PROVIDERS for i in range(2)]
    for provider, emu in emus.items():
        path, server = TARGETS[provider]["submit"]
        emu.inject("POST", path, "slow", times=2, server=server, seconds=SLOW_S)
    objects = [sphere(name, p, index=i) for i, (p, name) in enumerate(names)]
    job_ids = engine.submit.submit_objects(bpy.context, objects)

    def every_submit_sent() -> bool:
        return all(emu.count("POST", TARGETS[p]["submit"][0]) >= 2 for p, emu in emus.items())

    step_until(engine, every_submit_sent)
    pids = worker_host_pids()
    if not pids:
        drive(engine, job_ids)
        return []
    os.kill(pids[0], signal.SIGKILL)
    ledger.other_faults += 1
    records = drive(engine, job_ids)
    _wait_for_slow_answers(emus)
    ledger.judge(tag, [(p, n, r) for (p, n), r in zip(names, records, strict=True)])
    for emu in emus.values():
        emu.clear_faults()
    return [
        f"{tag}: {r.source_name}: {r.state}, no Submit Again offer: {r.message!r}"
        for r in records
        if r.state != "failed" or engine.records.resubmit_offer(r) is None
    ]


def _stopped_host_round(addon, emus, ledger) -> list[str]:
    """The worker host is stopped (SIGSTOP) mid-job: its silence gives it away, it is replaced, and every
    job is imported without reopening anything."""
    engine, tag, ipc = addon.jobs, "hoststopped", addon.worker.ipc
    engine.session.shutdown()
    names = [(p, f"{tag}_{p}_{i}") for p in PROVIDERS for i in range(2)]
    objects = [sphere(name, p, index=i) for i, (p, name) in enumerate(names)]
    emus["sboxcool"].polls_per_step = emus["csm"].polls_per_step = 4
    job_ids = engine.submit.submit_objects(bpy.context, objects)
    step_until(engine, lambda: all(engine.records.find(j).remote_id for j in job_ids))
    emus["sboxcool"].polls_per_step = emus["csm"].polls_per_step = 1
    pids = worker_host_pids()
    if not pids:
        drive(engine, job_ids)
        return []
    saved, ipc.SILENCE_LIMIT_S = ipc.SILENCE_LIMIT_S, 3.0
    try:
        os.kill(pids[0], signal.SIGSTOP)
        ledger.other_faults += 1
        records = drive(engine, job_ids)
    finally:
        ipc.SILENCE_LIMIT_S = saved
    ledger.judge(tag, [(p, n, r) for (p, n), r in zip(names, records, strict=True)], must_import=True)
    return []
