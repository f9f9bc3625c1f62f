# SPDX-License-Identifier: GPL-3.0-or-later
"""Small extraction holes are closed with faces wound like their neighbours; real boundaries stay open."""

from __future__ import annotations

import numpy as np
from retopo_hub.engines.holes import (
    boundary_half_edges,
    boundary_loops,
    fill_every_hole,
    fill_small_holes,
    open_edges,
)
from retopo_hub.engines.meshdata import MeshArrays
from retopo_hub.engines.meshgraph import unique_edges
from retopo_hub.engines.openings import narrow_loops
from retopo_hub.engines.quality import topology
from shapes import icosphere


def _cube_without(face_index: int) -> MeshArrays:
    verts = np.array([[x, y, z] for z in (0, 1) for y in (0, 1) for x in (0, 1)], np.float32)
    quads = np.array(
        [[0, 2, 3, 1], [4, 5, 7, 6], [0, 1, 5, 4], [2, 6, 7, 3], [0, 4, 6, 2], [1, 3, 7, 5]], np.int32
    )
    return MeshArrays.from_faces(verts, np.delete(quads, face_index, axis=0))


def _open_edges(mesh: MeshArrays) -> int:
    return sum(len(loop) for loop in boundary_loops(mesh))


def test_a_missing_quad_is_filled_with_one_quad_wound_outwards():
    holed = _cube_without(1)
    assert _open_edges(holed) == 4
    filled = fill_small_holes(holed)
    assert _open_edges(filled) == 0
    assert filled.face_count == 6 and filled.quad_count == 6
    new = filled.corner_verts[-4:]
    assert set(new.tolist()) == {4, 5, 6, 7}
    # Wound like the top face the cube had: its normal points up (+z).
    p = filled.verts[new]
    assert np.cross(p[1] - p[0], p[2] - p[0])[2] > 0


def test_long_boundaries_stay_open():
    n = 12  # an open grid's rim has 4 * n edges: a real boundary
    verts = np.array([[x, y, 0] for y in range(n + 1) for x in range(n + 1)], np.float32)
    quads = [
        [y * (n + 1) + x, y * (n + 1) + x + 1, (y + 1) * (n + 1) + x + 1, (y + 1) * (n + 1) + x]
        for y in range(n)
        for x in range(n)
    ]
    grid = MeshArrays.from_faces(verts, np.array(quads, np.int32))
    assert fill_small_holes(grid) is grid


def _holed_sheet(hole: tuple[int, int, int, int], n: int = 12) -> MeshArrays:
    """An n x n grid of unit quads on z = 0 with the quads i0 <= i < i1, j0 <= j < j1 left out."""
    i0, i1, j0, j1 = hole
    ij = np.stack(np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij"), -1).reshape(-1, 2)
    verts = np.column_stack([ij, np.zeros(len(ij))]).astype(float)
    faces = [[i * (n + 1) + j, (i + 1) * (n + 1) + j, (i + 1) * (n + 1) + j + 1, i * (n + 1) + j + 1]
             for i in range(n) for j in range(n) if not (i0 <= i < i1 and j0 <= j < j1)]  # fmt: skip
    return MeshArrays.from_faces(verts, np.array(faces)).compact()


def test_every_hole_of_a_closed_source_is_closed_ring_by_ring_with_quads():
    mesh = _holed_sheet((3, 9, 3, 10))  # a 26-edge hole, far beyond the small-hole fill
    assert fill_small_holes(mesh).face_count == mesh.face_count
    flat = []

    def onto_surface(points):
        flat.append(len(points))
        return points * [1.0, 1.0, 0.0]

    filled = fill_every_hole(mesh, onto_surface, lambda verts, _mesh, _pinned: verts)
    assert open_edges(filled) == 0
    assert topology(filled)["pieces"] == 1
    assert (filled.face_sizes == 4).all(), "even loops close with quads only"
    _, users, _ = unique_edges(filled)
    assert users.max() == 2
    assert flat and flat[0] == filled.vert_count - mesh.vert_count, "only the new vertices are projected"
    # Both loops (the hole and, since every loop is taken for a hole, the sheet's outline) are filled from
    # inside: no new vertex leaves the sheet.
    new = filled.verts[mesh.vert_count :]
    assert (new[:, :2] >= 0).all() and (new[:, :2] <= 12).all()


def test_on_an_open_source_only_the_loops_off_its_borders_are_closed():
    """The sheet's outline is the source's border (kept): it stays open; the hole inside closes."""
    mesh = _holed_sheet((3, 9, 3, 10))
    outline = (np.isclose(mesh.verts[:, :2], 0) | np.isclose(mesh.verts[:, :2], 12)).any(axis=1)
    filled = fill_every_hole(mesh, lambda p: p, lambda verts, _mesh, _pinned: verts, keep=outline)
    assert [len(loop) for loop in boundary_loops(filled, longest=64)] == [48]
    assert topology(filled)["boundary_loops"] == 1 and topology(mesh)["boundary_loops"] == 2


def test_an_odd_loop_keeps_one_triangle():
    mesh = _holed_sheet((3, 9, 3, 10))
    # Cut one more corner quad's worth of sheet along a diagonal: the hole's loop becomes odd.
    tris = MeshArrays.from_faces(mesh.verts, mesh.corner_verts.reshape(-1, 4)).triangles()
    odd = MeshArrays.from_triangles(mesh.verts, np.delete(tris, 0, axis=0))
    filled = fill_every_hole(odd, lambda p: p, lambda verts, _mesh, _pinned: verts)
    assert open_edges(filled) == 0


def test_two_holes_touching_at_a_corner_are_each_filled():
    # A 4x4 grid of quads without two interior quads that share only a corner: the border runs twice
    # through that vertex, as Instant Meshes leaves it where a thin limb nearly came off.
    n = 4
    verts = np.array([[x, y, 0] for y in range(n + 1) for x in range(n + 1)], np.float32)
    quads = [[y * (n + 1) + x, y * (n + 1) + x + 1, (y + 1) * (n + 1) + x + 1, (y + 1) * (n + 1) + x]
             for y in range(n) for x in range(n)]  # fmt: skip
    missing = {1 * n + 1, 2 * n + 2}  # quads (1, 1) and (2, 2) touch at vertex (2, 2)
    holed = MeshArrays.from_faces(verts, np.array([q for i, q in enumerate(quads) if i not in missing]))
    assert sorted(len(loop) for loop in boundary_loops(holed, longest=64)) == [4, 4, 16]
    filled = fill_small_holes(holed)
    assert filled.face_count == n * n and filled.quad_count == n * n
    assert sorted(len(loop) for loop in boundary_loops(filled, longest=64)) == [16]
    _, counts, _ = unique_edges(filled)
    assert counts.max() == 2


def test_pinholes_narrower_than_the_output_are_no_borders():
    """A sphere with a pinhole (one triangle gone) and a cap gone: against an output edge four times the
    pinhole's width only the cap is a border to keep. A vertex-clustered scan's hundreds of cracks were each
    kept open (openings.narrow_loops); with no output edge given, every loop is one."""
    verts, tris = icosphere(3)
    z = verts[tris].mean(axis=1)[:, 2]
    pinhole = int(np.argmin(z))
    kept = tris[(z < 0.9) & (np.arange(len(tris)) != pinhole)]
    half_edges = boundary_half_edges(MeshArrays.from_triangles(verts, kept))
    pinhole_width = float(np.linalg.norm(np.ptp(verts[tris[pinhole]], axis=0)))
    narrow = narrow_loops(verts, half_edges, 4.0 * pinhole_width)
    on_cap = verts[half_edges[0]][:, 2] > 0.8
    assert on_cap.any() and (~on_cap).sum() == 3
    assert narrow[~on_cap].all() and not narrow[on_cap].any()
    assert not narrow_loops(verts, half_edges, 0.0).any()
