# SPDX-License-Identifier: GPL-3.0-or-later
"""UVs for LOD0: an unwrap made for the result mesh with xatlas, seams on hard edges and material borders.

Contract: ``unwrap(mesh, hard_edges, face_materials)`` returns a ``UvLayout``: ``corner_uvs`` float32 (C, 2),
one UV per face corner in Blender's loop layout, inside the unit square, and ``stats`` (``uvstats``
figures plus ``seconds`` and ``unwrapper``). How:

- Seams. Corners around a vertex are split into wedges wherever an edge is hard (``hard_edges`` vertex
  pairs) or the faces on its two sides have different ``face_materials``; xatlas gets one vertex per wedge
  with the wedge's own normal, and ``normal_seam_weight`` above 1000 makes it respect every such normal
  seam (xatlas.h). Faces of each material go in as a mesh of their own, since xatlas joins split
  vertices whose normals agree (a material border on a flat side). Elsewhere xatlas makes few seams of
  its own (charts grown by flatness, and no larger than 1/``CHART_SHARE`` of the surface).
- Isolation and size. xatlas runs in a process of its own (``isolated``): it has crashed on some meshes,
  which then cost a second attempt on a copy moved by a hair, and at worst the UVs (``UvCrashedError``, one
  line for the user), never the job. A LOD0 of more than ``MAX_TRIANGLES`` triangles is not unwrapped
  (``UvTooLargeError``): the time grows fast with size.
- Polygons. xatlas takes triangles, so quads go in split as ``MeshArrays.triangles`` splits them. Where
  xatlas cuts a chart through a quad (about 6% of the quads of a remeshed torus), each such quad is given
  to the chart of its larger triangle by cutting along the quad's own edges and the mesh is unwrapped
  again (``CHART_PASSES``); a quad still cut after that becomes an island of its own, laid flat at the
  same texel density, and ``split_faces`` counts those.
- Chart size. No chart is larger than 1/``CHART_SHARE`` of the surface: left to itself xatlas made a
  sphere ~8 round islands that packed into 0.45-0.5 of the square. On the bench's remeshed bunny, cow,
  sphere and part, 1/8 filled 0.62-0.77 of the square against 0.59-0.71 at 1/16 and 0.59-0.67 at 1/24.
- Packing. Once the quads are mended, the islands are packed again (``add_uv_mesh``) by xatlas, the best
  of ``PACK_TRIES`` layouts at about ``PACK_RESOLUTION`` texels with the padding scaled so it is
  ``padding`` texels at ``bake_size`` (4 at 2048 by default), then scaled by the atlas's longer side so
  texels stay square, and the tightest one without overlapping texels kept; ``stats["utilization"]`` is
  measured on the result. The 0.6 goal is met on
  hard-surface meshes (a remeshed crate: 0.65) but not always on smooth ones (a sphere 0.59, a bumpy torus
  0.56): xatlas's packer is the limit there (bench/UV.md).

xatlas is a bundled wheel imported lazily: ``XatlasMissingError`` (an ImportError) says, in one line, that it
could not load, and the caller decides (the engine child leaves LOD0 without UVs and warns). Imports numpy
and the engine's own modules only; never touches bpy and runs in the engine child process.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import isolated, uvmend, uvmirror
from .meshdata import MeshArrays
from .meshgraph import components
from .uvstats import (
    corner_triangles,
    half_edges,
    layout_stats,
    overlap_fraction,
    surface_areas,
    triangle_face,
)

log = logging.getLogger(__name__)

UNWRAPPER = "xatlas"
BAKE_SIZE = 2048
PADDING = 4  # texels at BAKE_SIZE: enough for the first mip levels not to bleed across islands
# Size of the atlas xatlas packs in when left to estimate its texels per unit (about 1024 texels a side);
# the padding is scaled to match. Packing at 2048 takes longer for the same layout (a 29K-triangle torus:
# 95 s against 9 s with brute force).
PACK_RESOLUTION = 1024
# xatlas.h: "If > 1000, normal seams are fully respected."
RESPECT_SEAMS = 2000.0
# Packings tried, (scale of the texels per unit, brute force); the first sets the scale. Measured on a
# remeshed sphere and torus, the best of these filled 0.57-0.65 of the square, one brute-force pack 0.45-0.58.
# Brute force in 1.5% steps to +-15% beat 4% steps with and without it on the bunny (0.63 against 0.60) and
# the sphere, tied on the part and lost 0.006 on the cow, in about the same time.
PACK_TRIES = ((1.0, True), *((1.0 + 0.015 * k, True) for k in range(-10, 11) if k))
# Largest chart, as a share of the surface (see unwrap).
CHART_SHARE = 8
# Largest LOD0 unwrapped, in triangles (a quad counts two). xatlas 0.0.11 has crashed the process
# (segmentation fault, in its chart packing) on exact icospheres of 82K triangles and on a 100K-quad LOD0,
# while a 160K-triangle torus and a 60K-triangle remeshed icosphere unwrap; so the unwrap runs in a process
# of its own (``isolated``) and is tried again on a copy moved by a hair (``JITTERS``). The cap bounds the
# time: a 100K-triangle LOD0 takes about 100 s on 2 cores, 60K about 25 s.
MAX_TRIANGLES = 120_000
# Largest move of a vertex per attempt, as a share of the bounding-box diagonal: 1e-5 is below what a
# texel of a 8K map shows, and it took xatlas past the icosphere it crashed on.
JITTERS = (0.0, 1e-5)
# Unwraps at most: a quad xatlas cut through is cut along its edges instead and the mesh unwrapped again.
CHART_PASSES = 3


class XatlasMissingError(ImportError):
    """The bundled xatlas wheel could not load on this platform."""


class UvTooLargeError(ValueError):
    """LOD0 has more triangles than the unwrapper handles (``MAX_TRIANGLES``)."""


class UvCrashedError(RuntimeError):
    """xatlas crashed on every attempt (``JITTERS``)."""


@dataclass(frozen=True, eq=False)
class UvLayout:
    corner_uvs: np.ndarray
    stats: dict[str, Any] = field(default_factory=dict)


def load_xatlas():
    try:
        import xatlas
    except ImportError as exc:
        raise XatlasMissingError(f"the xatlas library could not load ({exc}); reinstall the add-on") from exc
    return xatlas


def wedges(mesh: MeshArrays, hard_edges: np.ndarray | None, face_materials: np.ndarray | None) -> np.ndarray:
    """Wedge label per corner, int64 (C,): corners of one vertex joined across edges that are not cut."""
    h = half_edges(mesh)
    a, nxt, face, key, first, second = h.a, h.nxt, h.face, h.key, h.first, h.second
    count, n = a.shape[0], max(mesh.vert_count, 1)
    # Only manifold edges join wedges: an edge with three or more faces is cut.
    _, edge_of, faces_per_edge = np.unique(key, return_inverse=True, return_counts=True)
    keep = faces_per_edge[edge_of.ravel()[first]] == 2
    if hard_edges is not None and len(hard_edges):
        pairs = np.asarray(hard_edges, dtype=np.int64).reshape(-1, 2)
        keep &= ~np.isin(key[first], pairs.min(axis=1) * n + pairs.max(axis=1))
    if face_materials is not None and len(face_materials) == mesh.face_count:
        fm = np.asarray(face_materials)
        keep &= fm[face[first]] == fm[face[second]]
    first, second = first[keep], second[keep]
    forward = a[first] == a[second]
    # Corner ``first`` sits at vertex a[first], its next corner at b[first]; pair each with the other face's
    # corner at the same vertex.
    at_a = np.where(forward, second, nxt[second])
    at_b = np.where(forward, nxt[second], second)
    pairs = np.concatenate([np.stack([first, at_a], axis=1), np.stack([nxt[first], at_b], axis=1)])
    return np.unique(components(pairs, count), return_inverse=True)[1].ravel()


def _wedge_normals(mesh: MeshArrays, wedge: np.ndarray, tris: np.ndarray) -> np.ndarray:
    points = mesh.verts[mesh.corner_verts].astype(np.float64)
    cross = np.cross(points[tris[:, 1]] - points[tris[:, 0]], points[tris[:, 2]] - points[tris[:, 0]])
    normals = np.zeros((int(wedge.max()) + 1, 3))
    for k in range(3):
        np.add.at(normals, wedge[tris[:, k]], cross)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return (normals / np.where(length > 0, length, 1.0)).astype(np.float32)


def unwrap(
    mesh: MeshArrays,
    hard_edges: np.ndarray | None = None,
    face_materials: np.ndarray | None = None,
    *,
    bake_size: int = BAKE_SIZE,
    padding: int = PADDING,
    cancelled: Callable[[], bool] | None = None,
) -> UvLayout:
    """See the module docstring."""
    triangles = int((mesh.face_sizes.astype(np.int64) - 2).sum())
    if triangles > MAX_TRIANGLES:
        raise UvTooLargeError(
            f"its {triangles:,} triangles are above the {MAX_TRIANGLES:,} the unwrapper handles; "
            f"lower the face count to {MAX_TRIANGLES // 2:,} quads or fewer"
        )
    load_xatlas()  # its absence is said here, in one line, rather than as a crash of the process below
    arrays = {"verts": mesh.verts, "face_sizes": mesh.face_sizes, "corner_verts": mesh.corner_verts}
    arrays |= {"bake_size": np.asarray(bake_size), "padding": np.asarray(padding)}
    if hard_edges is not None:
        arrays["hard_edges"] = np.asarray(hard_edges, dtype=np.int64).reshape(-1, 2)
    if face_materials is not None:
        arrays["face_materials"] = np.asarray(face_materials, dtype=np.int64)
    scale = float(np.linalg.norm(mesh.verts.max(axis=0) - mesh.verts.min(axis=0))) if triangles else 1.0
    for attempt, jitter in enumerate(JITTERS):
        try:
            answer = isolated.call("uv", "unwrap_arrays", {**arrays, "jitter": np.asarray(jitter * scale)},
                                   cancelled)  # fmt: skip
        except isolated.CrashedError as exc:
            log.warning("xatlas crashed (attempt %d of %d): %s", attempt + 1, len(JITTERS), exc)
            continue
        return UvLayout(answer["corner_uvs"], json.loads(str(answer["stats"])))
    raise UvCrashedError("the unwrapper (xatlas) crashed on this mesh; try another face count")


def unwrap_arrays(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``unwrap`` of plain arrays, in the isolated process (``isolated.call``): moves each vertex by up to
    ``jitter`` first (seeded), which steers xatlas around the exact symmetries it has crashed on."""
    verts = arrays["verts"].astype(np.float64)
    jitter = float(arrays["jitter"])
    if jitter:
        verts = verts + np.random.default_rng(0).uniform(-jitter, jitter, verts.shape)
    mesh = MeshArrays(verts, arrays["face_sizes"], arrays["corner_verts"])
    layout = unwrap_here(
        mesh,
        arrays.get("hard_edges"),
        arrays.get("face_materials"),
        bake_size=int(arrays["bake_size"]),
        padding=int(arrays["padding"]),
    )
    return {"corner_uvs": layout.corner_uvs, "stats": np.asarray(json.dumps(layout.stats))}


def unwrap_here(
    mesh: MeshArrays,
    hard_edges: np.ndarray | None = None,
    face_materials: np.ndarray | None = None,
    *,
    bake_size: int = BAKE_SIZE,
    padding: int = PADDING,
) -> UvLayout:
    """``unwrap`` in this process (a crash in xatlas takes the process with it)."""
    tris = corner_triangles(mesh)
    xatlas = load_xatlas()
    started = time.perf_counter()
    charts = xatlas.ChartOptions()
    charts.normal_seam_weight = RESPECT_SEAMS
    surface = float(surface_areas(mesh.verts[mesh.corner_verts], tris).sum())
    charts.max_chart_area = surface / CHART_SHARE
    groups = None if face_materials is None else np.asarray(face_materials, dtype=np.int64)
    for attempt in range(CHART_PASSES):
        wedge = wedges(mesh, hard_edges, groups)
        points = np.zeros((int(wedge.max()) + 1, 3), dtype=np.float32)
        points[wedge] = mesh.verts[mesh.corner_verts]
        normals = _wedge_normals(mesh, wedge, tris)
        # Each group (material, or chart of the pass before) is a mesh of its own: no chart crosses meshes,
        # whereas a seam between faces of the same normal is not one xatlas keeps.
        tri_group = np.zeros(tris.shape[0], dtype=np.int64) if groups is None else groups[triangle_face(mesh)]
        members = [np.flatnonzero(tri_group == g) for g in np.unique(tri_group)]
        atlas = xatlas.Atlas()
        for chosen in members:
            used, local = np.unique(wedge[tris[chosen]], return_inverse=True)
            atlas.add_mesh(points[used], local.reshape(-1, 3).astype(np.uint32), normals[used])
        # A quick pack: only the charts count here; the final pack below places them.
        atlas.generate(chart_options=charts, pack_options=_pack_options(xatlas, padding, bake_size, False))
        tri_uvs = np.zeros((tris.shape[0], 3, 2))
        for index, chosen in enumerate(members):
            tri_uvs[chosen] = _atlas_uvs(atlas, index)
        chart_of_face, split_faces = uvmend.face_charts(mesh, tris, tri_uvs)
        if split_faces == 0 or attempt == CHART_PASSES - 1:
            break
        # Cut along the quads' own edges where xatlas cut through them, and unwrap again.
        groups = chart_of_face if groups is None else groups * (int(chart_of_face.max()) + 1) + chart_of_face
    corner_uvs, split = uvmend.corner_uvs(mesh, tris, tri_uvs)
    corner_uvs = _pack(xatlas, mesh, corner_uvs, tris, padding, bake_size)
    stats = layout_stats(mesh, corner_uvs, hard_edges)
    stats.update({
        "split_faces": split,
        "unwrapper": UNWRAPPER,
        "seconds": round(time.perf_counter() - started, 3),
    })  # fmt: skip
    log.info("UVs: %s", stats)
    return UvLayout(corner_uvs.astype(np.float32), stats)


def _pack_options(xatlas, padding: int, bake_size: int, brute_force: bool):
    pack = xatlas.PackOptions()
    pack.bruteForce = brute_force
    # Left at 0, xatlas sizes the atlas near PACK_RESOLUTION; the padding is scaled to the bake size.
    pack.padding = max(1, round(padding * PACK_RESOLUTION / bake_size))
    pack.bilinear = False  # the padding above already keeps bilinear taps inside each island
    return pack


def _atlas_uvs(atlas, index: int = 0) -> np.ndarray:
    """UVs per triangle corner (T, 3, 2) of the atlas's mesh ``index``, texels square, in the unit square."""
    _, indices, uvs = atlas[index]
    # The binding divides by width and height separately; one scale keeps texels square.
    width, height = float(atlas.width), float(atlas.height)
    uvs = uvs.astype(np.float64) * np.array([width, height]) / max(width, height, 1.0)
    return uvs[np.asarray(indices, dtype=np.int64)]  # xatlas keeps the triangle order


def _pack(
    xatlas, mesh: MeshArrays, corner_uvs: np.ndarray, tris: np.ndarray, padding: int, bake_size: int
) -> np.ndarray:
    """Corner UVs with their islands (UV-connected triangles) packed again by xatlas: of the
    ``PACK_TRIES`` layouts, the one that fills most of the square (xatlas sizes its atlas to the charts,
    not to a square, and a slightly different scale often packs much tighter) among those without
    overlapping texels; xatlas's packer has been seen to overlap two islands by ~100 texels at 1024 on a
    hard-surface part (bench/UV.md), so each layout is checked, best first."""
    keys, point = np.unique(np.round(corner_uvs, 9), axis=0, return_inverse=True)
    keys = keys.astype(np.float32)
    indices = point.ravel()[tris].astype(np.uint32)
    layouts: list[tuple[float, int, np.ndarray]] = []
    texels = None
    for scale, brute_force in PACK_TRIES:
        atlas = xatlas.Atlas()
        atlas.add_uv_mesh(keys, indices)
        options = _pack_options(xatlas, padding, bake_size, brute_force)
        options.blockAlign = True  # about 30x faster with brute force, and as tight on the bench meshes
        if texels is not None:
            options.texels_per_unit = texels * scale
        atlas.generate(pack_options=options)
        texels = texels if texels is not None else float(atlas.texels_per_unit)
        if atlas.atlas_count != 1:
            continue
        side = max(atlas.width, atlas.height, 1)
        fill = float(atlas.utilization) * atlas.width * atlas.height / side**2
        layouts.append((fill, len(layouts), _atlas_uvs(atlas)))
    if (
        not layouts
    ):  # every packing spilled into several atlases: keep the first pass's, scaled into the square
        lo = corner_uvs.min(axis=0)
        return (corner_uvs - lo) / max(float((corner_uvs - lo).max()), 1e-30)
    layouts.sort(key=lambda item: (-item[0], item[1]))
    first = None
    for _, _, tri_uvs in layouts:
        packed = np.zeros_like(corner_uvs)
        packed[tris.ravel()] = tri_uvs.reshape(-1, 2)
        first = packed if first is None else first
        if overlap_fraction(mesh, packed) == 0.0:
            return packed
    return first


def lod0_uv_arrays(
    mesh: MeshArrays, attributes: dict[str, np.ndarray], mirror_axes: tuple[int, ...] = ()
) -> tuple[dict[str, np.ndarray], dict[str, Any] | None, str | None]:
    """(result-file arrays, stats, warning) of LOD0's UVs for the engine child: ``lod0_uvs`` float32 (C, 2)
    and ``lod0_uv_stats`` (the stats as JSON text), with seams on the ``lod0_hard_edges`` and material
    borders of ``attributes`` (``transfer.transfer_results``). With ``mirror_axes`` the + side is unwrapped
    and mirrored faces share its UVs (``uvmirror``). Without xatlas: no arrays and a warning."""
    hard, materials = attributes.get("lod0_hard_edges"), attributes.get("lod0_face_materials")
    images = uvmirror.mirror_images(mesh, mirror_axes) if mirror_axes else None
    try:
        if images is None:
            layout = unwrap(mesh, hard, materials)
            uvs = layout.corner_uvs
        else:
            home, image = images
            half, corners = uvmirror.home_mesh(mesh, home)
            layout = unwrap(half, hard, None if materials is None else np.asarray(materials)[home])
            uvs = np.zeros((len(mesh.corner_verts), 2), dtype=np.float32)
            uvs[corners] = layout.corner_uvs
            uvs = uvs[image]
    except (XatlasMissingError, UvTooLargeError, UvCrashedError) as exc:
        return {}, None, f"LOD0 has no UVs: {exc}"
    stats = dict(layout.stats)
    warning = None
    if mirror_axes:
        stats["mirrored"] = images is not None
        if images is None:
            warning = "LOD0's UVs are not shared across the mirror: it is not mirror-exact there"
    arrays = {"lod0_uvs": uvs, "lod0_uv_stats": np.asarray(json.dumps(stats, sort_keys=True))}
    return arrays, stats, warning
