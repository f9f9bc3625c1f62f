# SPDX-License-Identifier: GPL-3.0-or-later
"""Warm engine children (worker.engine_pool) behind the local provider: a second job reuses the child, a
killed or cancelled child is replaced and the next job succeeds, a reproducible job gets a fresh one, and
measurements run in an idle child."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from retopo_hub.core.errors import Cancelled, RetopoError
from retopo_hub.core.jobs import JobSpec, MeshSnapshot, State
from retopo_hub.providers.local import LocalProvider
from retopo_hub.worker import engine_pool
from retopo_hub.worker.runner import WorkerContext
from shapes import icosphere

ROOT = Path(__file__).resolve().parents[2]

pytest.importorskip("pynanoinstantmeshes")


@pytest.fixture
def pool(monkeypatch):
    fresh = engine_pool.EnginePool()
    monkeypatch.setattr(engine_pool, "ENGINES", fresh)
    monkeypatch.setattr(sys.modules[LocalProvider.__module__], "ENGINES", fresh)
    yield fresh
    fresh.close()


def _spec(tmp_path: Path, name: str, subdivisions: int = 2, **options) -> JobSpec:
    verts, tris = icosphere(subdivisions)
    snapshot = MeshSnapshot(
        verts=verts, face_sizes=np.full(len(tris), 3, np.int32), corner_verts=tris.ravel().astype(np.int32)
    )
    return JobSpec(
        job_id=name, provider="local", source_name=name, work_dir=str(tmp_path / name), snapshot=snapshot,
        options={"mode": "quad", "target_faces": 100, **options}, extension_root=str(ROOT),
        python_paths=tuple(p for p in sys.path if p),
    )  # fmt: skip


def _context(name: str, events: list | None = None, cancel: threading.Event | None = None) -> WorkerContext:
    return WorkerContext(
        job_id=name, cancel_event=cancel or threading.Event(),
        emit_event=(events.append if events is not None else lambda _event: None),
        deadline=time.monotonic() + 120,
    )  # fmt: skip


def _idle_pids(pool: engine_pool.EnginePool) -> set[int]:
    return {engine.proc.pid for engine in pool._idle}


def test_a_second_job_reuses_the_warm_child(tmp_path, pool):
    provider = LocalProvider()
    assert provider.run(_spec(tmp_path, "a"), _context("a"))
    (first,) = _idle_pids(pool)
    assert provider.run(_spec(tmp_path, "b"), _context("b"))
    assert _idle_pids(pool) == {first}
    assert pool._idle[0].served == 2


def test_a_killed_child_is_replaced_and_the_next_job_succeeds(tmp_path, pool):
    provider = LocalProvider()
    provider.run(_spec(tmp_path, "a"), _context("a"))
    (idle,) = _idle_pids(pool)
    os.kill(idle, signal.SIGKILL)  # dies while idle: the pool must not hand it out
    assert provider.run(_spec(tmp_path, "b"), _context("b"))
    assert idle not in _idle_pids(pool) and len(_idle_pids(pool)) == 1


def test_a_child_killed_mid_job_fails_that_job_in_one_line_then_the_next_succeeds(tmp_path, pool):
    provider = LocalProvider()
    leased: list[engine_pool.Engine] = []
    lease = pool.lease
    pool.lease = lambda *args, **kwargs: leased.append(engine := lease(*args, **kwargs)) or engine

    def kill_when_running(event) -> None:
        if event.state is State.RUNNING and "Instant Meshes" in (event.message or ""):
            os.kill(leased[-1].proc.pid, signal.SIGKILL)

    context = _context("big")
    context.emit_event = kill_when_running
    with pytest.raises(RetopoError) as failed:
        provider.run(_spec(tmp_path, "big", subdivisions=6, target_faces=2000), context)
    message = str(failed.value)
    assert "the local engine stopped unexpectedly" in message and "\n" not in message
    assert not (tmp_path / "big").exists()  # nothing half-written is left behind
    assert provider.run(_spec(tmp_path, "next"), _context("next"))
    assert leased[-1].proc.pid != leased[0].proc.pid


def test_cancel_mid_job_kills_the_child_then_another_job_succeeds(tmp_path, pool):
    provider = LocalProvider()
    provider.run(_spec(tmp_path, "warm"), _context("warm"))
    (warm,) = _idle_pids(pool)
    cancel = threading.Event()

    def cancel_when_running(event) -> None:
        if event.state is State.RUNNING and "Instant Meshes" in (event.message or ""):
            cancel.set()

    context = _context("big", cancel=cancel)
    context.emit_event = cancel_when_running
    started = time.monotonic()
    with pytest.raises(Cancelled):
        provider.run(_spec(tmp_path, "big", subdivisions=7, target_faces=5000), context)
    assert time.monotonic() - started < 30
    assert warm not in _idle_pids(pool)  # the cancelled job's child was killed, not kept
    assert provider.run(_spec(tmp_path, "after"), _context("after"))


def test_a_reproducible_job_gets_a_child_that_ran_nothing_and_does_not_keep_it(tmp_path, pool):
    provider = LocalProvider()
    provider.run(_spec(tmp_path, "a"), _context("a"))
    (used,) = _idle_pids(pool)
    provider.run(_spec(tmp_path, "r", reproducible=True), _context("r"))
    assert _idle_pids(pool) == {used}  # the one-core child was not given back


def test_measure_runs_in_an_idle_child(tmp_path, pool):
    provider = LocalProvider()
    (result, *_) = provider.run(_spec(tmp_path, "a"), _context("a"))
    with np.load(result.path) as data:
        arrays = {k: data[f"lod0_{k}"] for k in ("verts", "face_sizes", "corner_verts")}
    np.savez(tmp_path / "result.npz", **arrays)
    served = pool._idle[0].served
    answer = pool.measure(str(tmp_path / "a" / "input.npz"), {"r": str(tmp_path / "result.npz")})
    assert answer["results"]["r"]["quality"]["faces"] == arrays["face_sizes"].shape[0]
    assert pool._idle[0].served == served + 1
    assert pool.measure(str(tmp_path / "missing.npz"), {"r": str(tmp_path / "result.npz")})["error"]
    while pool._idle:  # no idle child: the caller measures in its own thread
        pool._idle.pop().close()
    assert pool.measure(str(tmp_path / "a" / "input.npz"), {"r": str(tmp_path / "result.npz")}) is None


def test_parallel_children_get_their_share_of_the_cores(pool, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1, 2, 3}, raising=False)
    pool.set_size(2)
    assert [pool._cpus(), pool._cpus()] == [{0, 1}, {2, 3}]
    pool.spares = 1  # one job still to come, none running: it runs alone and keeps every core
    assert pool._cpus() is None
    pool.set_size(1)
    assert pool._cpus() is None
