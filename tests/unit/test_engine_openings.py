# SPDX-License-Identifier: GPL-3.0-or-later
"""A source's small holes stay holes in its remesh: the result has the source's boundary loops."""

from __future__ import annotations

import numpy as np
import pytest
from retopo_hub.engines.holes import boundary_half_edges, fill_small_holes
from retopo_hub.engines.meshdata import MeshArrays
from retopo_hub.engines.openings import real_borders
from retopo_hub.engines.project import surface_distances
from retopo_hub.engines.quality import topology
from retopo_hub.engines.remesh import remesh_detailed
from shapes import icosphere, wavy_plane

HOLE_CENTRES = ((0.3, 0.3), (0.7, 0.35), (0.5, 0.72))


def _plate_with_holes(radius: float) -> MeshArrays:
    """The wavy unit plate with three round holes of ``radius`` cut out of it."""
    verts, tris = wavy_plane(121, 121)
    centres = verts[tris, :2].mean(axis=1)
    inside = np.zeros(tris.shape[0], dtype=bool)
    for centre in HOLE_CENTRES:
        inside |= np.linalg.norm(centres - np.asarray(centre), axis=1) < radius
    return MeshArrays.from_triangles(verts, tris[~inside]).compact()


@pytest.mark.parametrize("target", [600, 1500])
def test_holes_narrower_than_two_faces_stay_open(target):
    pytest.importorskip("pynanoinstantmeshes")
    # Holes 0.05 across; at 600 quads an edge is about 0.04: Instant Meshes alone covers every one.
    source = _plate_with_holes(0.025)
    assert topology(source)["boundary_loops"] == 4
    remeshed = remesh_detailed(source, target, reproducible=True)
    found = topology(remeshed.mesh)
    assert (found["pieces"], found["boundary_loops"], found["genus"]) == (1, 4, 0)
    assert remeshed.info["holes_reopened"] > 0  # Instant Meshes had covered some: they were opened again
    # The openings are the source's: the result's border vertices lie on the source's borders.
    border = np.unique(np.concatenate(boundary_half_edges(remeshed.mesh)))
    on_rims = surface_distances(remeshed.mesh.verts[border], source.verts, source.triangles())
    assert on_rims.max() < 1e-4
    for centre in HOLE_CENTRES:
        nearest = np.linalg.norm(remeshed.mesh.verts[border, :2] - np.asarray(centre), axis=1).min()
        assert nearest < 0.04, f"no border around the hole at {centre}"


def test_a_small_loop_on_the_source_border_is_not_filled():
    verts = np.array([[x, y, 0.0] for y in range(4) for x in range(4)], np.float64)
    quads = [
        [y * 4 + x, y * 4 + x + 1, (y + 1) * 4 + x + 1, (y + 1) * 4 + x] for y in range(3) for x in range(3)
    ]
    holed = MeshArrays.from_faces(verts, np.delete(np.array(quads), 4, axis=0))  # the middle quad missing
    rim = np.zeros(verts.shape[0], dtype=bool)
    rim[[5, 6, 9, 10]] = True
    assert fill_small_holes(holed).face_count == 9  # an extraction hole: filled
    assert fill_small_holes(holed, keep=rim).face_count == 8  # the source's own hole: kept
    partly = rim.copy()
    partly[10] = False
    assert fill_small_holes(holed, keep=partly).face_count == 9


def test_split_vertices_are_no_holes():
    """A closed mesh whose vertices are split at every triangle (as a flat-shaded glTF import is) has no
    hole to keep: the remesh comes back closed and at its budget."""
    pytest.importorskip("pynanoinstantmeshes")
    verts, tris = icosphere(5)
    soup = MeshArrays.from_triangles(verts[tris.ravel()], np.arange(tris.size).reshape(-1, 3))
    assert boundary_half_edges(soup)[0].shape[0] == tris.size  # every edge of every triangle is open
    assert real_borders(soup.verts, soup.triangles()) is None
    remeshed = remesh_detailed(soup, 800, reproducible=True)
    assert abs(remeshed.mesh.face_count - 800) <= 80
    found = topology(remeshed.mesh)
    assert (found["pieces"], found["boundary_loops"], found["genus"]) == (1, 0, 0)


def test_joined_positions_are_bit_equal_ones():
    points = np.array([[0.0, 1.0, 2.0], [0.0, 1.0, 2.0], [-0.0, 1.0, 2.0], [0.0, 1.0, 2.0 + 1e-15]])
    borders = real_borders(points, np.array([[0, 1, 3], [2, 3, 1]]))
    # Rows 0-2 are one vertex (-0.0 is 0.0): both triangles collapse onto an edge and nothing is open...
    assert borders is None
    # ...while a real triangle keeps its three borders as one loop.
    curves, loops = real_borders(np.eye(3), np.array([[0, 1, 2]]))
    assert curves.count == 3 and loops.count == 1
