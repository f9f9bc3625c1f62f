# SPDX-License-Identifier: GPL-3.0-or-later
"""Attributes carried from the source to results: nearest-face materials, interpolated weights, hard edges."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from retopo_hub.engines.meshdata import MeshArrays
from retopo_hub.engines.transfer import (
    MIN_WEIGHT,
    SourceAttributes,
    SourceSurface,
    barycentric,
    edges_along,
    hard_edges,
    load_source_attributes,
    transfer_level,
    transfer_results,
)
from shapes import icosphere
from test_engine_quality import quad_cube

ROOT = Path(__file__).resolve().parents[2]


def _height_weights(verts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two groups: "top" = (z + 1) / 2 and "bottom" = 1 - top, zero weights left out as Blender does."""
    top = (verts[:, 2].astype(np.float64) + 1.0) / 2.0
    rows = [(v, 0, w) for v, w in enumerate(top) if w > 0] + [
        (v, 1, 1 - w) for v, w in enumerate(top) if w < 1
    ]
    wv, wg, ww = (np.array(col) for col in zip(*rows, strict=True))
    return wv.astype(np.int32), wg.astype(np.int32), ww.astype(np.float32)


def _dense(verts_count: int, out: dict[str, np.ndarray], groups: int) -> np.ndarray:
    dense = np.zeros((verts_count, groups))
    dense[out["weight_verts"], out["weight_groups"]] = out["weight_values"]
    return dense


def test_barycentric_weights_rebuild_the_point_and_stay_in_the_triangle():
    a, b, c = np.array([[0.0, 0, 0]]), np.array([[2.0, 0, 0]]), np.array([[0.0, 2, 0]])
    w = barycentric(np.array([[0.5, 0.5, 0.0]]), a, b, c)
    assert np.allclose(w, [[0.5, 0.25, 0.25]])
    outside = barycentric(np.array([[3.0, 0.0, 0.0]]), a, b, c)  # off the triangle: clipped, sums to 1
    assert (outside >= 0).all() and np.isclose(outside.sum(), 1.0)
    flat = barycentric(np.array([[1.0, 0.0, 0.0]]), a, b, b)  # zero area: its first corner answers
    assert np.allclose(flat, [[1.0, 0.0, 0.0]])


def test_each_result_face_takes_the_material_of_the_nearest_source_face():
    verts, tris = icosphere(4)
    centroids = verts[tris].mean(axis=1)
    attrs = SourceAttributes(
        tri_face=np.arange(len(tris)), face_materials=(centroids[:, 2] > 0).astype(np.int32)
    )
    rv, rt = icosphere(2, radius=1.02)  # a coarser result slightly off the surface
    result = MeshArrays.from_triangles(rv, rt)
    out = transfer_level(SourceSurface(verts, tris), attrs, result)
    truth = (rv[rt].mean(axis=1)[:, 2] > 0).astype(np.int32)
    assert out["face_materials"].shape == (result.face_count,)
    assert (out["face_materials"] == truth).mean() >= 0.95


def test_polygon_sources_map_triangles_back_to_their_polygons(tmp_path):
    # Two quads side by side, slot 3 on the right one: every triangle of it must report slot 3.
    verts = np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0], [0, 1, 0], [1, 1, 0], [2, 1, 0]], np.float32)
    sizes, corners = np.array([4, 4], np.int32), np.array([0, 1, 4, 3, 1, 2, 5, 4], np.int32)
    path = tmp_path / "snap.npz"
    np.savez(
        path, verts=verts, face_sizes=sizes, corner_verts=corners, face_materials=np.array([0, 3], np.int32)
    )
    attrs = load_source_attributes(path, 4)
    assert attrs.tri_face.tolist() == [0, 0, 1, 1] and attrs.mixed_materials
    tris = MeshArrays(verts, sizes, corners).triangles()
    points = [[0.2, 0.5, 0], [0.4, 0.5, 0], [0.3, 0.7, 0], [1.6, 0.5, 0], [1.8, 0.5, 0], [1.7, 0.7, 0]]
    result = MeshArrays.from_faces(np.array(points, np.float32), np.array([[0, 1, 2], [3, 4, 5]]))
    assert transfer_level(SourceSurface(verts, tris), attrs, result)["face_materials"].tolist() == [0, 3]


def test_weights_are_interpolated_at_result_vertices():
    verts, tris = icosphere(4)
    wv, wg, ww = _height_weights(verts)
    attrs = SourceAttributes(
        tri_face=np.arange(len(tris)), group_names=np.array(["top", "bottom"]),
        weight_verts=wv.astype(np.int64), weight_groups=wg.astype(np.int64), weight_values=ww.astype(float),
    )  # fmt: skip
    rv, rt = icosphere(2, radius=0.98)
    out = transfer_level(SourceSurface(verts, tris), attrs, MeshArrays.from_triangles(rv, rt))
    dense = _dense(len(rv), out, 2)
    expected_top = (rv[:, 2] / 0.98 + 1.0) / 2.0
    assert np.abs(dense[:, 0] - expected_top).max() < 0.02
    assert np.allclose(dense.sum(axis=1), 1.0, atol=2 * MIN_WEIGHT)
    assert (out["weight_values"] >= MIN_WEIGHT).all()
    keys = out["weight_verts"].astype(np.int64) * 2 + out["weight_groups"]
    assert (np.diff(keys) > 0).all(), "rows are sorted by (vertex, group) and unique"


def test_cube_rims_are_hard_edges_and_a_sphere_has_none():
    cube = quad_cube(4)
    found = hard_edges(cube)
    on_rim = (np.abs(cube.verts[found]) > 0.999).sum(axis=2) >= 2  # a rim point lies on two faces' planes
    assert on_rim.all() and found.shape[0] == 12 * 4
    assert hard_edges(MeshArrays.from_triangles(*icosphere(3))).shape[0] == 0


def test_result_edges_along_source_sharp_edges_are_found():
    # A flat 2 x 1 strip whose middle edge is marked sharp; the result is a finer grid over the same strip.
    verts = np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0], [0, 1, 0], [1, 1, 0], [2, 1, 0]], np.float32)
    n = 8
    gx, gy = np.meshgrid(np.linspace(0, 2, 2 * n + 1), np.linspace(0, 1, n + 1), indexing="ij")
    grid = np.stack([gx.ravel(), gy.ravel(), np.zeros(gx.size)], axis=1)
    idx = np.arange(gx.size).reshape(gx.shape)
    quads = np.stack([idx[:-1, :-1], idx[1:, :-1], idx[1:, 1:], idx[:-1, 1:]], axis=-1).reshape(-1, 4)
    result = MeshArrays.from_faces(grid, quads)
    found = edges_along(result, verts, np.array([[1, 4]]))
    assert found.shape[0] == n
    assert np.allclose(result.verts[found][..., 0], 1.0)


def test_transfer_results_names_arrays_per_level_and_keeps_the_levels_own_sharp_edges():
    verts, tris = icosphere(3)
    attrs = SourceAttributes(tri_face=np.arange(len(tris)), face_materials=np.zeros(len(tris), np.int32) + 1)
    lod0 = MeshArrays.from_triangles(*icosphere(2))
    lod1 = MeshArrays.from_triangles(*icosphere(1))
    arrays = transfer_results(verts, tris, attrs, [(lod0, np.array([[5, 0]])), (lod1, None)])
    assert int(arrays["attributes"]) == 1 and "group_names" not in arrays
    assert (arrays["lod0_face_materials"] == 1).all() and arrays["lod1_face_materials"].shape == (
        lod1.face_count,
    )
    assert arrays["lod0_hard_edges"].tolist() == [[0, 5]]
    assert arrays["lod1_hard_edges"].shape == (0, 2)


def test_the_engine_child_writes_the_carried_attributes(tmp_path):
    pytest.importorskip("fast_simplification")
    verts, tris = icosphere(4)
    wv, wg, ww = _height_weights(verts)
    centroids = verts[tris].mean(axis=1)
    src = tmp_path / "in.npz"
    np.savez(
        src, verts=verts, face_sizes=np.full(len(tris), 3, np.int32), corner_verts=tris.ravel(),
        face_materials=(centroids[:, 0] > 0).astype(np.int32), group_names=np.array(["top", "bottom"]),
        weight_verts=wv, weight_groups=wg, weight_values=ww,
    )  # fmt: skip
    params = tmp_path / "params.json"
    params.write_text(
        json.dumps({"mode": "decimate", "target_faces": 800, "lod_levels": 1}), encoding="utf-8"
    )
    out = tmp_path / "out.npz"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "engines.child", str(src), str(params), str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with np.load(out) as data:
        assert data["group_names"].tolist() == ["top", "bottom"]
        for lod in (0, 1):
            rv = data[f"lod{lod}_verts"]
            sizes, corners = data[f"lod{lod}_face_sizes"], data[f"lod{lod}_corner_verts"]
            cx = np.add.reduceat(rv[corners][:, 0], np.r_[0, np.cumsum(sizes)[:-1]]) / sizes
            assert (data[f"lod{lod}_face_materials"] == (cx > 0)).mean() >= 0.95
            dense = np.zeros((len(rv), 2))
            dense[data[f"lod{lod}_weight_verts"], data[f"lod{lod}_weight_groups"]] = data[
                f"lod{lod}_weight_values"
            ]
            assert np.abs(dense[:, 0] - (rv[:, 2] + 1) / 2).max() < 0.05


def test_a_cloud_obj_result_gets_its_attributes_beside_it(tmp_path):
    """The worker host's step for cloud results: transfer_cli on the OBJ as our reader reads it."""
    import threading
    import time

    from retopo_hub.core.jobs import JobSpec, MeshSnapshot, ResultFile
    from retopo_hub.formats.obj import read_obj, write_obj
    from retopo_hub.providers.attributes import carry_attributes, sidecar
    from retopo_hub.worker.runner import WorkerContext

    verts, tris = icosphere(4)
    wv, wg, ww = _height_weights(verts)
    centroids = verts[tris].mean(axis=1)
    snapshot = MeshSnapshot(
        verts=verts, face_sizes=np.full(len(tris), 3, np.int32), corner_verts=tris.ravel(),
        face_materials=(centroids[:, 0] > 0).astype(np.int32), group_names=np.array(["top", "bottom"]),
        weight_verts=wv, weight_groups=wg, weight_values=ww,
    )  # fmt: skip
    rv, rt = icosphere(2)
    obj_path = tmp_path / "result.obj"
    write_obj(obj_path, rv, np.full(len(rt), 3), rt.ravel())
    spec = JobSpec("j1", "csm", "Rock", {}, str(tmp_path), snapshot=snapshot, extension_root=str(ROOT))
    events = []
    ctx = WorkerContext("j1", threading.Event(), events.append, time.monotonic() + 60)
    results = [ResultFile(str(obj_path), "mesh"), ResultFile(str(tmp_path / "r.png"), "preview")]
    assert carry_attributes(spec, ctx, results) == results
    read = read_obj(obj_path)
    with np.load(sidecar(obj_path)) as data:
        assert np.array_equal(data["lod0_verts"], read["verts"])
        assert data["group_names"].tolist() == ["top", "bottom"]
        cx = read["verts"][read["corner_verts"].reshape(-1, 3)].mean(axis=1)[:, 0]
        assert (data["lod0_face_materials"] == (cx > 0)).mean() >= 0.95
        assert data["lod0_weight_values"].size and data["lod0_hard_edges"].shape[1] == 2
    assert not sidecar(tmp_path / "r.png").exists()
