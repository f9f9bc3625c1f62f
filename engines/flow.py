# SPDX-License-Identifier: GPL-3.0-or-later
"""Edge flow of Instant Meshes' pure-quad output: fewer poles, squarer quads, vertices on the source.

Contract: ``improve_quads(verts, quads, index, relax_iterations)`` takes Instant Meshes' raw pure-quad
output (float (N, 3), int (F, 4), in the units of ``index``, a ``TriangleIndex`` over the source) and
returns a ``MeshArrays`` of quads whose vertices lie on the source. When the quads are not the one-level
split of a quad-dominant mesh (see ``coarse``) they are only projected and relaxed. Imports numpy and the
engine's own modules only; never touches bpy.

Steps: recover the quad-dominant mesh -> pair its triangles and pentagons into quads (``pairing``) ->
split again (every former odd face no longer leaves a pole of valence 3 or 5 at its centre; with
``density``, a ``density.DensityField``, the split is made per place instead, none, once or twice, and the
odd faces the transitions make are paired into quads) -> project onto the source (with ``borders``, border
vertices onto the source's open borders, then pinned) -> tangential relaxation (``relax``) -> with feature
``curves``, vertices near a feature snap onto it and the others relax around them (``sharp``).
"""

from __future__ import annotations

import logging

import numpy as np

from .coarse import subdivide, unsubdivide
from .density import DensityField, refine
from .meshdata import MeshArrays
from .pairing import pair_odd_faces
from .project import TriangleIndex
from .relax import relax
from .sharp import FeatureCurves, onto_source

log = logging.getLogger(__name__)

RELAX_ITERATIONS = 3
COARSE_ITERATIONS = 8
COARSE_CURVED = 0.9


def improve_quads(
    verts: np.ndarray,
    quads: np.ndarray,
    index: TriangleIndex,
    relax_iterations: int = RELAX_ITERATIONS,
    curves: FeatureCurves | None = None,
    density: DensityField | None = None,
    to_field=None,
    stats: dict | None = None,
    borders: FeatureCurves | None = None,
) -> MeshArrays | None:
    """``to_field`` maps ``verts`` into ``density``'s units; ``stats`` (if given) gets ``density_levels``,
    the share of coarse faces at each level, and ``edge_flow_skipped``: whether the quads were only relaxed
    because they are not a one-level split (a raw scan's face that touches itself, say). With an active
    ``density`` and quads that are not a one-level split, returns None: the density cannot be applied to
    that run. ``borders``: the source's open borders (``sharp.source_borders``); the result's border
    vertices go onto them and stay there while the rest relaxes, as ``sharp.onto_source`` does for a run
    without this pass."""
    verts = np.asarray(verts, dtype=np.float64)
    coarse = unsubdivide(verts, quads)
    if stats is not None:
        # The caller reads it after its last run (remesh: the retries' last attempt), to tell the user.
        stats["edge_flow_skipped"] = coarse is None
    if coarse is None:
        log.debug("Instant Meshes' quads are not a one-level split; pairing skipped")
        if density is not None and density.active:
            return None
        mesh = MeshArrays.from_faces(verts, quads)
    else:
        paired = pair_odd_faces(verts, coarse)
        log.debug(
            "paired odd faces: %d -> %d non-quads in %d coarse faces",
            sum(len(f) != 4 for f in coarse),
            sum(len(f) != 4 for f in paired),
            len(paired),
        )
        coarse_mesh = MeshArrays.from_polygons(verts, paired)
        if relax_iterations > 0:
            # Pairing leaves skewed quads; relaxing the coarse mesh first moves its vertices far at a
            # quarter of the cost, and the split mesh then only needs a few passes.
            used = np.zeros(verts.shape[0], dtype=bool)
            used[coarse_mesh.corner_verts] = True
            verts = verts.copy()
            verts[used] = index.query(verts[used])[0]
            verts = relax(verts, coarse_mesh, index, COARSE_ITERATIONS, curved=COARSE_CURVED)
        if density is not None and density.active:
            mesh = _split_by_density(verts, paired, density, to_field, stats)
        else:
            fine_v, fine_q = subdivide(verts, paired)
            mesh = MeshArrays.from_faces(fine_v, fine_q).compact()
    # Onto the source, its borders and feature curves, relaxed, as a run without this pass (sharp.py).
    placed = onto_source(index, mesh, borders, curves, relax_iterations)
    return MeshArrays(placed, mesh.face_sizes, mesh.corner_verts)


def _split_by_density(verts, paired, density: DensityField, to_field, stats: dict | None) -> MeshArrays:
    """The coarse mesh split per place (``density.refine``), its transitions paired into quads."""
    levels = density.levels(verts, paired, to_field)
    if stats is not None:
        shares = np.bincount(levels, minlength=3) / len(levels)
        stats["density_levels"] = [round(float(share), 3) for share in shares]
    verts, refined = refine(verts, paired, levels)
    # A coarser face beside a finer one has the finer one's midpoint as an extra corner.
    return MeshArrays.from_polygons(verts, pair_odd_faces(verts, refined, force=True)).compact()
