# SPDX-License-Identifier: GPL-3.0-or-later
"""UV triangles drawn into a texel grid, independently of the product's own measures (engines.uvstats),
and a mesh object's arrays with its active UV layer."""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import numpy as np


def texels(
    tri_uvs: np.ndarray, resolution: int, *, strict: bool = False
) -> Iterator[tuple[slice, slice, np.ndarray]]:
    """Per UV triangle (a, b, c): (rows, columns, mask) of the texels of its bounding box whose centres lie
    inside it (row = v); ``strict`` leaves out centres on an edge."""
    ys, xs = np.mgrid[0:resolution, 0:resolution]
    centres = np.stack([(xs + 0.5) / resolution, (ys + 0.5) / resolution], -1)
    margin = 1e-9  # strict: a centre on an edge (where two triangles meet) belongs to neither
    for a, b, c in tri_uvs:
        lo = np.floor(np.minimum(np.minimum(a, b), c) * resolution).astype(int).clip(0, resolution - 1)
        hi = np.ceil(np.maximum(np.maximum(a, b), c) * resolution).astype(int).clip(0, resolution)
        rows, cols = slice(lo[1], hi[1]), slice(lo[0], hi[0])
        p = centres[rows, cols]

        def side(p0, p1, p=p):
            return (p1[0] - p0[0]) * (p[..., 1] - p0[1]) - (p1[1] - p0[1]) * (p[..., 0] - p0[0])

        e = np.stack([side(a, b), side(b, c), side(c, a)])
        yield (
            rows,
            cols,
            (e > margin).all(0) | (e < -margin).all(0) if strict else (e >= 0).all(0) | (e <= 0).all(0),
        )


def mesh_and_uvs(addon, obj):
    """(the engine's MeshArrays, corner UVs (C, 2)) of ``obj``'s mesh and its active UV layer."""
    mesh = obj.data
    arrays = importlib.import_module(f"{addon.__name__}.blender_io.mesh_arrays")
    verts, sizes, corners = arrays.read_arrays(mesh)
    uvs = np.empty(len(mesh.loops) * 2, np.float32)
    mesh.uv_layers.active.uv.foreach_get("vector", uvs)
    meshdata = importlib.import_module(f"{addon.__name__}.engines.meshdata")
    return meshdata.MeshArrays(verts, sizes, corners), uvs.reshape(-1, 2)
