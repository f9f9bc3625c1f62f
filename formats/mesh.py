# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared rules of the mesh file formats on plain numpy arrays in Blender's layout.

Contract: geometry is ``verts`` float32 (N, 3) in Blender's Z-up object space, ``face_sizes`` int (F,) (each
>= 3), ``corner_verts`` int (sum(face_sizes),) and optional ``corner_uvs`` float32 (C, 2) in Blender's
convention (v = 0 at the bottom of the image); optional ``face_materials`` int (F,) gives each face's slot in
``material_names`` (see ``material_slots``). With ``y_up=True`` files use the Y-up convention (x, y, z) ->
(x, z, -y) on write and the inverse on read, which Blender's importers undo with their default axis settings.
Writers go through ``core.files.atomic_output``: readers never see a partial file. Malformed input raises
ValueError. Pure Python + numpy, no shared state: safe in any process and thread.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

PathLike = str | os.PathLike[str]


class NonFiniteError(ValueError):
    """A file's vertex positions hold NaN or infinity: no importer should quietly move them to the origin."""


Source = bytes | bytearray | memoryview | PathLike


def check_mesh(verts, face_sizes, corner_verts, corner_uvs=None):
    """Validate shapes, ranges and finiteness; return float32 / int64 contiguous arrays."""
    v = np.ascontiguousarray(verts, dtype=np.float32)
    sizes = np.asarray(face_sizes).astype(np.int64, copy=False).ravel()
    cv = np.asarray(corner_verts).astype(np.int64, copy=False).ravel()
    if v.ndim != 2 or v.shape[1] != 3 or not np.isfinite(v).all():
        raise ValueError(f"verts must be finite with shape (N, 3), got {v.shape}")
    if sizes.size and sizes.min() < 3:
        raise ValueError("every face needs at least 3 corners")
    if cv.size != int(sizes.sum()):
        raise ValueError(f"corner_verts has {cv.size} entries but face_sizes sum to {int(sizes.sum())}")
    if cv.size and (cv.min() < 0 or cv.max() >= len(v)):
        raise ValueError(f"corner_verts index out of range for {len(v)} vertices")
    uvs = None
    if corner_uvs is not None:
        uvs = np.ascontiguousarray(corner_uvs, dtype=np.float32)
        if uvs.shape != (cv.size, 2) or not np.isfinite(uvs).all():
            raise ValueError(f"corner_uvs must be finite with shape ({cv.size}, 2), got {uvs.shape}")
        uvs = uvs + np.float32(0.0)  # folds -0.0 into 0.0 so equal UVs also compare equal bitwise
    return v, sizes, cv, uvs


def check_normals(corner_normals, corner_count: int) -> np.ndarray | None:
    """Per-corner normals as float32 (C, 3) of unit length, or None; ValueError when malformed."""
    if corner_normals is None:
        return None
    normals = np.ascontiguousarray(corner_normals, dtype=np.float32).reshape(-1, 3)
    if normals.shape[0] != corner_count or not np.isfinite(normals).all():
        raise ValueError(f"corner_normals must be finite with shape ({corner_count}, 3), got {normals.shape}")
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    # A zero normal (a face of no area) has no direction: glTF wants unit ones, so it points up.
    normals = np.where(length > 0, normals / np.maximum(length, 1e-30), np.float32([0, 0, 1]))
    return normals.astype(np.float32) + np.float32(0.0)


def check_tangents(corner_tangents, corner_count: int) -> np.ndarray | None:
    """Per-corner tangents as float32 (C, 4): xyz of unit length, w the bitangent's sign (+1 or -1); or None.
    ValueError when malformed."""
    if corner_tangents is None:
        return None
    tangents = np.ascontiguousarray(corner_tangents, dtype=np.float32).reshape(-1, 4)
    if tangents.shape[0] != corner_count or not np.isfinite(tangents).all():
        raise ValueError(
            f"corner_tangents must be finite with shape ({corner_count}, 4), got {tangents.shape}"
        )
    xyz = tangents[:, :3]
    length = np.linalg.norm(xyz, axis=1, keepdims=True)
    # A corner with no UV extent has no tangent: any unit vector will do, glTF only wants one.
    xyz = np.where(length > 0, xyz / np.maximum(length, 1e-30), np.float32([1, 0, 0]))
    sign = np.where(tangents[:, 3:] < 0, np.float32(-1), np.float32(1))
    return np.concatenate([xyz, sign], axis=1).astype(np.float32) + np.float32(0.0)


def material_slots(face_materials, material_names, face_count: int) -> tuple[list[str], np.ndarray | None]:
    """The materials a file should name, and each face's index into them, as Blender's exporters do it.

    Empty slots (``""``) are skipped and a material in several slots is named once; a face whose slot is
    empty or out of range uses the first named material. Returns ``([], None)`` when no slot has one.
    """
    names = [str(name) for name in material_names]
    per_slot = np.zeros(len(names), dtype=np.int32)
    unique: dict[str, int] = {}
    for slot, name in enumerate(names):
        per_slot[slot] = unique.setdefault(name, len(unique)) if name else -1
    if face_materials is not None:
        slots = np.asarray(face_materials)
        if slots.shape != (face_count,) or slots.dtype.kind not in "iu":
            raise ValueError(
                f"face_materials must be integers with shape ({face_count},), got {slots.dtype} {slots.shape}"
            )
    if not unique:
        return [], None
    if face_materials is None:
        return list(unique), np.zeros(face_count, dtype=np.int32)
    per_slot[per_slot < 0] = 0  # the first named material has index 0: where Blender puts stray faces
    inside = (slots >= 0) & (slots < len(names))
    return list(unique), np.where(inside, per_slot[np.where(inside, slots, 0)], 0).astype(np.int32)


# convert_axes' turn to Y-up as a 4x4 matrix, (x, y, z) -> (x, z, -y): -90 degrees about X, for transforms.
Y_UP_MATRIX = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0], [0, 0, 0, 1]], dtype=np.float64)


def convert_axes(v: np.ndarray, to_y_up: bool) -> np.ndarray:
    """Blender Z-up (x, y, z) -> Y-up (x, z, -y), or the inverse (x, y, z) -> (x, -z, y)."""
    cols = [v[:, 0], v[:, 2], -v[:, 1]] if to_y_up else [v[:, 0], -v[:, 2], v[:, 1]]
    return np.ascontiguousarray(np.stack(cols, axis=1), dtype=np.float32) + np.float32(0.0)  # no "-0" text


def read_source(source: Source) -> bytes:
    return bytes(source) if isinstance(source, bytes | bytearray | memoryview) else Path(source).read_bytes()


def face_stats(face_sizes) -> dict[str, int]:
    """Count faces by kind: ``{"faces", "quads", "tris", "ngons"}`` (n-gons have more than 4 corners)."""
    n = np.bincount(np.clip(np.asarray(face_sizes, dtype=np.int64).ravel(), 0, 5), minlength=6)
    return {"faces": int(n.sum()), "quads": int(n[4]), "tris": int(n[3]), "ngons": int(n[5])}


def mesh_dict(verts, sizes, corners, uvs, y_up: bool) -> dict:
    verts = np.asarray(verts, dtype=np.float32).reshape(-1, 3)
    return {
        "verts": convert_axes(verts, False) if y_up else np.ascontiguousarray(verts),
        "face_sizes": np.asarray(sizes, dtype=np.int32),
        "corner_verts": np.asarray(corners, dtype=np.int32),
        "corner_uvs": None if uvs is None else np.asarray(uvs, dtype=np.float32).reshape(-1, 2),
    }
