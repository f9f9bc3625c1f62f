# SPDX-License-Identifier: GPL-3.0-or-later
"""Quads turned or split so that, made triangles as Blender draws them, they make no non-manifold edge."""

import numpy as np
from retopo_hub.engines.doublets import MAX_HEIGHT
from retopo_hub.engines.meshdata import DRAWN_SPLIT, MeshArrays
from retopo_hub.engines.splits import _split, drawn_manifold
from shapes import quad_box
from test_engine_doublets import boxed_doublet, drawn_nonmanifold


def outlines(mesh: MeshArrays) -> list[frozenset]:
    starts, sizes = mesh.face_starts, mesh.face_sizes
    return [frozenset(mesh.corner_verts[s : s + n]) for s, n in zip(starts, sizes, strict=True)]


def test_a_clean_quad_mesh_comes_back_as_it_is():
    mesh = MeshArrays.from_faces(*quad_box(3, 3))
    assert drawn_manifold(mesh) == (mesh, {})


def test_a_tip_doublet_drawn_on_one_diagonal_is_turned_and_nothing_moves():
    mesh, _ = boxed_doublet(2.0 * MAX_HEIGHT)  # both halves start at an end of the diagonal they share
    assert drawn_nonmanifold(mesh) == 1
    out, changed = drawn_manifold(mesh)
    assert changed == {"quads_turned": 1} and drawn_nonmanifold(out) == 0
    assert np.array_equal(out.verts, mesh.verts) and np.array_equal(out.face_sizes, mesh.face_sizes)
    assert outlines(out) == outlines(mesh)


def test_copies_of_a_vertex_at_one_place_count_as_one():
    """A result split at a seam is judged welded, as the quality report's topology is."""
    mesh, _ = boxed_doublet(2.0 * MAX_HEIGHT)
    last = mesh.face_starts[-1]
    copied = mesh.corner_verts[last]  # the last quad's first corner gets a copy of its own
    corners = mesh.corner_verts.copy()
    corners[last] = mesh.vert_count
    split = MeshArrays(np.vstack([mesh.verts, mesh.verts[copied]]), mesh.face_sizes, corners)
    out, changed = drawn_manifold(split)
    assert changed == {"quads_turned": 1}
    rejoined = MeshArrays(mesh.verts, out.face_sizes, np.where(out.corner_verts == mesh.vert_count, copied,
                          out.corner_verts))  # fmt: skip
    assert drawn_nonmanifold(rejoined) == 0


def test_a_quad_split_in_place_keeps_the_other_faces_and_their_order():
    mesh = MeshArrays.from_faces(*quad_box(2, 2))
    out = _split(mesh, np.array([1, 5]))
    assert out.face_count == mesh.face_count + 2 and list(out.face_sizes[:8]) == [4, 3, 3, 4, 4, 4, 3, 3]
    drawn = mesh.triangles(DRAWN_SPLIT).reshape(-1, 2, 3)
    made = out.triangles(DRAWN_SPLIT)
    # Each split quad's two triangles lie on its other diagonal: no triangle of its drawn split is among them.
    for quad, first in ((1, 2), (5, 10)):  # the first triangle of each, after the faces before it
        assert not {frozenset(t) for t in drawn[quad]} & {frozenset(t) for t in made[first : first + 2]}
        assert set(made[first : first + 2].ravel()) == set(mesh.corner_verts[4 * quad : 4 * quad + 4])
    assert np.array_equal(out.corner_verts[:4], mesh.corner_verts[:4])
    assert np.array_equal(out.corner_verts[-4 * 17 :], mesh.corner_verts[-4 * 17 :])


def test_lod0_and_its_lods_are_made_from_the_turned_quads(monkeypatch):
    """The pipeline runs ``drawn_manifold`` on LOD0 before its LoDs are decimated from its drawn split."""
    from retopo_hub.engines import pipeline
    from retopo_hub.engines.pipeline import EngineParams, run
    from retopo_hub.engines.quality import topology
    from shapes import icosphere

    made, _ = boxed_doublet(2.0 * MAX_HEIGHT)
    no_sharp = np.zeros((0, 2), dtype=np.int32)
    monkeypatch.setattr(pipeline, "_lod0", lambda *args, **kwargs: (made, "test", no_sharp, {}, ()))
    results = run(EngineParams(mode="quad", target_faces=90, lod_levels=1), *icosphere(3))
    assert results[0].info["quads_turned"] == 1 and drawn_nonmanifold(results[0].mesh) == 0
    assert topology(results[1].mesh)["nonmanifold_edges"] == 0
