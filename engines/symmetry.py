# SPDX-License-Identifier: GPL-3.0-or-later
"""Mirror symmetry on the object's local X, Y and/or Z planes: build the + side, mirror it, weld the seam.

Contract: ``axes_of(text)`` turns an option value ("", "x", "xz", ... "xyz") into axis numbers (0 = X).
``build_level(source, axes, target, build)`` cuts ``source`` to its + side of every plane (a half, quarter or
eighth, ``planes.clip_half``), has ``build`` remesh or decimate that part to its share of ``target`` faces,
and mirrors the result back into a whole (``planes.mirror_all``): mirror-exact (every vertex's image is a
vertex, to the last bit; vertices on a plane lie exactly on it) and, from a closed source, closed with no
duplicate vertex on the seam. ``symmetric_lod(reduced, axes)`` makes a decimated LoD of such a level
mirror-exact again. The planes are the snapshot's coordinate planes, i.e. the object's local axes through
its origin (the snapshot is in object space). The + side is kept, so an asymmetric scan gives a symmetric
result that follows its + side. Imports numpy and the engine's own modules only; never touches bpy and runs
in the engine child process.

Seam, measured on spheres and tori from 500 to 8,000 faces (tests/unit/test_engine_symmetry.py): Instant
Meshes aligns the part's border to the cut, so snapping that border onto the plane gives a clean edge loop
along it most of the time; where the border strays (dents up to two faces deep, a capped cut on a coarse
part), the part is built again with a margin and cut exactly at the plane (see ``build_level``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .errors import EngineInputError
from .holes import boundary_half_edges, fill_small_holes
from .meshdata import MeshArrays, triangle_areas
from .meshgraph import face_edges, mean_edge, same_place
from .openings import real_borders
from .planes import Mirrored, border_loops, clip_all, mirror_all, pieces, seam_faults
from .quality import topology
from .retries import MAX_HANDLES_CHASED

log = logging.getLogger(__name__)

AXES = "xyz"
# A boundary vertex of the rebuilt half closer to a plane than this share of the half's mean edge length was
# meant to lie on it (Instant Meshes aligns its border to the cut but leaves it a little off the plane).
SNAP_EDGES = 0.5
# A dent of the rebuilt border at a plane (see _close_notches) has at most this many vertices off the plane,
# none deeper than this many mean edge lengths; anything larger is a boundary of the source itself.
MAX_NOTCH = 24
NOTCH_DEPTH = 3.0
# When the aligned seam fails, the part is rebuilt this many face widths beyond each plane before it is cut
# there: Instant Meshes' border strays up to about two face widths from where it should be.
MARGIN_EDGES = 4.0
# A mesh wholly on the + side of a plane and further from it than this share of its bounding-box diagonal
# is refused: its mirror image would not touch it (a half modelled against the plane starts on it).
PLANE_GAP = 0.01
# A vertex of a mirrored level this close (share of the part's diagonal) to the source's own border is on it:
# it was snapped there (remesh ``keep_boundaries``), so only round-off separates them.
ON_OWN_BORDER = 1e-6
# Where the source's own border crosses a plane, the result's vertex there is put on the plane, up to this
# many mean edge lengths from that border (measured: 0.02-0.08 on a sheet): its open edges are no fault, and
# a small loop through it is the source's hole, not one to fill.
CROSSING_EDGES = 0.25
# Seeds tried for each seam before the best result is kept (each try costs one or two builds).
SEAM_ATTEMPTS = 2


def axes_of(text: str) -> tuple[int, ...]:
    """Axis numbers (0 = X) of an option value: letters of "xyz", each at most once, in that order."""
    value = str(text).lower()
    axes = tuple(AXES.index(letter) for letter in value if letter in AXES)
    if len(axes) != len(value) or list(axes) != sorted(set(axes)):
        raise EngineInputError(f"symmetry must be empty or x, y, z, xy, xz, yz or xyz; got {text!r}")
    return axes


def _cut_segments(guide: MeshArrays, axis: int) -> np.ndarray:
    """(S, 2, 3) float64 boundary edges of ``guide`` lying in the plane: where the source was cut."""
    start, end = boundary_half_edges(guide)
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
    half: MeshArrays,
    axes: tuple[int, ...],
    edge: float,
    guide: MeshArrays | None,
    own: np.ndarray | None = None,
) -> MeshArrays:
    """Fill the dents a rebuilt border leaves between two of its vertices on a plane.

    Instant Meshes sometimes ends a row of faces a vertex or two short of the cut: walking the border, a
    few vertices leave the plane and come back. Mirrored, that would be a hole. Each such vertex gets a twin
    on the cut (the nearest point of ``guide``'s border in the plane, so it stays on the surface) and a
    strip of faces joins the two chains, wound like their neighbours (a border edge a->b is filled by a face
    running b->a); the strip's ends are triangles.
    """
    start, end = boundary_half_edges(half)
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
        if own is not None and own[inner].all():
            continue  # half a hole of the source across the plane: the mirror makes it whole
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
    half: MeshArrays,
    axes: tuple[int, ...],
    tolerance: float | None = None,
    guide: MeshArrays | None = None,
    own: np.ndarray | None = None,
) -> tuple[MeshArrays, np.ndarray]:
    """``half`` with its boundary vertices near each plane put exactly on it (none across it) and the dents
    of its border at the planes filled (``guide``: the clipped source, to place the filling on the cut),
    and each old vertex's number in it (vertices the snap put on one point are one: ``_merged_where_met``)."""
    verts = half.verts.copy()
    edge = mean_edge(half)
    if tolerance is None:
        tolerance = SNAP_EDGES * edge
    start, _end = boundary_half_edges(half)
    border = np.zeros(half.vert_count, dtype=bool)
    border[start] = True
    for axis in axes:
        near = border & (verts[:, axis] <= tolerance)
        verts[near, axis] = 0.0
        # The half was clipped at the plane; round-off may still leave a vertex a hair across it.
        verts[:, axis] = np.maximum(verts[:, axis], 0.0)
    notched = _close_notches(MeshArrays(verts, half.face_sizes, half.corner_verts), axes, edge, guide, own)
    on_plane = (notched.verts[:, list(axes)] == 0.0).any(axis=1)
    merged, renumber = _merged_where_met(notched, on_plane)
    return merged, renumber[: half.vert_count]


def _merged_where_met(mesh: MeshArrays, moved: np.ndarray) -> tuple[MeshArrays, np.ndarray]:
    """``mesh`` with the ``moved`` vertices that lie on one point made one vertex, and each old vertex's new
    number (-1: gone). A face drops a corner it then repeats (a quad becomes a triangle) and one left with
    fewer than three goes. Two border vertices a little off a plane, one behind the other, snap to the same
    point of it, and a dent's new vertex on the cut can land on an old one: left apart, they make an edge of
    no length, a face that shades and unwraps badly (pymeshlab's cow with X symmetry)."""
    identity = np.arange(mesh.vert_count)
    picked = np.flatnonzero(moved)
    first, joined = same_place(mesh.verts[picked])
    if first.shape[0] == picked.shape[0]:
        return mesh, identity
    target = identity.copy()
    target[picked] = picked[first[joined]]
    corners, following = face_edges(MeshArrays(mesh.verts, mesh.face_sizes, target[mesh.corner_verts]))
    keep = corners != following
    face = np.repeat(np.arange(mesh.face_count), mesh.face_sizes)
    new_sizes = np.bincount(face[keep], minlength=mesh.face_count)
    keep &= (new_sizes >= 3)[face]
    used = np.zeros(mesh.vert_count, dtype=bool)
    used[corners[keep]] = True
    renumber = np.where(used, np.cumsum(used) - 1, -1)
    merged = MeshArrays(mesh.verts[used], new_sizes[new_sizes >= 3], renumber[corners[keep]])
    return merged, renumber[target]


def symmetrize(half: MeshArrays, axes: tuple[int, ...], tolerance: float | None = None) -> Mirrored:
    """Snap ``half`` onto its planes, then mirror and weld it across each (see the module docstring)."""
    return mirror_all(snap_to_planes(half, axes, tolerance)[0], axes)


def clip(source: MeshArrays, axes: tuple[int, ...]) -> tuple[MeshArrays, np.ndarray]:
    """``source`` clipped to the + side of every plane, and each source vertex's index in it (-1: cut)."""
    points = np.asarray(source.verts, dtype=np.float64)
    lowest = points.min(axis=0)
    diagonal = float(np.linalg.norm(points.max(axis=0) - lowest)) or 1.0
    for axis in axes:
        if lowest[axis] > PLANE_GAP * diagonal:
            # All of it on the + side, clear of the plane: the mirror would add a second, separate copy.
            raise EngineInputError(
                f"the mesh does not reach its local {AXES[axis].upper()} plane (it starts {lowest[axis]:.4g} "
                "units from it), so the mirror would make a separate copy: set the object's origin on the "
                "mirror plane or turn that symmetry off"
            )
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


PartBuild = Callable[[MeshArrays, int, "np.ndarray | None", int], tuple[MeshArrays, np.ndarray, dict]]


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
    """A whole, mirror-exact level from ``build(part, face budget, marked edges of the part, attempt)`` ->
    (mesh, sharp pairs, info) run on the + side of ``source`` (``attempt`` 0, 1 ...: change the seed).

    First the cut part is built and its border, which Instant Meshes aligns to the cut, is put on the planes
    (``snap_to_planes``): that gives a clean edge loop along each plane. When the whole still has a fault
    (``seam_faults``: the aligned border strayed too far, two border vertices met, a cut end came back capped,
    the extraction left a hole or a loose island), the part is built again with a margin across each plane
    and its result cut exactly at the planes (``clip_half``), at the cost of a less regular row of faces
    along the seam; when both fail, both are tried once more with another seed, and the one with the fewest
    faults is kept.
    """
    part, new_of = clip(source, axes)
    mirrored_source = mirror_all(part, axes).mesh
    closed = not seam_faults(mirrored_source, axes, closed=True)
    source_pieces = pieces(mirrored_source)
    # A handle more than the mirrored source has (no non-manifold edge) is a fault too: two of the cut's loops
    # joined across the plane (pymeshlab's airplane at 900 quads, X symmetry, on the first seed). A genus
    # below it (a limb hanging by one vertex) is not chased: four builds of the cow at 1,500 quads all had
    # it (0.8 s -> 4.6 s for nothing).
    shape = topology(mirrored_source)
    held_genus = None if shape["nonmanifold_edges"] else shape["genus"]

    def handles_added(mesh: MeshArrays) -> int:
        added = 0 if held_genus is None else topology(mesh)["genus"] - held_genus
        return added if 0 < added <= MAX_HANDLES_CHASED else 0

    budget = share(target, axes)
    if budget >= part.face_count:
        # Said in the whole's terms: the user set the whole's target, not the half's.
        raise EngineInputError(
            f"with symmetry on, the part that is built has {part.face_count:,} faces, too few for "
            f"{target:,} in all: set the target face count below {(part.face_count - 1) * 2 ** len(axes):,} "
            "or turn symmetry off"
        )
    loops = border_loops(part)
    own = real_borders(part.verts, part.triangles(), (part.verts, axes))
    reach = ON_OWN_BORDER * float(np.linalg.norm(np.ptp(part.verts, axis=0)))

    def own_border(mesh: MeshArrays, within: float = reach) -> np.ndarray | None:
        """Vertices of a mirrored level whose + side image lies ``within`` of the source's own border (not
        the cut)."""
        if own is None:
            return None
        folded = np.asarray(mesh.verts, dtype=np.float64).copy()
        folded[:, list(axes)] = np.abs(folded[:, list(axes)])
        return own[0].index.query(folded, within=within)[1] <= within

    def aligned(attempt: int) -> tuple:
        built, sharp, info = build(part, budget, _marked_on(new_of, marked), attempt)
        snapped, renumber = snap_to_planes(built, axes, guide=part, own=own_border(built))
        pairs = renumber[sharp.astype(np.int64).reshape(-1, 2)]
        sharp = pairs[(pairs >= 0).all(axis=1) & (pairs[:, 0] != pairs[:, 1])]
        whole = mirror_all(snapped, axes)
        # A coarse part may come back with a cut end capped (Instant Meshes fills small holes): a fault too.
        return whole, sharp, info, abs(border_loops(built) - loops)

    def cut(attempt: int) -> tuple:
        margin = MARGIN_EDGES * math.sqrt(_area(part) / budget)
        wide, wide_of = clip_all(source, axes, -margin)
        wide_budget = max(budget, round(budget * _area(wide) / max(_area(part), 1e-300)))
        built, sharp, info = build(wide, wide_budget, _marked_on(wide_of, marked), attempt)
        inside, inside_of = clip_all(built, axes)
        pairs = inside_of[sharp.astype(np.int64).reshape(-1, 2)]
        return (
            mirror_all(inside, axes),
            pairs[(pairs >= 0).all(axis=1)],
            info,
            abs(border_loops(inside) - loops),
        )

    best = None
    for attempt in range(SEAM_ATTEMPTS):
        for seam, make in (("aligned", aligned), ("cut", cut)):
            whole, sharp, info, capped = make(attempt)
            # The part's build left its small holes open, with the cut: those away from the seam close now,
            # but for the source's own (a hole across a plane has its two ends on the plane, up to a
            # quarter edge from the source's border: CROSSING_EDGES).
            # Filling adds faces, not vertices: one mask serves the fill and the fault count.
            near_own = own_border(whole.mesh, CROSSING_EDGES * mean_edge(whole.mesh))
            mesh = fill_small_holes(whole.mesh, keep=near_own)
            faults = seam_faults(mesh, axes, closed=closed, borders=near_own)
            faults += capped + abs(pieces(mesh) - source_pieces) + handles_added(mesh)
            log.debug("%s seam, attempt %d: %d faults", seam, attempt, faults)
            if best is None or faults < best[0]:
                best = (faults, Mirrored(mesh, whole.copies), sharp, {**info, "symmetry_seam": seam})
            if not faults:
                break
        if not best[0]:
            break
    faults, whole, sharp, info = best
    info["symmetry"] = "".join(AXES[a] for a in axes)
    lifted = whole.lift(sharp).astype(np.int32)
    if "sharp_edges" in info:
        info["sharp_edges"] = int(lifted.shape[0])  # the whole's, no longer the part's
    if faults:
        log.warning("the symmetric result has %d faults at its seam or holes", faults)
    return Level(whole.mesh, lifted, info)


def symmetric_lod(reduced: MeshArrays, axes: tuple[int, ...]) -> MeshArrays:
    """A mirror-exact triangle LoD from ``reduced``, a decimation of a symmetric level: cut at the planes,
    mirrored back and triangulated. It is kept unless it is more broken than ``reduced`` on both sides
    together (the decimation laid an edge in a plane between two faces on one side of it): then
    ``reduced`` is returned as it is, whole beating symmetric."""
    cut, _ = clip_all(reduced, axes)
    mirrored = mirror_all(cut, axes).mesh
    before = seam_faults(reduced, axes, closed=True)
    after = seam_faults(mirrored, axes, closed=True)
    if after > 2 * before:  # a fault the decimation left on one side comes back mirrored: twice
        log.warning("a LoD could not be made symmetric without breaking it; it is kept as decimated")
        return reduced
    return MeshArrays.from_triangles(mirrored.verts, mirrored.triangles())
