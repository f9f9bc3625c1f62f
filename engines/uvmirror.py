# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared UVs for the mirrored halves of a symmetric LOD0: unwrap the + side, give each mirrored face its
image's UVs.

Contract: ``mirror_images(mesh, axes)`` finds, for a mesh that is mirror-exact across the planes
``axes`` (0 = X) through the origin (``symmetry`` makes LOD0 so, to the last bit), which faces lie on the +
side of every plane (``home``, bool (F,)) and, for every corner, the corner of the home face it mirrors
(``image``, int64 (C,); a home corner is its own image). It returns None when some face has no exact image
(the mesh is not mirror-exact there), and the caller unwraps the whole mesh instead. ``home_mesh(mesh,
home)`` is the + side as a mesh of its own, with the index of each of its corners in the whole mesh.
Mirrored faces then share their image's texels: a texture painted or baked once shows on both sides, and
their islands overlap by design. Imports numpy and the engine's own modules only; never touches bpy.
"""

from __future__ import annotations

import numpy as np

from .meshdata import MeshArrays


def _vertex_keys(verts: np.ndarray) -> np.ndarray:
    """One integer per distinct position (exact bits), equal positions equal keys."""
    exact = np.ascontiguousarray(verts, dtype=np.float32).view(np.int32).reshape(-1, 3)
    return np.unique(exact, axis=0, return_inverse=True)[1].ravel()


def mirror_images(mesh: MeshArrays, axes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray] | None:
    """(home faces, image corner of each corner), or None when the mesh is not mirror-exact; see above."""
    verts = mesh.verts.astype(np.float32)
    canonical = verts.copy()
    canonical[:, list(axes)] = np.abs(canonical[:, list(axes)])
    canonical[canonical == 0.0] = 0.0  # -0.0 and 0.0 are one position
    both = np.concatenate([verts, canonical])
    both[both == 0.0] = 0.0
    keys = _vertex_keys(both)
    own, image_key = keys[: len(verts)], keys[len(verts) :]
    face = np.repeat(np.arange(mesh.face_count), mesh.face_sizes)
    corner_key = own[mesh.corner_verts]
    home = np.ones(mesh.face_count, dtype=bool)
    np.logical_and.at(home, face, (verts[mesh.corner_verts][:, list(axes)] >= 0.0).all(axis=1))
    # A home face's corners by (face's sorted position keys, corner's key); a mirrored face looks up its
    # image by the canonical keys of its own corners.
    width = int(mesh.face_sizes.max(initial=0))
    sets = np.full((mesh.face_count, width), -1, dtype=np.int64)
    slot = np.arange(len(mesh.corner_verts)) - np.repeat(mesh.face_starts, mesh.face_sizes)
    sets[face, slot] = image_key[mesh.corner_verts]
    sets.sort(axis=1)
    home_faces = np.flatnonzero(home)
    lookup = {sets[f].tobytes(): f for f in home_faces}
    image = np.arange(len(mesh.corner_verts), dtype=np.int64)
    starts = mesh.face_starts
    for f in np.flatnonzero(~home):
        g = lookup.get(sets[f].tobytes())
        if g is None:
            return None
        mine = image_key[mesh.corner_verts[starts[f] : starts[f] + mesh.face_sizes[f]]]
        theirs = corner_key[starts[g] : starts[g] + mesh.face_sizes[g]]
        where = {int(k): starts[g] + i for i, k in enumerate(theirs)}
        if len(where) != len(theirs) or any(int(k) not in where for k in mine):
            return None
        image[starts[f] : starts[f] + mesh.face_sizes[f]] = [where[int(k)] for k in mine]
    return home, image


def home_mesh(mesh: MeshArrays, home: np.ndarray) -> tuple[MeshArrays, np.ndarray]:
    """(the home faces as a mesh, the whole mesh's corner index of each of its corners)."""
    corners = np.flatnonzero(np.repeat(home, mesh.face_sizes))
    return MeshArrays(mesh.verts, mesh.face_sizes[home], mesh.corner_verts[corners]), corners
