# SPDX-License-Identifier: GPL-3.0-or-later
"""The load run: 50 objects submitted at once across all four providers, in real Blender.

8 local jobs and 14 each for CSM, Tripo and sboxcool (against the emulators) go out in one ``submit_objects``
call and are driven by ``run_blocking``. It proves that every result is imported exactly once and no job
creates two remote jobs; that sboxcool never has more than 5 jobs at once (measured on the emulator, which
is set to accept far more, so only the extension can keep the limit) and never had to answer 429; and that
the step function never touches the network: every ``requests`` send, socket connect and name lookup made
in this process is recorded with its thread, and none happened on the main thread while ``step()`` ran
(importing finished results reads local files only). That is shown by structure, not by a timer.
"""

from __future__ import annotations

import json
import os
import select
import socket
import stat
import threading
from collections import Counter

import bpy
import pytest
import requests

from tests.suites.services import (
    PROVIDERS,
    cloud_services,
    job_folder,
    part_files,
    sphere,
    submitted_names,
    worker_host_pids,
)

COUNTS = {"local": 8, "csm": 14, "tripo": 14, "sboxcool": 14}


class NetworkProbe:
    """Records every network call of this process: (what, on the main thread, inside ``step()``), and every
    wait inside ``step()`` that could block: a read of a blocking pipe or socket, a ``select`` with a timeout.
    """

    def __init__(self, monkeypatch, engine) -> None:
        self.calls: list[tuple[str, bool, bool]] = []
        self.stepping = False
        self._lock = threading.Lock()
        real_step = engine.step.step

        def step(*args, **kwargs):
            self.stepping = threading.current_thread() is threading.main_thread()
            try:
                return real_step(*args, **kwargs)
            finally:
                self.stepping = False

        monkeypatch.setattr(engine.step, "step", step)
        for owner, name in ((requests.Session, "send"), (requests.adapters.HTTPAdapter, "send"),
                            (socket.socket, "connect"), (socket, "create_connection"),
                            (socket, "getaddrinfo")):  # fmt: skip
            monkeypatch.setattr(owner, name, self._wrap(f"{getattr(owner, '__name__', owner)}.{name}",
                                                        getattr(owner, name)))  # fmt: skip
        self.blocking: list[str] = []
        self.pipe_reads = 0  # reads of the worker host's pipe inside step(): the probe sees step's I/O
        real_read, real_select = os.read, select.select

        def read(fd, size):
            mode = os.fstat(fd).st_mode
            self.pipe_reads += self.stepping and stat.S_ISFIFO(mode)
            if self.stepping and (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)) and os.get_blocking(fd):
                self.blocking.append(f"os.read of blocking fd {fd}")
            return real_read(fd, size)

        def select_(rlist, wlist, xlist, timeout=None):
            if self.stepping and (timeout is None or timeout > 0):
                self.blocking.append(f"select.select with timeout {timeout}")
            return real_select(rlist, wlist, xlist, timeout)

        monkeypatch.setattr(os, "read", read)
        monkeypatch.setattr(select, "select", select_)

    def _wrap(self, what: str, function):
        def call(*args, **kwargs):
            main = threading.current_thread() is threading.main_thread()
            with self._lock:
                self.calls.append((what, main, main and self.stepping))
            return function(*args, **kwargs)

        return call

    def during_step(self) -> list[str]:
        return [what for what, _main, in_step in self.calls if in_step]

    def on_main_thread(self) -> list[str]:
        return [what for what, main, _in_step in self.calls if main]


@pytest.fixture
def services(addon, blank):
    # The sboxcool emulator accepts 100 jobs at once: only the extension can hold itself to 5.
    with cloud_services(addon, csm={"swift_faces": 300}, sboxcool={"max_concurrent": 100}) as emus:
        yield emus


def test_fifty_objects_at_once(addon, services, monkeypatch, capsys):
    engine = addon.jobs
    names = [(p, f"Load_{p}_{i}") for p, n in COUNTS.items() for i in range(n)]
    objects = [
        sphere(
            name, p, index=i, subdivisions=3 if p == "local" else 2, target_faces=300 if p == "local" else 500
        )
        for i, (p, name) in enumerate(names)
    ]
    probe = NetworkProbe(monkeypatch, engine)
    # The probe sees calls from any thread: one request from a helper thread proves it is wired in.
    helper = threading.Thread(target=requests.get, args=(services["csm"].base_url + "/probe",), daemon=True)
    helper.start()
    helper.join()
    assert ("Session.send", False, False) in probe.calls and any(
        c[0].endswith("connect") for c in probe.calls
    )
    probe.calls.clear()

    job_ids = engine.submit.submit_objects(bpy.context, objects)
    assert len(job_ids) == 50
    records = engine.step.run_blocking(job_ids)

    problems = [
        f"{r.source_name}: {r.state}: {r.message}" for r in records if r.state != "done" or not r.imported
    ]
    assert not problems, "\n".join(problems)
    results = [name for r in records for name in json.loads(r.result_objects)]
    assert results and all(name in bpy.data.objects for name in results)
    assert not [n for n in results if n[-4:-3] == "." and n[-3:].isdigit()], "a result imported twice"
    for (provider, name), record in zip(names, records, strict=True):
        assert record.source_name == name and record.provider == provider
    created = submitted_names(services)
    assert created == Counter({name: 1 for p, name in names if p != "local"}), "one remote job per object"
    assert sum(len(emu.submissions) for emu in services.values()) == 42
    sbox = services["sboxcool"]
    assert 1 <= sbox.peak <= 5, f"sboxcool had {sbox.peak} jobs at once"
    assert not [r for r in sbox.requests if r.status == 429], "the extension itself keeps sboxcool at 5 jobs"
    assert not probe.during_step(), f"network calls while step() ran: {Counter(probe.during_step())}"
    assert not probe.on_main_thread(), f"network calls on Blender's main thread: {probe.on_main_thread()}"
    assert not probe.blocking, f"step() waited on I/O: {Counter(probe.blocking)}"
    assert probe.pipe_reads or not worker_host_pids(), (
        "step() reads the worker host's pipe, seen by the probe"
    )
    assert not part_files(job_folder(addon))
    with capsys.disabled():
        per = ", ".join(f"{COUNTS[p]} {p}" for p in ("local", *PROVIDERS))
        print(f"\nload run: 50 jobs ({per}) imported once each, sboxcool peak {sbox.peak} jobs at once, "
              f"{len(probe.calls)} network calls in Blender's process, 0 on its main thread, "
              "no blocking wait in step()")  # fmt: skip
