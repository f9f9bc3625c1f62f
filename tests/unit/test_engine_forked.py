# SPDX-License-Identifier: GPL-3.0-or-later
"""Work handed to a forked copy on the second core (engines/forked.py), and what uses it: the same answers
as doing it all here, whether the copy runs, cannot start or dies."""

from __future__ import annotations

import multiprocessing
import os
import time

import numpy as np
import pytest
from retopo_hub.engines import forked, transfer
from retopo_hub.engines.meshdata import MeshArrays
from retopo_hub.engines.project import TriangleIndex
from shapes import icosphere, torus

needs_fork = pytest.mark.skipif(not forked.can_fork(), reason="forking is Linux-only and needs no threads")


def _copies() -> list[str]:
    return [p.name for p in multiprocessing.active_children() if p.name.startswith("retopo-hub-")]


@needs_fork
def test_the_work_runs_in_another_process_and_its_value_comes_back():
    here = os.getpid()
    with forked.InCopy(lambda: (os.getpid(), np.arange(5)), "test") as work:
        pid, values = work.result()
    assert pid != here and values.tolist() == [0, 1, 2, 3, 4]
    assert _copies() == []


def test_without_fork_the_work_runs_here(monkeypatch):
    monkeypatch.setattr(forked, "can_fork", lambda: False)
    assert forked.InCopy(os.getpid, "test").result() == os.getpid()


@needs_fork
def test_a_copy_that_dies_is_done_again_here():
    here = os.getpid()
    # In the copy it ends the process with no answer; here it answers.
    work = forked.InCopy(lambda: os._exit(3) if os.getpid() != here else "answered here", "test")
    assert work.result() == "answered here"
    assert _copies() == []


@needs_fork
def test_a_copy_whose_result_is_not_asked_for_is_ended_on_the_way_out():
    with pytest.raises(RuntimeError), forked.InCopy(lambda: time.sleep(60), "test"):
        assert _copies() == ["retopo-hub-test"]
        raise RuntimeError("a cancel, say")
    assert _copies() == []


def test_distances_in_halves_are_the_distances_of_one_query():
    verts, tris = icosphere(4)
    index = TriangleIndex(verts, tris)
    points = np.random.default_rng(0).normal(size=(forked.MIN_POINTS + 10, 3)) * 0.7
    assert np.array_equal(forked.distances_in_halves(index, points), index.query(points)[1])


def test_a_bounded_query_is_exact_within_its_bound_and_says_beyond_otherwise():
    verts, tris = icosphere(3)
    index = TriangleIndex(verts, tris)
    points = np.random.default_rng(1).normal(size=(4000, 3)) * 1.5
    exact = index.query(points)[1]
    bound = np.where(np.arange(points.shape[0]) % 2 == 0, 0.05, 0.3)  # per point
    bounded = index.query(points, within=bound)[1]
    near = exact <= bound
    assert near.any() and (~near).any()
    assert np.array_equal(bounded[near], exact[near])
    assert (bounded[~near] > bound[~near]).all()


def test_levels_transferred_on_two_cores_match_one_core(monkeypatch):
    verts, tris = torus(40, 20, bumps=0.1)
    rng = np.random.default_rng(2)
    weight_verts = rng.choice(verts.shape[0], verts.shape[0] // 2, replace=False).astype(np.int32)
    attrs = transfer.SourceAttributes(
        tri_face=np.arange(tris.shape[0]),
        face_materials=(np.arange(tris.shape[0]) % 3).astype(np.int32),
        group_names=np.array(["a", "b"]),
        weight_verts=weight_verts,
        weight_groups=rng.integers(0, 2, weight_verts.shape[0]).astype(np.int32),
        weight_values=rng.random(weight_verts.shape[0]).astype(np.float32),
        sharp_edges=tris[::7, :2].astype(np.int64),
    )
    levels = []
    for nu, nv in ((30, 15), (20, 10), (12, 6)):
        v, t = torus(nu, nv, bumps=0.1)
        levels.append((MeshArrays.from_triangles(v, t), None))
    one_core = transfer.transfer_results(verts, tris, attrs, levels)
    monkeypatch.setattr(transfer, "SPLIT_FACES", 1)
    two_cores = transfer.transfer_results(verts, tris, attrs, levels)
    assert one_core.keys() == two_cores.keys()
    assert all(np.array_equal(one_core[k], two_cores[k]) for k in one_core)
    assert {"lod0_face_materials", "lod2_weight_values", "lod1_hard_edges"} <= one_core.keys()
