# SPDX-License-Identifier: GPL-3.0-or-later
"""Instant Meshes remeshing: face budget, quad share, surface fidelity, determinism, errors."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from retopo_hub.engines import EngineCancelled, EngineInputError, MeshArrays
from retopo_hub.engines.project import surface_distances
from retopo_hub.engines.remesh import quad_remesh
from shapes import icosphere, torus, uv_sphere, wavy_plane

pytest.importorskip("pynanoinstantmeshes")


def _diag(verts: np.ndarray) -> float:
    return float(np.linalg.norm(verts.max(axis=0) - verts.min(axis=0)))


def _fin() -> MeshArrays:
    """Wavy plane with a second sheet standing on its middle row: non-manifold edges along the seam."""
    n = 80
    base_v, base_t = wavy_plane(n, n)
    x = np.linspace(0.0, 1.0, n)
    z = np.linspace(0.0, 0.5, n // 2)
    xx, zz = np.meshgrid(x, z, indexing="ij")
    row = base_v.reshape(n, n, 3)[:, n // 2]
    sheet = np.stack([xx, np.broadcast_to(row[:, None, 1], xx.shape), row[:, None, 2] + zz], axis=-1)
    ids = np.arange(n * (n // 2)).reshape(n, n // 2) + base_v.shape[0]
    ids[:, 0] = np.arange(n) * n + n // 2  # the sheet's bottom row reuses the plane's vertices
    i, j = np.meshgrid(np.arange(n - 1), np.arange(n // 2 - 1), indexing="ij")
    a, b, c, d = ids[i, j], ids[i + 1, j], ids[i + 1, j + 1], ids[i, j + 1]
    sheet_t = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)])
    verts = np.vstack([base_v, sheet.reshape(-1, 3)])
    return MeshArrays.from_triangles(verts, np.vstack([base_t, sheet_t]))


@pytest.fixture(scope="module")
def sphere56k() -> MeshArrays:
    mesh = MeshArrays.from_triangles(*uv_sphere(200, 141))
    assert mesh.face_count == 56000
    return mesh


def _boundary_edges(mesh: MeshArrays) -> int:
    tris = mesh.triangles().astype(np.int64)
    edges = np.sort(np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]]), axis=1)
    _, counts = np.unique(edges[:, 0] * (mesh.vert_count + 1) + edges[:, 1], return_counts=True)
    return int(np.count_nonzero(counts == 1))


def _check_quads(result: MeshArrays, source: MeshArrays, target: int, closed: bool = True) -> None:
    assert abs(result.face_count - target) <= 0.1 * target, result.summary()
    if closed:
        assert _boundary_edges(result) == 0, "a closed source must give a closed result"
    assert result.quad_count / result.face_count >= 0.95
    result.validate()
    diag = _diag(source.verts)
    # Every output vertex sits on the source surface...
    on_surface = surface_distances(result.verts, source.verts, source.triangles())
    assert on_surface.max() < 1e-4 * diag
    # ...and the output surface follows the source closely everywhere.
    back = surface_distances(source.verts, result.verts, result.triangles())
    assert back.mean() < 0.01 * diag
    assert back.max() < 0.05 * diag


def test_sphere_to_5000_quads(sphere56k):
    result = quad_remesh(sphere56k, 5000)
    _check_quads(result, sphere56k, 5000)
    radius = np.linalg.norm(result.verts.astype(np.float64), axis=1)
    assert np.all(np.abs(radius - 1.0) < 2e-3)


@pytest.mark.parametrize(
    ("shape", "target"),
    [
        (lambda: torus(200, 140, bumps=0.1), 2000),
        (lambda: wavy_plane(150, 150), 1500),
        (lambda: icosphere(6), 500),  # 82K triangles for 500 quads: goes through vertex clustering
    ],
    ids=["torus", "open-plane", "clustered-sphere"],
)
def test_shapes_hit_the_budget(request, shape, target):
    source = MeshArrays.from_triangles(*shape())
    closed = "open" not in request.node.callspec.id
    _check_quads(quad_remesh(source, target), source, target, closed=closed)


def test_quad_source_is_accepted():
    verts, _ = wavy_plane(100, 100)
    i, j = np.meshgrid(np.arange(99), np.arange(99), indexing="ij")
    quads = np.stack([i * 100 + j, (i + 1) * 100 + j, (i + 1) * 100 + j + 1, i * 100 + j + 1], -1).ravel()
    source = MeshArrays(verts, np.full(99 * 99, 4), quads)
    result = quad_remesh(source, 900)
    assert abs(result.face_count - 900) <= 90 and result.quad_count == result.face_count


def test_open_boundary_is_kept():
    source = MeshArrays.from_triangles(*wavy_plane(120, 120))
    result = quad_remesh(source, 800)
    xy = result.verts[:, :2]
    # Boundary-aligned field: the result still reaches all four edges of the unit square.
    assert xy.min() < 0.01 and xy.max() > 0.99


def test_triangle_mode_gives_triangles(sphere56k):
    result = quad_remesh(sphere56k, 3000, quads=False)
    assert result.tri_count == result.face_count
    assert abs(result.face_count - 3000) <= 300
    on_surface = surface_distances(result.verts, sphere56k.verts, sphere56k.triangles())
    assert on_surface.max() < 1e-4


def test_non_manifold_input_still_remeshes():
    source = _fin()
    result = quad_remesh(source, 1200)
    assert abs(result.face_count - 1200) <= 120
    assert result.quad_count == result.face_count
    assert surface_distances(result.verts, source.verts, source.triangles()).max() < 1e-4


def _remesh_in_fresh_process(tmp_path: Path, seed: int, reproducible: bool) -> bytes:
    """Instant Meshes sizes its thread pool once per process, so reproducibility is a per-process matter."""
    out = tmp_path / f"out-{seed}-{reproducible}-{len(list(tmp_path.iterdir()))}.npz"
    script = (
        "import sys, numpy as np\n"
        "from engines import MeshArrays\n"
        "from engines.remesh import quad_remesh\n"
        "from shapes import torus\n"
        f"r = quad_remesh(MeshArrays.from_triangles(*torus(120, 80)), 1000, seed={seed}, "
        f"reproducible={reproducible})\n"
        f"np.savez({str(out)!r}, v=r.verts, c=r.corner_verts)\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), str(Path(__file__).resolve().parent)]))
    subprocess.run([sys.executable, "-c", script], cwd=root, env=env, check=True, timeout=120)
    with np.load(out) as data:
        return data["v"].tobytes() + data["c"].tobytes()


def test_reproducible_runs_repeat_and_another_seed_differs(tmp_path):
    first = _remesh_in_fresh_process(tmp_path, 0, True)
    again = _remesh_in_fresh_process(tmp_path, 0, True)
    other = _remesh_in_fresh_process(tmp_path, 3, True)
    assert first == again
    assert first != other


def test_progress_and_cancellation():
    source = MeshArrays.from_triangles(*icosphere(4))
    seen: list[float] = []
    quad_remesh(source, 400, progress=lambda f, m: seen.append(f))
    assert seen and seen[-1] == 1.0 and all(0.0 <= f <= 1.0 for f in seen)
    assert seen == sorted(seen)
    with pytest.raises(EngineCancelled):
        quad_remesh(source, 400, cancelled=lambda: True)


@pytest.mark.parametrize("target", [3, 0, -5, 5120, 2_000_000])
def test_target_range(target):
    source = MeshArrays.from_triangles(*icosphere(4))  # 5120 triangles
    with pytest.raises(EngineInputError, match=r"from 4 to 5,119 \(below the source's 5,120 faces\)"):
        quad_remesh(source, target)


def test_missing_instant_meshes_raises_unavailable(monkeypatch):
    from retopo_hub.engines import EngineUnavailable

    monkeypatch.setitem(__import__("sys").modules, "pynanoinstantmeshes", None)
    with pytest.raises(EngineUnavailable, match="QuadriFlow"):
        quad_remesh(MeshArrays.from_triangles(*icosphere(3)), 100)
