# SPDX-License-Identifier: GPL-3.0-or-later
"""Procedural reference meshes for the engine's tests (test data: not shipped in the extension).

Contract: each function returns (verts float32 (N, 3), tris int32 (M, 3)) in unit-scale object space,
built with numpy only, deterministically.
"""

from __future__ import annotations

import numpy as np

_ICOSAHEDRON_FACES = np.array(
    [
        [0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11],
        [1, 5, 9], [5, 11, 4], [11, 10, 2], [10, 7, 6], [7, 1, 8],
        [3, 9, 4], [3, 4, 2], [3, 2, 6], [3, 6, 8], [3, 8, 9],
        [4, 9, 5], [2, 4, 11], [6, 2, 10], [8, 6, 7], [9, 8, 1],
    ]
)  # fmt: skip


def icosphere(subdivisions: int, radius: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Unit icosphere with 20 * 4**subdivisions triangles (5 -> 20,480; 6 -> 81,920; 8 -> 1,310,720)."""
    golden = (1.0 + 5.0**0.5) / 2.0
    verts = np.array(
        [
            [-1, golden, 0], [1, golden, 0], [-1, -golden, 0], [1, -golden, 0],
            [0, -1, golden], [0, 1, golden], [0, -1, -golden], [0, 1, -golden],
            [golden, 0, -1], [golden, 0, 1], [-golden, 0, -1], [-golden, 0, 1],
        ],
        dtype=np.float64,
    )  # fmt: skip
    faces = _ICOSAHEDRON_FACES.copy()
    for _ in range(subdivisions):
        edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
        unique, inverse = np.unique(edges, axis=0, return_inverse=True)
        mids = (verts[unique[:, 0]] + verts[unique[:, 1]]) / 2.0
        m = inverse.reshape(3, -1).T + verts.shape[0]
        verts = np.vstack([verts, mids])
        a, b, c = faces.T
        ab, bc, ca = m.T
        faces = np.concatenate(
            [np.stack(t, axis=1) for t in ((a, ab, ca), (b, bc, ab), (c, ca, bc), (ab, bc, ca))]
        )
    verts *= radius / np.linalg.norm(verts, axis=1, keepdims=True)
    return verts.astype(np.float32), faces.astype(np.int32)


def uv_sphere(segments: int, rings: int, radius: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Latitude/longitude sphere: 2 * segments * (rings - 1) triangles with thin fans at the poles.

    ``uv_sphere(200, 141)`` has 56,000 triangles.
    """
    theta = np.linspace(0.0, np.pi, rings + 1)[1:-1]
    verts, faces = _lathe(np.sin(theta), np.cos(theta), segments, (1.0, -1.0))
    return (verts * radius).astype(np.float32), faces


def dumbbell(segments: int, rings: int, neck: float = 0.03) -> tuple[np.ndarray, np.ndarray]:
    """Closed surface of revolution about z: two balls of radius 0.5 centred at z = +-0.8, joined by a
    neck of radius ``neck`` from z = -0.3 to 0.3 (a thin limb). Rings are spaced evenly along the profile,
    so its triangles are near even everywhere; 2 * segments * (rings - 1) triangles."""
    z = np.linspace(1.3, -1.3, 20001)
    balls = np.sqrt(np.clip(0.25 - (np.abs(z) - 0.8) ** 2, 0.0, None))
    radius = np.where(np.abs(z) < 0.8, np.maximum(balls, neck), balls)
    length = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(z), np.diff(radius)))])
    at = np.linspace(0.0, length[-1], rings + 1)[1:-1]
    verts, faces = _lathe(np.interp(at, length, radius), np.interp(at, length, z), segments, (1.3, -1.3))
    return verts.astype(np.float32), faces


def _lathe(
    ring_radius: np.ndarray, ring_z: np.ndarray, segments: int, poles: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Rings of ``segments`` vertices about z (first ring next to the pole at z = ``poles[0]``, which lies
    above the last), closed by a fan at each pole, wound outwards: float64 verts, int32 triangles."""
    phi = np.linspace(0.0, 2.0 * np.pi, segments, endpoint=False)
    body = np.stack(
        [
            ring_radius[:, None] * np.cos(phi),
            ring_radius[:, None] * np.sin(phi),
            np.repeat(ring_z[:, None], segments, 1),
        ],
        axis=-1,
    ).reshape(-1, 3)
    verts = np.vstack([body, [[0.0, 0.0, poles[0]], [0.0, 0.0, poles[1]]]])
    first, second = body.shape[0], body.shape[0] + 1
    # Rows of the grid run from ring to ring, columns wrap around the axis.
    bands = _grid_faces(ring_radius.shape[0], segments, False, True)
    j = np.arange(segments)
    top = np.stack([np.full(segments, first), j, (j + 1) % segments], axis=1)
    last = (ring_radius.shape[0] - 1) * segments
    bottom = np.stack([np.full(segments, second), last + (j + 1) % segments, last + j], axis=1)
    return verts, np.concatenate([bands, top, bottom]).astype(np.int32)


def _grid_faces(nu: int, nv: int, wrap_u: bool, wrap_v: bool) -> np.ndarray:
    cu = nu if wrap_u else nu - 1
    cv = nv if wrap_v else nv - 1
    i = np.arange(cu)[:, None]
    j = np.arange(cv)[None, :]
    a = i * nv + j
    b = ((i + 1) % nu) * nv + j
    c = ((i + 1) % nu) * nv + (j + 1) % nv
    d = i * nv + (j + 1) % nv
    return np.concatenate(
        [np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)]
    ).astype(np.int32)


def torus(nu: int, nv: int, major: float = 1.0, minor: float = 0.35, bumps: float = 0.0):
    """Torus of 2 * nu * nv triangles; ``bumps`` adds a smooth sin*sin relief (fraction of ``minor``).

    ``torus(708, 708, bumps=0.1)`` is the 1,002,528-triangle benchmark mesh.
    """
    u = np.linspace(0.0, 2.0 * np.pi, nu, endpoint=False)
    w = np.linspace(0.0, 2.0 * np.pi, nv, endpoint=False)
    uu, ww = np.meshgrid(u, w, indexing="ij")
    r = minor * (1.0 + bumps * np.sin(7 * uu) * np.sin(5 * ww))
    ring = major + r * np.cos(ww)
    verts = np.stack([ring * np.cos(uu), ring * np.sin(uu), r * np.sin(ww)], axis=-1).reshape(-1, 3)
    return verts.astype(np.float32), _grid_faces(nu, nv, True, True)


def wavy_plane(n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Open unit square with a gentle wave, 2 * (n - 1) * (m - 1) triangles, one boundary loop."""
    x, y = np.meshgrid(np.linspace(0.0, 1.0, n), np.linspace(0.0, 1.0, m), indexing="ij")
    z = 0.05 * np.sin(6.0 * x) * np.cos(5.0 * y)
    verts = np.stack([x, y, z], axis=-1).reshape(-1, 3)
    return verts.astype(np.float32), _grid_faces(n, m, False, False)


def quad_box(nu: int, nv: int) -> tuple[np.ndarray, np.ndarray]:
    """Closed cube [-1, 1]^3 whose sides are nu x nv grids of quads, wound outwards, corners shared:
    (verts float64 (N, 3), quads int64 (6 * nu * nv, 4))."""
    index: dict[tuple, int] = {}
    verts: list[tuple] = []
    quads: list[list[int]] = []

    def vertex(point: np.ndarray) -> int:
        key = tuple(np.round(point, 9))
        if key not in index:
            index[key] = len(verts)
            verts.append(key)
        return index[key]

    for axis in range(3):
        for sign in (-1.0, 1.0):
            for i in range(nu):
                for j in range(nv):
                    quad = []
                    for a, b in ((i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)):
                        point = np.zeros(3)
                        point[axis] = sign
                        point[(axis + 1) % 3], point[(axis + 2) % 3] = -1 + 2 * a / nu, -1 + 2 * b / nv
                        quad.append(vertex(point))
                    quads.append(quad if sign > 0 else quad[::-1])
    return np.array(verts, dtype=np.float64), np.array(quads, dtype=np.int64)


def sliver_box(nu: int, nv: int) -> tuple[np.ndarray, np.ndarray]:
    """``quad_box`` split into triangles: with nu >> nv, long thin strips as a CAD tessellation makes them
    (quadric decimation stalls on them). (verts float32, tris int64)."""
    verts, quads = quad_box(nu, nv)
    return verts.astype(np.float32), np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]])


def cad_cylinder(segments: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """A cylinder of radius 1 and height 3 as a CAD exporter writes it: sides cut into ``segments`` x
    ``rows`` strips, each cap fanned from one rim vertex, so its triangles run across the whole cap.
    Closed, wound outwards: (verts float64, tris int64)."""
    angle = np.linspace(0.0, 2.0 * np.pi, segments, endpoint=False)
    ring = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    heights = np.linspace(0.0, 3.0, rows + 1)
    verts = np.concatenate([np.column_stack([ring, np.full(segments, z)]) for z in heights])
    i = np.arange(segments)
    j = (i + 1) % segments
    faces = []
    for r in range(rows):
        a, b, c, d = r * segments + i, r * segments + j, (r + 1) * segments + j, (r + 1) * segments + i
        faces += [np.stack([a, b, c], 1), np.stack([a, c, d], 1)]
    top = rows * segments
    faces.append(np.stack([np.zeros(segments - 2, int), j[1:-1], i[1:-1]], 1))
    faces.append(np.stack([np.full(segments - 2, top), top + i[1:-1], top + j[1:-1]], 1))
    return verts, np.concatenate(faces).astype(np.int64)


def skinned_chain(name: str, subdivisions: tuple[int, ...]) -> tuple[list, list]:
    """A LoD chain of icospheres, one level per subdivision count, as ``formats`` levels (``<name>_LOD<i>``)
    with two-bone skin weights per vertex: bone 0 weighs the bottom, bone 1 the top, blended by height."""
    levels, weights = [], []
    for number, count in enumerate(subdivisions):
        verts, tris = icosphere(count)
        levels.append((f"{name}_LOD{number}", verts, np.full(len(tris), 3), tris.ravel()))
        upper = np.clip((verts[:, 2] + 1) / 2, 0, 1).astype(np.float32)
        joints = np.stack([np.zeros(len(verts)), np.ones(len(verts))], axis=1).astype(np.uint16)
        weights.append((joints, np.stack([1 - upper, upper], axis=1)))
    return levels, weights
