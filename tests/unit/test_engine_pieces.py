# SPDX-License-Identifier: GPL-3.0-or-later
"""Separate parts of a source: each keeps a place in LOD0, or the job says which were left out."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from retopo_hub.engines.meshdata import MeshArrays
from retopo_hub.engines.meshgraph import face_components, unique_edges
from retopo_hub.engines.pieces import MIN_PIECE_FACES, pair_triangles, plan_pieces
from retopo_hub.engines.pipeline import EngineParams, run
from retopo_hub.engines.project import surface_distances
from retopo_hub.engines.quality import topology
from shapes import icosphere

ROOT = Path(__file__).resolve().parents[2]

pytest.importorskip("pynanoinstantmeshes")
pytest.importorskip("fast_simplification")


def scattered_parts(count: int, *, radius: float = 0.5, big: float = 0.0, subdivisions: int = 2):
    """``count`` separate small icospheres on a grid (plus a denser one of radius ``big`` when it is > 0)."""
    v, t = icosphere(subdivisions)
    side = int(np.ceil(count ** (1 / 3)))
    verts, tris = [], []
    if big:
        large_v, large_t = icosphere(5)
        verts.append(large_v * big - [big + 2.0, 0.0, 0.0])
        tris.append(large_t)
    for i in range(count):
        offset = np.array([i % side, (i // side) % side, i // side // side], dtype=np.float64) * 3.0 * radius
        tris.append(t + sum(len(x) for x in verts))
        verts.append(v * radius + offset)
    return np.vstack(verts).astype(np.float32), np.vstack(tris).astype(np.int32)


def pieces(mesh: MeshArrays) -> int:
    return int(face_components(mesh).max()) + 1


@pytest.mark.parametrize("mode", ["quad", "decimate"])
def test_a_thousand_small_parts_all_come_back(mode):
    """The hostile run's case: 1,000 parts at 5,000 faces, 5 each; Instant Meshes alone kept 588 of them."""
    verts, tris = scattered_parts(1000)
    (lod0,) = run(EngineParams(mode=mode, target_faces=5000), verts, tris)
    assert pieces(lod0.mesh) == 1000
    assert lod0.warnings == ()
    assert lod0.info["pieces"] == {"source": 1000, "by_engine": 0, "one_by_one": 1000, "dropped": 0}
    assert 0.75 * 5000 <= lod0.mesh.face_count <= 5000
    if mode == "quad":
        # A sphere decimated to a handful of triangles pairs most of them (greedy pairing with short
        # re-pairing paths often leaves two triangles alone).
        assert lod0.mesh.quad_count >= 0.5 * lod0.mesh.face_count
    # Each part is at least a tetrahedron around its sphere (radius 0.5), not a stub or a stray face.
    assert surface_distances(lod0.mesh.verts, verts, tris).max() < 0.25


def test_small_parts_next_to_a_large_one():
    """The large part is remeshed by Instant Meshes; the small ones (too small for it) are made one by one."""
    verts, tris = scattered_parts(60, radius=0.3, big=4.0)
    results = run(EngineParams(mode="quad", target_faces=3000, lod_levels=1), verts, tris)
    lod0 = results[0]
    assert pieces(lod0.mesh) == 61
    assert lod0.info["pieces"]["by_engine"] == 1 and lod0.info["pieces"]["one_by_one"] == 60
    # By area the large sphere's share is 3000 * 16 / (16 + 60 * 0.09) = 2243 quads; each small one has 13,
    # paired into quads from its 26 triangles as far as they pair up.
    assert abs(lod0.mesh.face_count - 3000) <= 300
    assert lod0.mesh.quad_count >= 0.9 * lod0.mesh.face_count
    assert lod0.engine == "instant-meshes"


def open_cones(count: int, segments: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """``count`` separate cones open at both ends (two rings of ``segments`` quads, split), side by side."""
    ring = np.linspace(0.0, 2.0 * np.pi, segments, endpoint=False)
    radii, heights = (1.0, 0.65, 0.3), (0.0, 0.25, 0.5)
    one = np.vstack(
        [
            np.c_[r * np.cos(ring), r * np.sin(ring), np.full(segments, h)]
            for r, h in zip(radii, heights, strict=True)
        ]
    )
    i = np.arange(segments)
    quads = [(j * segments + i, j * segments + (i + 1) % segments) for j in range(2)]
    one_tris = np.vstack(
        [np.c_[a, b, b + segments] for a, b in quads]
        + [np.c_[a, b + segments, a + segments] for a, b in quads]
    )
    verts = np.vstack([one + np.array([3.0 * k, 0.0, 0.0]) for k in range(count)])
    tris = np.vstack([one_tris + k * one.shape[0] for k in range(count)])
    return verts, tris


def test_small_parts_keep_their_open_ends_when_decimated():
    """Parts made one by one keep their own borders: a single fast_simplification pass closed a cone's
    ends or stalled far above its budget (54 of 96 triangles for 8); collapse.py then makes the part."""
    cones_v, cones_t = open_cones(20)
    sphere_v, sphere_t = icosphere(5)
    verts = np.vstack([cones_v, sphere_v * 4.0 - [10.0, 0.0, 0.0]])
    tris = np.vstack([cones_t, sphere_t + cones_v.shape[0]])
    (lod0,) = run(EngineParams(mode="decimate", target_faces=600), verts, tris)
    assert lod0.info["pieces"]["one_by_one"] == 20
    shape = topology(lod0.mesh)
    assert (shape["pieces"], shape["boundary_loops"], shape["nonmanifold_edges"], shape["genus"]) == (
        21,
        40,
        0,
        0,
    )
    assert lod0.mesh.face_count <= 600 * 1.1


def test_small_open_parts_instant_meshes_cannot_draw_are_made_the_small_way():
    """At 39 quads a short open cone is under two of Instant Meshes' edges tall: it came back with its wide
    end pinched shut (20 open borders for the cones' 40). Such a part is made the small way instead."""
    cones_v, cones_t = open_cones(20)
    sphere_v, sphere_t = icosphere(5)
    verts = np.vstack([cones_v, sphere_v * 4.0 - [10.0, 0.0, 0.0]])
    tris = np.vstack([cones_t, sphere_t + cones_v.shape[0]])
    (lod0,) = run(EngineParams(mode="quad", target_faces=3000, reproducible=True), verts, tris)
    assert lod0.info["pieces"] == {"source": 21, "by_engine": 1, "one_by_one": 20, "dropped": 0}
    shape = topology(lod0.mesh)
    assert (shape["pieces"], shape["boundary_loops"], shape["nonmanifold_edges"], shape["genus"]) == (
        21,
        40,
        0,
        0,
    )
    # Both rims of every cone are open all round, and every face lies on the source.
    edges, users, _ = unique_edges(lod0.mesh)
    rims = lod0.mesh.verts[edges[users == 1]][:, :, 2].mean(axis=1)
    assert (
        np.isclose(rims, 0.0, atol=1e-3).sum() >= 20 * 8 and np.isclose(rims, 0.5, atol=1e-3).sum() >= 20 * 8
    )
    assert surface_distances(lod0.mesh.verts, verts, tris).max() < 1e-3
    assert abs(lod0.mesh.face_count - 3000) <= 300 and lod0.mesh.quad_count >= 0.8 * lod0.mesh.face_count
    assert lod0.warnings == ()


def test_parts_beyond_any_budget_are_dropped_with_a_warning():
    """10,000 parts cannot each keep 4 faces in 5,000: the smallest go, and the job says how many."""
    verts, tris = scattered_parts(10_000, subdivisions=1)
    plan = plan_pieces(verts, tris, 5000)
    kept = plan.count - plan.dropped
    assert kept * MIN_PIECE_FACES <= 5000 * 1.5 and plan.dropped > 0
    (lod0,) = run(EngineParams(mode="decimate", target_faces=5000), verts, tris)
    assert pieces(lod0.mesh) == kept
    assert lod0.warnings == (
        f"{plan.dropped:,} of 10,000 separate parts were too small to keep at 5,000 faces (each needs at "
        "least 4): raise the target face count to keep them",
    )


def test_small_parts_in_quad_mode_are_quads():
    """A cube's 12 triangles pair back into its 6 quads."""
    cube_v = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0],
                       [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]])  # fmt: skip
    cube_t = np.array([[0, 2, 1], [0, 3, 2], [4, 5, 6], [4, 6, 7], [0, 1, 5], [0, 5, 4], [1, 2, 6], [1, 6, 5],
                       [2, 3, 7], [2, 7, 6], [3, 0, 4], [3, 4, 7]])  # fmt: skip
    cube = pair_triangles(cube_v, cube_t)
    assert cube.face_count == cube.quad_count == 6
    # Same winding as the triangles: the quads face out.
    assert np.allclose(signed_volume(cube.verts, cube.triangles()), signed_volume(cube_v, cube_t))


def signed_volume(verts: np.ndarray, tris: np.ndarray) -> float:
    v = verts.astype(np.float64)
    return float(np.einsum("ij,ij->i", v[tris[:, 0]], np.cross(v[tris[:, 1]], v[tris[:, 2]])).sum() / 6.0)


def test_one_piece_is_untouched_by_the_split():
    verts, tris = icosphere(4)
    (lod0,) = run(EngineParams(mode="quad", target_faces=1000), verts, tris)
    assert "pieces" not in lod0.info and lod0.warnings == ()
    assert lod0.mesh.quad_count == lod0.mesh.face_count


def test_the_child_reports_dropped_parts_as_warnings(tmp_path):
    verts, tris = scattered_parts(3000, subdivisions=1)
    np.savez(tmp_path / "in.npz", verts=verts, tris=tris)
    (tmp_path / "params.json").write_text(json.dumps({"mode": "decimate", "target_faces": 1000}))
    paths = [str(tmp_path / name) for name in ("in.npz", "params.json", "out.npz")]
    proc = subprocess.run(
        [sys.executable, "-m", "engines.child", *paths],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    (warning,) = json.loads(proc.stdout.splitlines()[-1])["warnings"]
    assert warning.startswith("2,625 of 3,000 separate parts were too small to keep at 1,000 faces")


def test_split_vertices_do_not_make_parts():
    """A flat-shaded glTF has three vertices per triangle; its faces are still one part (not 5,120)."""
    verts, tris = icosphere(4)
    soup_v = verts[tris.ravel()]
    soup_t = np.arange(soup_v.shape[0]).reshape(-1, 3)
    assert plan_pieces(soup_v, soup_t, 1000).count == 1
    parts_v, parts_t = scattered_parts(10)
    soup_v = parts_v[parts_t.ravel()]
    assert plan_pieces(soup_v, np.arange(soup_v.shape[0]).reshape(-1, 3), 1000).count == 10


def test_a_large_part_the_engine_loses_is_made_the_small_way(monkeypatch):
    """Whatever the reason Instant Meshes leaves a large part without a face, the part still comes back."""
    from retopo_hub.engines import pipeline

    verts, tris = scattered_parts(3, subdivisions=4)  # 3 parts of 5,120 triangles, 1,000 faces each
    engine = pipeline._build_lod0

    def losing_one(params, source, target, *args, **kwargs):
        mesh, sharp, info = engine(params, source, target, *args, **kwargs)
        first = mesh.verts[mesh.corner_verts[mesh.face_starts]]
        keep = np.linalg.norm(first, axis=1) > 1.0  # drops the part at the origin
        return mesh.select_faces(keep).compact(), sharp, info

    monkeypatch.setattr(pipeline, "_build_lod0", losing_one)
    (lod0,) = run(EngineParams(mode="quad", target_faces=3000), verts, tris)
    assert pieces(lod0.mesh) == 3
    assert lod0.info["pieces"] == {"source": 3, "by_engine": 2, "one_by_one": 1, "dropped": 0}
    assert abs(lod0.mesh.face_count - 3000) <= 300


def _root(parent: list[int], x: int) -> int:
    while parent[x] != x:
        x = parent[x]
    return x


def test_components_label_each_vertex_with_its_smallest_connected_index():
    from retopo_hub.engines.meshgraph import components

    rng = np.random.default_rng(7)
    for count, pairs_count in ((50, 0), (200, 60), (1000, 900), (3000, 6000)):
        pairs = rng.integers(0, count, size=(pairs_count, 2))
        parent = list(range(count))  # a plain union-find, the smallest index as the root
        for a, b in pairs.tolist():
            ra, rb = _root(parent, a), _root(parent, b)
            parent[max(ra, rb)] = min(ra, rb)
        assert components(pairs, count).tolist() == [_root(parent, x) for x in range(count)]


@pytest.mark.parametrize("kept_apart", [True, False])
def test_parts_within_a_cell_of_each_other_stay_apart(monkeypatch, kept_apart):
    """An eye in its socket: a small sphere 0.02 from a big one, closer than a cell of the working copy at
    1,000 quads. Remeshed together, Instant Meshes joins them; they are then made each in a run of its own
    and come back as the source's two closed pieces."""
    from retopo_hub.engines import partcheck, pipeline

    if not kept_apart:
        monkeypatch.setattr(pipeline, "fused_pieces", lambda *_: np.zeros(0, dtype=np.int64))
        # The eye would otherwise be made the small way, as a part the joint run reshaped.
        monkeypatch.setattr(partcheck, "reshaped_pieces", lambda *_: np.zeros(0, dtype=np.int64))
    big_v, big_t = icosphere(4)
    eye_v, eye_t = icosphere(3, radius=0.3)
    verts = np.concatenate([big_v, eye_v + np.array([1.32, 0.0, 0.0])])
    tris = np.concatenate([big_t, eye_t + big_v.shape[0]])
    (lod0,) = run(EngineParams(mode="quad", target_faces=1000, reproducible=True, lod_levels=0), verts, tris)
    made = topology(lod0.mesh)
    if kept_apart:
        assert (made["pieces"], made["boundary_loops"], made["genus"]) == (2, 0, 0)
        assert lod0.info["pieces"]["by_engine"] == 2 and lod0.warnings == ()
    else:  # what the joint run makes: one part where the source has two
        assert made["pieces"] == 1


def test_a_quad_remesh_makes_a_piece_lighter_than_its_budget_anew():
    """A large piece whose budget reaches its own triangle count gets one face less, so a quad remesh makes
    it anew instead of keeping its triangles (the Utah teapot at 800 quads: 472 faces, its body as it
    was); small pieces and those already under budget keep theirs."""
    from retopo_hub.engines.pieces import LARGE_PIECE_FACES, PiecePlan, below_own_faces

    labels = np.repeat([0, 1, 2, 3], [100, 500, 20, 40])
    plan = PiecePlan(labels, np.array([150, 300, 25, 40]), np.array([True, True, False, True]))
    made = below_own_faces(plan)
    assert made.budgets.tolist() == [99, 300, 25, 39] and made.large.tolist() == plan.large.tolist()
    assert LARGE_PIECE_FACES <= 39
