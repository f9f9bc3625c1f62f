# SPDX-License-Identifier: GPL-3.0-or-later
"""Mirror symmetry on the object's local X, Y and/or Z planes: clip a half, rebuild it, mirror and weld.

Contract: ``axes_of(text)`` turns an option value ("", "x", "xz", ... "xyz") into axis numbers.
``clip_half(mesh, axis)`` keeps the part of a mesh on the + side of the plane ``coordinate[axis] == 0``
(triangles crossing it are cut; the cut vertices lie exactly on the plane and are shared, so the cut is one
clean boundary). ``symmetrize(half, axes)`` snaps the half's boundary vertices near each plane onto it,
mirrors the half across every plane (reversing the winding, so the copy faces outwards) and welds the
vertices on each plane to their own image: the result is mirror-exact (negating a float is exact, so every
vertex's image is a vertex to the last bit), and a half cut from a closed surface gives a closed result with
no duplicate vertex on the seam. ``clip(source, axes)`` cuts the part to build (a half, quarter or eighth)
and ``share(target, axes)`` its face budget; ``Mirrored.lift`` carries vertex pairs (hard edges) of the
part over to every copy. The planes are the snapshot's coordinate planes,
i.e. the object's local axes through its origin (the snapshot is in object space). The + side is kept, so
an asymmetric scan gives a symmetric result that follows its + side. Imports numpy and the engine's own
modules only; never touches bpy and runs in the engine child process.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .errors import EngineInputError
from .holes import _boundary_half_edges, fill_small_holes
from .meshdata import MeshArrays, triangle_areas
from .meshgraph import components, face_edges, unique_edges

log = logging.getLogger(__name__)

AXES = "xyz"
# A boundary vertex of the rebuilt half closer to a plane than this share of the half's mean edge length was
# meant to lie on it (Instant Meshes aligns its border to the cut but leaves it a little off the plane).
SNAP_EDGES = 0.5
# A vertex this close to a plane (share of the bounding-box diagonal) is on it.
ON_PLANE = 1e-6
# A dent of the rebuilt border at a plane (see _close_notches) has at most this many vertices off the plane,
# none deeper than this many mean edge lengths; anything larger is a boundary of the source itself.
MAX_NOTCH = 24
NOTCH_DEPTH = 3.0
# When the aligned seam fails, the part is rebuilt this many face widths beyond each plane before it is cut
# there: Instant Meshes' border strays up to about two face widths from where it should be.
MARGIN_EDGES = 4.0


def axes_of(text: str) -> tuple[int, ...]:
    """Axis numbers (0 = X) of an option value: letters of "xyz", each at most once, in that order."""
    value = str(text).lower()
    axes = tuple(AXES.index(letter) for letter in value if letter in AXES)
    if len(axes) != len(value) or list(axes) != sorted(set(axes)):
        raise EngineInputError(f"symmetry must be empty or x, y, z, xy, xz, yz or xyz; got {text!r}")
    return axes


def clip_half(mesh: MeshArrays, axis: int, offset: float = 0.0) -> tuple[MeshArrays, np.ndarray]:
    """The part of ``mesh`` where ``coordinate[axis] >= offset``: faces crossing the plane are cut (each
    crossed edge gets one vertex, shared by its two faces, exactly on the plane) and faces lying in it are
    dropped. Triangles stay triangles or become quads; a cut quad may become a pentagon, which is split into
    a quad and a triangle. Also returns int64 (N,) the new index of each vertex of ``mesh`` (-1: cut off)."""
    verts = mesh.verts.astype(np.float64)
    n = verts.shape[0]
    side = verts[:, axis] - offset
    # A vertex a hair off the plane would leave a sliver and, mirrored, a near twin of itself: put it on it.
    extent = float(np.linalg.norm(verts.max(axis=0) - verts.min(axis=0))) if n else 0.0
    grazing = np.abs(side) <= ON_PLANE * extent
    side[grazing] = 0.0
    verts[grazing, axis] = offset
    a, b = face_edges(mesh)
    crossing = ((side[a] > 0.0) & (side[b] < 0.0)) | ((side[a] < 0.0) & (side[b] > 0.0))
    lo, hi = np.minimum(a[crossing], b[crossing]), np.maximum(a[crossing], b[crossing])
    keys = np.unique(lo * n + hi)
    ea, eb = keys // n, keys % n
    t = side[ea] / (side[ea] - side[eb])
    cut = verts[ea] + t[:, None] * (verts[eb] - verts[ea])
    cut[:, axis] = offset
    # The cut point of each face corner's outgoing edge (-1 where that edge is not crossed).
    corner_cut = np.full(a.shape[0], -1, dtype=np.int64)
    corner_cut[crossing] = n + np.searchsorted(keys, lo * n + hi)
    polygons: list[np.ndarray] = []
    starts = mesh.face_starts
    for k in np.unique(mesh.face_sizes).tolist():
        faces = np.flatnonzero(mesh.face_sizes == k)
        corners = starts[faces, None] + np.arange(k)
        ids = mesh.corner_verts[corners].astype(np.int64)
        # Each corner, then the cut of its outgoing edge: the kept corners and the cuts, in order.
        slots = np.full((faces.shape[0], 2 * k), -1, dtype=np.int64)
        slots[:, 0::2] = np.where(side[ids] >= 0.0, ids, -1)
        slots[:, 1::2] = corner_cut[corners]
        flat = (side[ids] == 0.0).all(axis=1)
        present = slots >= 0
        packed = np.take_along_axis(slots, np.argsort(~present, axis=1, kind="stable"), axis=1)
        count = present.sum(axis=1)
        for size in range(3, 2 * k + 1):
            rows = packed[(count == size) & ~flat, :size]
            if size <= 4:
                polygons.append(rows)
            else:  # a fan of quads and at most one triangle
                for first in range(1, size - 1, 2):
                    stop = min(first + 3, size)
                    polygons.append(rows[:, [0, *range(first, stop)]])
    out_v = np.vstack([verts, cut])
    groups = [p for p in polygons if p.shape[0]]
    sizes = np.concatenate([np.full(p.shape[0], p.shape[1]) for p in groups]) if groups else np.zeros(0)
    corner_ids = np.concatenate([p.ravel() for p in groups]) if groups else np.zeros(0, dtype=np.int64)
    used = np.zeros(out_v.shape[0], dtype=bool)
    used[corner_ids] = True
    new_of = np.where(used, np.cumsum(used) - 1, -1)
    return MeshArrays(out_v[used], sizes, new_of[corner_ids]), new_of[:n]


def _mean_edge(mesh: MeshArrays) -> float:
    starts = mesh.face_starts
    nxt = np.arange(mesh.corner_verts.shape[0]) + 1
    nxt[starts + mesh.face_sizes - 1] = starts
    a, b = mesh.verts[mesh.corner_verts], mesh.verts[mesh.corner_verts[nxt]]
    return float(np.linalg.norm(a.astype(np.float64) - b, axis=1).mean()) if a.size else 0.0


def _cut_segments(guide: MeshArrays, axis: int) -> np.ndarray:
    """(S, 2, 3) float64 boundary edges of ``guide`` lying in the plane: where the source was cut."""
    start, end = _boundary_half_edges(guide)
    on = (guide.verts[start, axis] == 0.0) & (guide.verts[end, axis] == 0.0)
    return np.stack([guide.verts[start[on]], guide.verts[end[on]]], axis=1).astype(np.float64)


def _onto_cut(points: np.ndarray, segments: np.ndarray, axis: int) -> np.ndarray:
    """Each point's nearest point on the cut segments (or its foot on the plane when there are none)."""
    out = points.astype(np.float64).copy()
    out[:, axis] = 0.0
    if segments.shape[0] == 0:
        return out
    a, ab = segments[:, 0], segments[:, 1] - segments[:, 0]
    lengths = np.maximum(np.einsum("ij,ij->i", ab, ab), 1e-300)
    t = np.clip(np.einsum("pij,ij->pi", points[:, None, :] - a[None], ab) / lengths, 0.0, 1.0)
    nearest = a[None] + t[..., None] * ab[None]
    best = np.linalg.norm(nearest - points[:, None, :], axis=2).argmin(axis=1)
    out = nearest[np.arange(points.shape[0]), best]
    out[:, axis] = 0.0
    return out


def _close_notches(
    half: MeshArrays, axes: tuple[int, ...], edge: float, guide: MeshArrays | None
) -> MeshArrays:
    """Fill the dents a rebuilt border leaves between two of its vertices on a plane.

    Instant Meshes sometimes ends a row of faces a vertex or two short of the cut: walking the border, a
    few vertices leave the plane and come back. Mirrored, that would be a hole. Each such vertex gets a twin
    on the cut (the nearest point of ``guide``'s border in the plane, so it stays on the surface) and a
    strip of faces joins the two chains, wound like their neighbours (a border edge a->b is filled by a face
    running b->a); the strip's ends are triangles.
    """
    start, end = _boundary_half_edges(half)
    if start.shape[0] == 0:
        return half
    successor = dict(zip(start.tolist(), end.tolist(), strict=False))
    verts = half.verts.astype(np.float64)
    on_plane = {axis: verts[:, axis] == 0.0 for axis in axes}
    anywhere = np.any(np.stack(list(on_plane.values())), axis=0)
    new_verts: list[np.ndarray] = []
    sizes: list[int] = []
    corners: list[int] = []
    count = half.vert_count
    for first in np.flatnonzero(anywhere[start]).tolist():
        chain = [int(start[first])]
        v = successor[chain[0]]
        while not anywhere[v] and len(chain) <= MAX_NOTCH and v in successor:
            chain.append(v)
            v = successor[v]
        if len(chain) < 2 or not anywhere[v] or len(chain) > MAX_NOTCH:
            continue
        chain.append(v)
        axis = next((a for a in axes if on_plane[a][chain[0]] and on_plane[a][v]), None)
        inner = np.asarray(chain[1:-1])
        if axis is None or np.abs(verts[inner, axis]).max() > NOTCH_DEPTH * edge:
            continue  # a real border of the source that touches the plane: not a dent
        segments = _cut_segments(guide, axis) if guide is not None else np.zeros((0, 2, 3))
        new_verts.append(_onto_cut(verts[inner], segments, axis))
        twins = [chain[0], *range(count, count + inner.shape[0]), chain[-1]]
        count += inner.shape[0]
        for i in range(len(chain) - 1):
            face = [chain[i + 1], chain[i], twins[i], twins[i + 1]]
            face = [c for j, c in enumerate(face) if c != face[j - 1]]  # the ends share a corner
            sizes.append(len(face))
            corners.extend(face)
    if not sizes:
        return half
    log.debug("closed %d border dents at the symmetry plane(s)", len(new_verts))
    return MeshArrays(
        np.vstack([verts, *new_verts]),
        np.concatenate([half.face_sizes, sizes]),
        np.concatenate([half.corner_verts, corners]),
    )


def snap_to_planes(
    half: MeshArrays, axes: tuple[int, ...], tolerance: float | None = None, guide: MeshArrays | None = None
) -> MeshArrays:
    """``half`` with its boundary vertices near each plane put exactly on it (none across it) and the dents
    of its border at the planes filled (``guide``: the clipped source, to place the filling on the cut)."""
    verts = half.verts.copy()
    edge = _mean_edge(half)
    if tolerance is None:
        tolerance = SNAP_EDGES * edge
    start, _end = _boundary_half_edges(half)
    border = np.zeros(half.vert_count, dtype=bool)
    border[start] = True
    for axis in axes:
        near = border & (verts[:, axis] <= tolerance)
        verts[near, axis] = 0.0
        # The half was clipped at the plane; round-off may still leave a vertex a hair across it.
        verts[:, axis] = np.maximum(verts[:, axis], 0.0)
    return _close_notches(MeshArrays(verts, half.face_sizes, half.corner_verts), axes, edge, guide)


def _reversed_corners(mesh: MeshArrays) -> np.ndarray:
    starts = np.repeat(mesh.face_starts, mesh.face_sizes)
    ends = starts + np.repeat(mesh.face_sizes.astype(np.int64), mesh.face_sizes) - 1
    offsets = np.arange(mesh.corner_verts.shape[0], dtype=np.int64) - starts
    return mesh.corner_verts[ends - offsets]


@dataclass(frozen=True, eq=False)
class Mirrored:
    """A mirrored mesh and, for each vertex of the half it came from, its copies (int64 (C, H): row 0 the
    vertex itself, the other rows its images; -1 where a vertex was dropped)."""

    mesh: MeshArrays
    copies: np.ndarray

    def lift(self, pairs: np.ndarray) -> np.ndarray:
        """Vertex pairs of the half as pairs of the whole, one per copy (pairs with a dropped end go)."""
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        lifted = self.copies[:, pairs].reshape(-1, 2)
        return lifted[(lifted >= 0).all(axis=1)]


def mirror_weld(half: MeshArrays, axis: int) -> Mirrored:
    """``half`` plus its mirror image across ``coordinate[axis] == 0``, welded on the plane.

    Vertices exactly on the plane are their own image and are shared by both sides. Faces lying wholly in
    the plane have no mirror side and are dropped (their image would be the same face, wound the other way).
    """
    kept = np.arange(half.vert_count, dtype=np.int64)
    on_plane = half.verts[:, axis] == 0.0
    flat = np.add.reduceat(on_plane[half.corner_verts].astype(np.int64), half.face_starts) == half.face_sizes
    if flat.any():
        trimmed = half.select_faces(~flat)
        used = np.zeros(half.vert_count, dtype=bool)
        used[trimmed.corner_verts] = True
        kept = np.where(used, np.cumsum(used) - 1, -1)
        half = trimmed.compact()
        on_plane = half.verts[:, axis] == 0.0
    count = half.vert_count
    image_of = np.arange(count, dtype=np.int64)
    off = np.flatnonzero(~on_plane)
    image_of[off] = count + np.arange(off.shape[0])
    images = half.verts[off].copy()
    images[:, axis] = -images[:, axis]
    corners = image_of[_reversed_corners(half)]
    mesh = MeshArrays(
        np.vstack([half.verts, images]),
        np.concatenate([half.face_sizes, half.face_sizes]),
        np.concatenate([half.corner_verts, corners]),
    )
    image_kept = np.where(kept >= 0, image_of[np.maximum(kept, 0)], -1)
    return Mirrored(mesh, np.stack([kept, image_kept]))


def mirror_all(part: MeshArrays, axes: tuple[int, ...]) -> Mirrored:
    """Mirror and weld ``part`` across each plane in turn (its vertices on a plane must lie exactly on it)."""
    mesh = part
    copies = np.arange(mesh.vert_count, dtype=np.int64)[None, :]
    for axis in reversed(axes):
        step = mirror_weld(mesh, axis)
        # Each copy so far gets both of its images under this plane.
        lifted = np.where(copies >= 0, step.copies[:, np.maximum(copies, 0)], -1)
        copies, mesh = lifted.reshape(-1, copies.shape[1]), step.mesh
    return Mirrored(mesh, copies)


def symmetrize(half: MeshArrays, axes: tuple[int, ...], tolerance: float | None = None) -> Mirrored:
    """Snap ``half`` onto its planes, then mirror and weld it across each (see the module docstring)."""
    return mirror_all(snap_to_planes(half, axes, tolerance), axes)


def clip_all(mesh: MeshArrays, axes: tuple[int, ...], offset: float = 0.0) -> tuple[MeshArrays, np.ndarray]:
    """``mesh`` clipped to ``coordinate >= offset`` on every axis, and each vertex's index in it (-1: cut)."""
    part, new_of = mesh, np.arange(mesh.vert_count, dtype=np.int64)
    for axis in axes:
        part, step = clip_half(part, axis, offset)
        new_of = np.where(new_of >= 0, step[np.maximum(new_of, 0)], -1)
    return part, new_of


def seam_faults(mesh: MeshArrays, axes: tuple[int, ...], *, closed: bool) -> int:
    """Edges that break a mirrored mesh (open ones: all of them when it should be ``closed``, else those at a
    plane; edges of more than two faces) plus vertices that coincide with another: 0 for a clean weld."""
    edges, counts, _corner_edge = unique_edges(mesh)
    if closed:
        open_ones = counts == 1
    else:
        on_plane = np.zeros(mesh.vert_count, dtype=bool)
        for axis in axes:
            on_plane |= mesh.verts[:, axis] == 0.0
        open_ones = (counts == 1) & on_plane[edges].any(axis=1)
    broken = int(np.count_nonzero((counts > 2) | open_ones))
    return broken + mesh.vert_count - int(np.unique(mesh.verts, axis=0).shape[0])


def border_loops(mesh: MeshArrays) -> int:
    """Connected groups of open edges (loops touching at a vertex count as one)."""
    start, end = _boundary_half_edges(mesh)
    if start.shape[0] == 0:
        return 0
    labels = components(np.stack([start, end], axis=1), mesh.vert_count)
    return int(np.unique(labels[start]).shape[0])


def mirror_error(mesh: MeshArrays, axis: int) -> float:
    """Largest distance from a vertex's mirror image to the nearest vertex (0.0 for a mirror-exact mesh)."""
    verts = mesh.verts.astype(np.float64)
    images = verts.copy()
    images[:, axis] = -images[:, axis]
    rows = np.ascontiguousarray(verts).view([("", np.float64)] * 3).ravel()
    image_rows = np.ascontiguousarray(images).view([("", np.float64)] * 3).ravel()
    missing = images[~np.isin(image_rows, rows)]
    worst = 0.0
    # Only the images without an exact twin need a search: a brute-force one, in chunks.
    for chunk in np.array_split(missing, max(1, missing.shape[0] // 256)):
        if chunk.shape[0]:
            gaps = np.linalg.norm(chunk[:, None, :] - verts[None, :, :], axis=2).min(axis=1)
            worst = max(worst, float(gaps.max()))
    return worst


def clip(source: MeshArrays, axes: tuple[int, ...]) -> tuple[MeshArrays, np.ndarray]:
    """``source`` clipped to the + side of every plane, and each source vertex's index in it (-1: cut)."""
    part, new_of = clip_all(source, axes)
    if part.face_count == 0:
        names = ", ".join(AXES[a].upper() for a in axes)
        raise EngineInputError(
            f"nothing of the mesh lies on the + side of its local {names} plane: "
            "turn that symmetry off or move the object's origin"
        )
    return part, new_of


def share(target: int, axes: tuple[int, ...]) -> int:
    """The face budget of the part that is built: the whole target split among the mirror copies."""
    return max(1, round(target / 2 ** len(axes)))


@dataclass(frozen=True, eq=False)
class Level:
    """One built level: the whole mesh, its hard edges (whole-mesh vertex pairs) and its figures."""

    mesh: MeshArrays
    sharp_edges: np.ndarray
    info: dict


PartBuild = Callable[[MeshArrays, int, "np.ndarray | None"], tuple[MeshArrays, np.ndarray, dict]]


def _marked_on(new_of: np.ndarray, marked: np.ndarray | None) -> np.ndarray | None:
    if marked is None:
        return None
    pairs = new_of[np.asarray(marked, dtype=np.int64).reshape(-1, 2)]
    return pairs[(pairs >= 0).all(axis=1)]


def _area(mesh: MeshArrays) -> float:
    return float(triangle_areas(mesh.verts, mesh.triangles()).sum(dtype=np.float64))


def build_level(
    source: MeshArrays, axes: tuple[int, ...], target: int, build: PartBuild, marked: np.ndarray | None = None
) -> Level:
    """A whole, mirror-exact level from ``build(part, face budget, marked edges of the part)`` -> (mesh,
    sharp pairs, info) run on the + side of ``source``.

    First the cut part is built and its border, which Instant Meshes aligns to the cut, is put on the planes
    (``snap_to_planes``): that gives a clean edge loop along each plane. When the weld still leaves a fault
    there (``seam_faults``: the aligned border strayed too far, or two border vertices met), the part is
    built again with a margin across each plane and its result cut exactly at the planes (``clip_half``),
    which always welds closed, at the cost of a less regular row of faces along the seam.
    """
    part, new_of = clip(source, axes)
    closed = not seam_faults(mirror_all(part, axes).mesh, axes, closed=True)
    budget = share(target, axes)
    loops = border_loops(part)
    built, sharp, info = build(part, budget, _marked_on(new_of, marked))
    whole = mirror_all(snap_to_planes(built, axes, guide=part), axes)
    # A coarse part may come back with a cut end capped (Instant Meshes fills small holes): a fault too.
    faults = seam_faults(whole.mesh, axes, closed=closed) + abs(border_loops(built) - loops)
    info = {**info, "symmetry": "".join(AXES[a] for a in axes), "symmetry_seam": "aligned"}
    if faults:
        margin = MARGIN_EDGES * math.sqrt(_area(part) / budget)
        wide, wide_of = clip_all(source, axes, -margin)
        wide_budget = max(budget, round(budget * _area(wide) / max(_area(part), 1e-300)))
        built, wide_sharp, wide_info = build(wide, wide_budget, _marked_on(wide_of, marked))
        cut, cut_of = clip_all(built, axes)
        pairs = cut_of[wide_sharp.astype(np.int64).reshape(-1, 2)]
        second = mirror_all(cut, axes)
        second_faults = seam_faults(second.mesh, axes, closed=closed) + abs(border_loops(cut) - loops)
        log.debug("aligned seam left %d faults; the cut seam %d", faults, second_faults)
        if second_faults < faults:
            whole, sharp, info = second, pairs[(pairs >= 0).all(axis=1)], {**info, **wide_info}
            info["symmetry_seam"] = "cut"
    # The part's build left its small holes open, with the cut: those away from the seam are closed now.
    return Level(fill_small_holes(whole.mesh), whole.lift(sharp).astype(np.int32), info)


def symmetric_lod(reduced: MeshArrays, axes: tuple[int, ...]) -> MeshArrays:
    """A mirror-exact triangle LoD from ``reduced``, a decimation of a symmetric level: cut at the planes,
    mirrored back and triangulated. Where that would break the mesh (the decimation laid an edge in a plane
    between two faces on one side of it), ``reduced`` is returned as it is: whole beats symmetric."""
    cut, _ = clip_all(reduced, axes)
    mirrored = mirror_all(cut, axes).mesh
    closed = not seam_faults(reduced, axes, closed=True)
    if seam_faults(mirrored, axes, closed=closed):
        log.warning("a LoD could not be made symmetric without breaking it; it is kept as decimated")
        return reduced
    return MeshArrays.from_triangles(mirrored.verts, mirrored.triangles())
