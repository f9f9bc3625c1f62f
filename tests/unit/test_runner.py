# SPDX-License-Identifier: GPL-3.0-or-later
"""The job runner keeps every job's events in order, whoever waits on the queue meanwhile."""

from __future__ import annotations

import threading
import time

from retopo_hub.core.errors import Cancelled
from retopo_hub.core.jobs import JobSpec, State
from retopo_hub.worker.runner import JobRunner


class _Chatty:
    name, max_concurrent = "chatty", 1

    def __init__(self) -> None:
        self.release = threading.Event()

    def run(self, spec, ctx):
        for i in range(200):
            ctx.emit(State.UPLOADING, i / 200, f"step {i}")
        self.release.wait(5)
        raise Cancelled("cancelled by the user")


def test_waiting_never_reorders_events():
    provider = _Chatty()
    runner = JobRunner({"chatty": provider})
    runner.start(JobSpec(job_id="j", provider="chatty", source_name="s", options={}, work_dir="/nonexistent"))
    seen = []
    for _ in range(50):  # wait a lot while the worker is still emitting, as the worker host's pump does
        runner.wait_for_event(0.01)
    provider.release.set()
    while not seen or seen[-1].state is not State.CANCELLED:
        runner.wait_for_event(1.0)
        seen.extend(runner.drain())
    progress = [e.progress for e in seen if e.state is State.UPLOADING]
    assert progress == sorted(progress) and len(progress) == 200
    assert seen[-1].state is State.CANCELLED
    runner.shutdown()


class _Counting:
    """Records how many of its jobs run at once; each holds its slot until released."""

    name, max_concurrent = "counting", 1

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.now = self.peak = 0
        self.limits: list[int] = []

    def on_limit(self, limit: int) -> None:
        self.limits.append(limit)

    def run(self, spec, ctx):
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        self.release.wait(5)
        with self.lock:
            self.now -= 1
        return []


def _run_three(runner: JobRunner, provider: _Counting) -> int:
    for i in range(3):
        spec = JobSpec(job_id=f"j{i}", provider="counting", source_name="s", options={}, work_dir="/none")
        runner.start(spec)
    time.sleep(0.5)  # long enough for every job that may start to have started
    peak = provider.peak
    provider.release.set()
    while runner.running_ids():
        runner.wait_for_event(0.1)
        runner.drain()
    return peak


def test_set_limit_changes_how_many_jobs_run_at_once():
    provider = _Counting()
    runner = JobRunner({"counting": provider})
    assert _run_three(runner, provider) == 1, "the provider's own limit"
    provider.release.clear()
    provider.peak = 0
    runner.set_limit("counting", 2)
    assert provider.limits == [2], "the provider hears of it (the local engine keeps as many children ready)"
    assert _run_three(runner, provider) == 2
    runner.set_limit("counting", None)
    assert provider.limits == [2, 1]
    runner.shutdown()
