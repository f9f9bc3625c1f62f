# SPDX-License-Identifier: GPL-3.0-or-later
"""Close the small holes field-aligned extraction sometimes leaves in a remesh.

Instant Meshes can leave a few loops of 3 to 8 boundary edges where its position field is singular (seen on
a 1.3M-triangle sphere: 76 open edges on a closed source, a Hausdorff distance 12x QuadriFlow's). Such a loop
is far smaller than any opening a remesh at that resolution could keep, so it is filled with quads (and one
triangle for an odd loop), wound against its neighbours, unless its every vertex lies on the source's own
border (``keep``): then it is a hole the source has (``openings``). Longer loops are real boundaries and
stay open, except on a remesh of a closed source, where every loop is a hole the extraction left (a 26-edge
one on a flat face of a machined part survived every seed), and on an open source, a loop none of whose
vertices lies on the source's borders (Suzanne's thin ears opened): ``fill_every_hole`` closes those too,
ring by ring towards the middle (each ring of quads has 8 fewer edges inside than outside: four corner quads
take two outer edges each), then a fan for what is left, the new vertices projected onto the source and
relaxed.
numpy in, numpy out; never touches bpy.
"""

from __future__ import annotations

import logging

import numpy as np

from .meshdata import MeshArrays

log = logging.getLogger(__name__)

MAX_HOLE_EDGES = 8
# Longest loop ``boundary_loops`` follows (a closed source's holes) and the corner quads of each ring.
MAX_LOOP_EDGES = 4096
RING_CORNERS = 4
# Each ring's vertices sit this share of the way from the outer ring towards the loop's centre.
RING_STEP = 0.3


def boundary_half_edges(mesh: MeshArrays) -> tuple[np.ndarray, np.ndarray]:
    """(from, to) vertex arrays of the directed face edges that no face runs the other way."""
    starts = np.concatenate(([0], np.cumsum(mesh.face_sizes)[:-1])).astype(np.int64)
    nxt_corner = np.arange(len(mesh.corner_verts)) + 1
    nxt_corner[starts + mesh.face_sizes - 1] = starts  # wrap each face's last corner to its first
    a = mesh.corner_verts.astype(np.int64)
    b = mesh.corner_verts[nxt_corner].astype(np.int64)
    n = int(max(a.max(initial=0), b.max(initial=0))) + 1
    # A half-edge a->b is a border when no face runs b->a. A sorted lookup of the reverse keys is about 3.5x
    # faster than np.isin on a 1.3M-triangle mesh (0.9 s against 3.1 s), and every remesh asks it.
    forward = np.sort(a * n + b)
    reverse = b * n + a
    if forward.size == 0:
        return a, b
    found = forward[np.searchsorted(forward, reverse).clip(max=forward.size - 1)]
    boundary = found != reverse
    return a[boundary], b[boundary]


def open_edges(mesh: MeshArrays) -> int:
    return len(boundary_half_edges(mesh)[0])


def boundary_loops(mesh: MeshArrays, longest: int = 4 * MAX_HOLE_EDGES) -> list[list[int]]:
    """Loops of boundary vertices (up to ``longest`` of them), each in the winding a face filling it must
    use. A border that passes twice through one vertex (two holes touching at a corner, which Instant
    Meshes leaves on thin parts) is split there into simple loops, each filled on its own."""
    a, b = boundary_half_edges(mesh)
    # A filling face runs each boundary edge backwards: from b to a.
    outgoing: dict[int, list[int]] = {}
    for head, tail in zip(b.tolist(), a.tolist(), strict=True):
        outgoing.setdefault(head, []).append(tail)
    loops = []
    for start in list(outgoing):
        path: list[int] = []
        where: dict[int, int] = {}
        v = start
        while True:
            if v in where:  # the walk came back to a vertex: cut that loop off and walk on from it
                cycle = path[where[v] :]
                del path[where[v] :]
                for x in cycle:
                    del where[x]
                if len(cycle) <= longest:
                    loops.append(cycle)
            if not outgoing.get(v):
                break  # what is left of the walk is no loop (a border of a non-manifold edge)
            where[v] = len(path)
            path.append(v)
            v = outgoing[v].pop()
    return loops


def _fan(loop: list[int], faces: list[list[int]]) -> None:
    """Quads (and one triangle for an odd loop) fanned from the loop's first vertex."""
    first, rest = loop[0], loop[1:]
    while len(rest) >= 3:
        faces.append([first, rest[0], rest[1], rest[2]])
        rest = rest[2:]
    if len(rest) == 2:
        faces.append([first, rest[0], rest[1]])


def _canonical(loop: list[int], verts: np.ndarray) -> tuple[list[int], bool]:
    """The loop from its vertex of least |coordinates|, towards the lesser of its two neighbours, and
    whether that runs against the loop (its faces are then wound back). A hole and its mirror image (a
    symmetric LOD0's, whose mirrored side runs its loops the other way) so start at mirrored vertices and go
    the same way round, and their fans are mirror images: the result stays mirror-exact face for face."""

    def key(vertex: int) -> tuple:
        return (*np.abs(np.asarray(verts[vertex], dtype=np.float64)).tolist(), vertex)

    first = min(range(len(loop)), key=lambda k: key(loop[k]))
    forward = loop[first:] + loop[:first]
    backward = [forward[0], *forward[:0:-1]]
    if key(backward[1]) < key(forward[1]):
        return backward, True
    return forward, False


def _with_faces(mesh: MeshArrays, verts: np.ndarray, faces: list[list[int]]) -> MeshArrays:
    return MeshArrays(
        verts,
        np.concatenate([mesh.face_sizes, np.asarray([len(f) for f in faces], dtype=mesh.face_sizes.dtype)]),
        np.concatenate(
            [mesh.corner_verts, np.asarray([v for f in faces for v in f], dtype=mesh.corner_verts.dtype)]
        ),
    )


def fill_small_holes(
    mesh: MeshArrays, max_edges: int = MAX_HOLE_EDGES, keep: np.ndarray | None = None
) -> MeshArrays:
    """Loops of 3 to ``max_edges`` edges filled; with ``keep`` (bool per vertex), not those whose every
    vertex is kept (a hole of the source, on its border)."""
    loops = [
        loop
        for loop in boundary_loops(mesh)
        if 3 <= len(loop) <= max_edges and (keep is None or not keep[loop].all())
    ]
    if not loops:
        return mesh
    faces: list[list[int]] = []
    for loop in loops:
        ordered, backwards = _canonical(loop, mesh.verts)
        fan: list[list[int]] = []
        _fan(ordered, fan)
        faces.extend(face[::-1] if backwards else face for face in fan)
    log.debug("filled %d small holes with %d faces", len(loops), len(faces))
    return _with_faces(mesh, mesh.verts, faces)


def _ring(loop: list[int], points: list[np.ndarray], faces: list[list[int]]) -> list[int]:
    """One ring of quads inside ``loop`` with RING_CORNERS corner quads; returns the inner loop."""
    n = len(loop)
    corners = min(RING_CORNERS, (n - 4) // 2)
    centre = np.mean([points[v] for v in loop], axis=0)
    # Corner quads start at evenly spread outer vertices; each uses two outer edges.
    starts = {round(k * n / corners) for k in range(corners)}
    inner: list[int] = []

    def inner_vertex(outer: int) -> int:
        points.append(points[outer] + RING_STEP * (centre - points[outer]))
        return len(points) - 1

    current = inner_vertex(loop[0])
    first, i = current, 0
    inner.append(current)
    while i < n:
        if i in starts and i + 2 < n:  # the last step must close the inner ring on its first vertex
            faces.append([loop[i], loop[(i + 1) % n], loop[(i + 2) % n], current])
            i += 2
            continue
        nxt = first if i + 1 >= n else inner_vertex(loop[i + 1])
        faces.append([loop[i], loop[(i + 1) % n], nxt, current])
        if nxt != first:
            inner.append(nxt)
        current = nxt
        i += 1
    return inner


def fill_every_hole(
    mesh: MeshArrays, onto_surface, relaxed, keep: np.ndarray | None = None, keep_share: float = 0.0
) -> MeshArrays:
    """Close every boundary loop (see the module docstring): ``onto_surface(points)`` projects points onto
    the source, ``relaxed(verts, mesh, pinned)`` relaxes the unpinned ones on it. With ``keep`` (bool per
    vertex: on one of an open source's borders, or near a symmetry cut), a loop stays open when more than
    ``keep_share`` of its vertices are kept (0: any)."""
    loops = [
        loop
        for loop in boundary_loops(mesh, MAX_LOOP_EDGES)
        if len(loop) >= 3 and (keep is None or not keep[loop].mean() > keep_share)
    ]
    if not loops:
        return mesh
    points = list(np.asarray(mesh.verts, dtype=np.float64))
    faces: list[list[int]] = []
    for outer in loops:
        loop = outer
        while len(loop) > MAX_HOLE_EDGES:
            loop = _ring(loop, points, faces)
        _fan(loop, faces)
    verts = np.array(points)
    new = np.zeros(len(verts), dtype=bool)
    new[mesh.vert_count :] = True
    if new.any():
        verts[new] = onto_surface(verts[new])
    filled = _with_faces(mesh, verts, faces)
    if new.any():
        filled = MeshArrays(relaxed(filled.verts, filled, ~new), filled.face_sizes, filled.corner_verts)
    log.debug("closed %d holes of up to %d edges with %d faces", len(loops), max(map(len, loops)), len(faces))
    return filled
