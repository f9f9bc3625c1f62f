# SPDX-License-Identifier: GPL-3.0-or-later
"""Polygons xatlas cut through: one UV per corner again, each such polygon mended or laid flat alone.

Contract: xatlas unwraps triangles, so a quad may have its two triangles in different charts.
``face_charts(mesh, tris, tri_uvs)`` gives (chart of each face's largest triangle, count of faces whose
triangles disagree on a shared corner), from which ``uv`` cuts along the faces' own edges and unwraps
again; ``corner_uvs(mesh, tris, tri_uvs)`` gives one UV per corner (C, 2) and the count of faces still cut,
each of which becomes an island of its own, its triangles unfolded across their shared edges at the
unwrap's texel density and placed right of the square for the final pack (``unfolded``). Imports numpy and
the engine's own modules only; never touches bpy.
"""

from __future__ import annotations

import numpy as np

from .meshdata import MeshArrays
from .meshgraph import face_components
from .uvstats import triangle_face


def _place(p0: np.ndarray, p1: np.ndarray, d0: np.ndarray, d1: np.ndarray, away: np.ndarray) -> np.ndarray:
    """The point at distances d0 from p0 and d1 from p1 (2D, (K, 2)), on the side of line p0-p1 away from
    ``away`` (or its left side where ``away`` is on the line)."""
    edge = p1 - p0
    length = np.maximum(np.linalg.norm(edge, axis=1), 1e-30)
    along = edge / length[:, None]
    left = np.stack([-along[:, 1], along[:, 0]], axis=1)
    # Inside [-d0, d0] for any real triangle; the clip keeps a shared edge of almost no length (two
    # vertices snapped onto one feature point) from throwing the point far across the square.
    x = np.clip((d0**2 - d1**2 + length**2) / (2.0 * length), -d0, d0)
    h = np.sqrt(np.maximum(d0**2 - x**2, 0.0))
    other = ((away - p0) * left).sum(axis=1)
    side = np.where(other > 0, -1.0, 1.0)
    return p0 + x[:, None] * along + (side * h)[:, None] * left


def unfolded(points: np.ndarray, face_tris: np.ndarray) -> np.ndarray:
    """UVs (K, n - 2, 3, 2) of fans of corner triangles ``face_tris`` (K, n - 2, 3), each laid out with its
    3D edge lengths, every triangle across its shared edge from the one before (``MeshArrays.triangles``'s
    fans: triangle k is (r, r + k + 1, r + k + 2)), counter-clockwise."""
    count, fans = face_tris.shape[:2]
    out = np.zeros((count, fans, 3, 2))

    def distance(i: np.ndarray, j: np.ndarray) -> np.ndarray:
        return np.linalg.norm(points[i] - points[j], axis=1)

    first = face_tris[:, 0]
    out[:, 0, 1, 0] = distance(first[:, 0], first[:, 1])
    below = np.zeros((count, 2))
    below[:, 1] = -1.0
    out[:, 0, 2] = _place(
        out[:, 0, 0],
        out[:, 0, 1],
        distance(first[:, 2], first[:, 0]),
        distance(first[:, 2], first[:, 1]),
        below,
    )
    for k in range(1, fans):
        tri, before = face_tris[:, k], out[:, k - 1]
        out[:, k, 0], out[:, k, 1] = before[:, 0], before[:, 2]
        out[:, k, 2] = _place(
            before[:, 0],
            before[:, 2],
            distance(tri[:, 2], tri[:, 0]),
            distance(tri[:, 2], tri[:, 1]),
            before[:, 1],
        )
    return out


def face_charts(mesh: MeshArrays, tris: np.ndarray, tri_uvs: np.ndarray) -> tuple[np.ndarray, int]:
    """(chart of each face's largest triangle, faces whose triangles disagree on a shared corner's UV)."""
    corner_uvs = np.zeros((mesh.corner_verts.shape[0], 2))
    corner_uvs[tris.ravel()] = tri_uvs.reshape(-1, 2)
    disagree = np.abs(corner_uvs[tris] - tri_uvs).max(axis=(1, 2)) > 1e-7
    face = triangle_face(mesh)
    soup = MeshArrays(np.zeros((tris.size, 3)), np.full(tris.shape[0], 3), np.arange(tris.size))
    # Triangles sharing UV corners are one chart: label the soup by UV position.
    _, point = np.unique(np.round(tri_uvs.reshape(-1, 2), 9), axis=0, return_inverse=True)
    soup = MeshArrays(np.zeros((int(point.max()) + 1, 3)), soup.face_sizes, point.ravel())
    chart = face_components(soup)
    points = mesh.verts[mesh.corner_verts].astype(np.float64)
    areas = np.linalg.norm(
        np.cross(points[tris[:, 1]] - points[tris[:, 0]], points[tris[:, 2]] - points[tris[:, 0]]), axis=1
    )
    order = np.lexsort((-areas, face))
    lead = order[np.r_[True, face[order][1:] != face[order][:-1]]]
    return chart[lead], int(np.unique(face[disagree]).size)


def corner_uvs(mesh: MeshArrays, tris: np.ndarray, tri_uvs: np.ndarray) -> tuple[np.ndarray, int]:
    """One UV per corner from the triangles' UVs; polygons split across charts are mended (docstring)."""
    corner_uvs = np.zeros((mesh.corner_verts.shape[0], 2))
    corner_uvs[tris.ravel()] = tri_uvs.reshape(-1, 2)  # the last triangle of a face wins its shared corners
    disagree = np.abs(corner_uvs[tris] - tri_uvs).max(axis=(1, 2)) > 1e-7
    face = triangle_face(mesh)
    bad_faces = np.unique(face[disagree])
    if bad_faces.size == 0:
        return corner_uvs, 0
    # Texels per unit of the unwrap (one scale for every xatlas chart): that of the whole.
    points = mesh.verts[mesh.corner_verts].astype(np.float64)
    surface = np.linalg.norm(
        np.cross(points[tris[:, 1]] - points[tris[:, 0]], points[tris[:, 2]] - points[tris[:, 0]]), axis=1
    ).sum()
    a, b, c = (tri_uvs[:, k] for k in range(3))
    flat = np.abs((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])).sum()
    scale = float(np.sqrt(flat / surface)) if surface > 0 else 1.0
    # Each such polygon becomes an island of its own: its triangles unfolded one after the other across
    # their shared edges (never folding over each other), at the same scale; the final pack places it.
    tri_start = np.cumsum(mesh.face_sizes.astype(np.int64) - 2) - (mesh.face_sizes.astype(np.int64) - 2)
    sizes = mesh.face_sizes[bad_faces].astype(np.int64)
    # Placed apart from everything (right of the square, one row) so no two islands share a UV point.
    step = 2.0 * float(np.abs(tri_uvs).max() + 1.0)
    for size in np.unique(sizes):
        group = np.flatnonzero(sizes == size)
        face_tris = tris[tri_start[bad_faces[group], None] + np.arange(size - 2)]  # (K, n - 2, 3)
        offset = np.stack([step * (1 + group), np.zeros(group.shape[0])], axis=1)[:, None, None, :]
        corner_uvs[face_tris] = unfolded(points, face_tris) * scale + offset
    return corner_uvs, int(bad_faces.size)
