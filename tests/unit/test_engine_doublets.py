# SPDX-License-Identifier: GPL-3.0-or-later
"""Doublets (interior vertices of two edges between two quads) out of a quad remesh."""

import numpy as np
import pytest
from retopo_hub.engines.doublets import MAX_HEIGHT, without_doublets
from retopo_hub.engines.meshdata import DRAWN_SPLIT, MeshArrays
from retopo_hub.engines.meshgraph import unique_edges
from retopo_hub.engines.pipeline import EngineParams, run
from retopo_hub.engines.quality import topology
from shapes import quad_box


def boxed_doublet(lift: float) -> tuple[MeshArrays, np.ndarray]:
    """A 4 x 4 quad box with one quad of its top made a doublet: a vertex ``lift`` edges above its middle
    and the quad's two halves as quads sharing it, each starting at an end of the diagonal below it, as
    Instant Meshes leaves them (the top quad's corners, in order, are returned)."""
    verts, quads = quad_box(4, 4)
    top = next(
        k for k, q in enumerate(quads) if np.allclose(verts[q][:, 2], 1.0) and verts[q][:, 0].min() > -0.1
    )
    p0, p1, p2, p3 = quads[top]
    middle = verts[quads[top]].mean(axis=0) + np.array([0.0, 0.0, lift * 0.5])
    doublet = verts.shape[0]
    faces = np.vstack([np.delete(quads, top, axis=0), [[p2, p3, p0, doublet], [p0, p1, p2, doublet]]])
    return MeshArrays.from_faces(np.vstack([verts, middle]), faces), quads[top]


def valence(mesh: MeshArrays) -> np.ndarray:
    edges, _, _ = unique_edges(mesh)
    return np.bincount(edges.ravel(), minlength=mesh.vert_count)


def drawn_nonmanifold(mesh: MeshArrays) -> int:
    return topology(MeshArrays.from_triangles(mesh.verts, mesh.triangles(DRAWN_SPLIT)))["nonmanifold_edges"]


def test_a_flat_doublet_is_dissolved_into_the_quad_it_split():
    mesh, outline = boxed_doublet(0.5 * MAX_HEIGHT)
    # Split as Blender draws them, both halves put a triangle on the same diagonal: four triangles on it.
    assert drawn_nonmanifold(mesh) == 1 and (valence(mesh) == 2).sum() == 1
    out, count = without_doublets(mesh)
    assert count == 1 and out.face_count == 6 * 16 and out.vert_count == mesh.vert_count - 1
    assert (valence(out) >= 3).all() and drawn_nonmanifold(out) == 0
    assert topology(out) == topology(MeshArrays.from_faces(*quad_box(4, 4)))
    merged = [set(map(tuple, np.round(out.verts[f], 6))) for f in out.corner_verts.reshape(-1, 4)]
    assert set(map(tuple, np.round(mesh.verts[outline], 6))) in merged


def test_a_doublet_holding_out_a_tip_stays_but_shares_no_drawn_diagonal():
    mesh, _ = boxed_doublet(2.0 * MAX_HEIGHT)
    out, count = without_doublets(mesh)
    assert count == 0 and out.face_count == mesh.face_count and out.verts.shape == mesh.verts.shape
    assert drawn_nonmanifold(mesh) == 1 and drawn_nonmanifold(out) == 0


def test_doublets_on_a_border_or_between_triangles_are_left_alone():
    # Two quads sharing two edges of an open sheet's corner vertex, and a triangle fan's valence-2 corner.
    strip = MeshArrays.from_faces(
        np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0.0]]), np.array([[0, 1, 2, 3]])
    )
    assert without_doublets(strip) == (strip, 0)
    verts, quads = quad_box(2, 2)
    tris = MeshArrays.from_triangles(verts, np.vstack([quads[:, :3], quads[:, [0, 2, 3]]]))
    out, count = without_doublets(tris)
    assert count == 0 and np.array_equal(out.corner_verts, tris.corner_verts)


@pytest.mark.filterwarnings("ignore")
def test_small_open_cones_remeshed_give_lods_without_non_manifold_edges():
    """Instant Meshes folds quads onto each other over a part a few of its edges long; each LoD decimated
    from such a LOD0 had the folds' shared diagonals as non-manifold edges (5 of them at 3,000 quads)."""
    pytest.importorskip("pynanoinstantmeshes")
    from shapes import icosphere
    from test_engine_pieces import open_cones

    cones_v, cones_t = open_cones(20)
    sphere_v, sphere_t = icosphere(5)
    verts = np.vstack([cones_v, sphere_v * 4.0 - [10.0, 0.0, 0.0]])
    tris = np.vstack([cones_t, sphere_t + cones_v.shape[0]])
    results = run(EngineParams(mode="quad", target_faces=3000, lod_levels=2, reproducible=True), verts, tris)
    assert results[0].info.get("doublets_dissolved", 0) > 0
    assert drawn_nonmanifold(results[0].mesh) == 0
    assert [topology(level.mesh)["nonmanifold_edges"] for level in results[1:]] == [0, 0]
