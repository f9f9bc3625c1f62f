# SPDX-License-Identifier: GPL-3.0-or-later
"""Wavefront OBJ on plain arrays: ``write_obj`` (with optional ``usemtl`` groups) and ``read_obj``.

Contract: the array layout and axis rules of ``formats.mesh``; writes are atomic; malformed files raise
ValueError. Pure Python + numpy.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator

import numpy as np

from ..core.files import atomic_output
from .mesh import (
    NonFiniteError,
    PathLike,
    Source,
    check_mesh,
    convert_axes,
    material_slots,
    mesh_dict,
    read_source,
)

logger = logging.getLogger(__name__)

# OBJ lines formatted per batch: bounds the temporary tuple of Python numbers to tens of MB.
_BATCH = 1 << 17


# ---------------------------------------------------------------------------------------------- OBJ
# Text comes from one printf-style ``%`` call per batch of lines over a flat tuple of numbers: in CPython
# that beat the numpy digit-arithmetic formatters tried (their scatter / compaction passes cost more).
def _float_lines(tag: bytes, values: np.ndarray) -> Iterator[bytes]:
    line = tag + b" %.9g" * values.shape[1] + b"\n"  # 9 significant digits: every float32 reads back exactly
    for lo in range(0, len(values), _BATCH):
        block = values[lo : lo + _BATCH]
        yield (line * len(block)) % tuple(block.ravel().tolist())


def _face_lines(sizes: np.ndarray, cv: np.ndarray, uv_index: np.ndarray | None) -> Iterator[bytes]:
    corner = b" %d" if uv_index is None else b" %d/%d"
    templates = {size: b"f" + corner * size + b"\n" for size in np.unique(sizes).tolist()}
    starts = np.concatenate([[0], np.cumsum(sizes)])
    for lo in range(0, sizes.size, _BATCH):
        hi = min(lo + _BATCH, sizes.size)
        c0, c1 = starts[lo], starts[hi]
        fmt = b"".join(map(templates.__getitem__, sizes[lo:hi].tolist()))
        values = cv[c0:c1] + 1 if uv_index is None else np.stack([cv[c0:c1] + 1, uv_index[c0:c1] + 1], 1)
        yield fmt % tuple(values.ravel().tolist())


def _grouped(sizes: np.ndarray, cv: np.ndarray, uv_index: np.ndarray | None, per_face: np.ndarray):
    """Faces reordered so each material's faces are contiguous (stable), and the face count of each."""
    order = np.argsort(per_face, kind="stable")
    new_sizes = sizes[order]
    shift = (np.cumsum(sizes) - sizes)[order] - (np.cumsum(new_sizes) - new_sizes)
    corners = np.repeat(shift, new_sizes) + np.arange(cv.size)
    return new_sizes, cv[corners], None if uv_index is None else uv_index[corners], np.bincount(per_face)


def write_obj(
    path: PathLike,
    verts,
    face_sizes,
    corner_verts,
    *,
    corner_uvs=None,
    face_materials=None,
    material_names=(),
    object_name: str = "mesh",
    y_up: bool = True,
    mtllib: str = "",
) -> None:
    """Write an OBJ keeping quads and n-gons, UVs as deduplicated ``vt`` (no normals). ``mtllib`` names a
    material library beside it (``write_mtl``), referenced by a ``mtllib`` line.

    With ``material_names`` the faces are grouped per material, in slot order, each group after a
    ``usemtl <name>`` (whitespace in names becomes ``_``): one group per material, as importers that make
    one part per ``usemtl`` expect.
    """
    started = time.perf_counter()
    v, sizes, cv, uvs = check_mesh(verts, face_sizes, corner_verts, corner_uvs)
    materials, per_face = material_slots(face_materials, material_names, sizes.size)
    uv_values = uv_index = None
    if uvs is not None:
        # Equal UVs share one vt line: the float pair is compared bit-exactly as one 64-bit key.
        _, first, uv_index = np.unique(uvs.view(np.uint64).ravel(), return_index=True, return_inverse=True)
        uv_values = uvs[first]
    name = " ".join(str(object_name).split()) or "mesh"  # an OBJ statement cannot span lines
    counts = [sizes.size]
    if per_face is not None:
        sizes, cv, uv_index, counts = _grouped(sizes, cv, uv_index, per_face)

    def chunks() -> Iterator[bytes]:
        yield f"# Retopo Hub OBJ: {len(v)} vertices, {sizes.size} faces\n".encode()
        if mtllib:
            yield f"mtllib {mtllib}\n".encode()
        yield f"o {name}\n".encode()
        yield from _float_lines(b"v", convert_axes(v, True) if y_up else v)
        if uv_values is not None:
            yield from _float_lines(b"vt", uv_values)
        face = corner = 0
        for number, count in enumerate(counts):
            if not count:
                continue
            corners = int(sizes[face : face + count].sum())
            if materials:
                yield f"usemtl {'_'.join(materials[number].split()) or 'material'}\n".encode()
            uv_part = None if uv_index is None else uv_index[corner : corner + corners]
            yield from _face_lines(sizes[face : face + count], cv[corner : corner + corners], uv_part)
            face, corner = face + count, corner + corners

    with atomic_output(path) as out:  # temp file in the same folder, fsync, then os.replace
        out.writelines(chunks())
    logger.debug("wrote OBJ %s (%d faces) in %.3f s", path, sizes.size, time.perf_counter() - started)


# The MTL statement of each baked map: map_Kd is the diffuse (base) color; norm is the tangent-space normal
# map the common importers read (Blender's, Assimp's), map_Bump the older spelling; map_Ka the ambient
# (occlusion) map.
MTL_MAPS = {"color": ("map_Kd",), "normal": ("norm", "map_Bump"), "ao": ("map_Ka",)}


def write_mtl(path: PathLike, material: str, maps: dict[str, str]) -> None:
    """Write a one-material MTL whose maps (``{"color"|"normal"|"ao": file name}``) lie beside it."""
    lines = [f"# Retopo Hub MTL\nnewmtl {'_'.join(material.split()) or 'material'}\n",
             "Ka 1 1 1\nKd 1 1 1\nKs 0 0 0\nNs 0\nd 1\nillum 1\n"]  # fmt: skip
    for role, statements in MTL_MAPS.items():
        if role in maps:
            lines += [f"{statement} {maps[role]}\n" for statement in statements]
    with atomic_output(path) as out:
        out.writelines(line.encode() for line in lines)


def _columns(rows: list[bytes], want: int, pad: bytes | None) -> list[bytes]:
    """The first ``want`` fields after the tag of every line, flattened (missing ones ``pad``)."""
    if not rows:
        return []
    tokens = b" ".join(rows).split()  # one C-level split instead of one per line
    if len(tokens) == (want + 1) * len(rows) and tokens[:: want + 1].count(tokens[0]) == len(rows):
        del tokens[:: want + 1]  # every line is exactly the tag and ``want`` fields
        return tokens
    out: list[bytes] = []
    for parts in map(bytes.split, rows):
        if len(parts) < 2 or (pad is None and len(parts) <= want):
            raise ValueError(f"an OBJ {parts[0].decode()!r} line has too few values")
        out += (parts[1:] + [pad] * want)[:want]
    return out


def _slashed(corners: list[bytes]) -> tuple[np.ndarray, np.ndarray | None]:
    """Vertex and texture indices of ``v/vt``, ``v//vn``, ``v/vt/vn`` corners (texture None if any lacks one).

    Every corner is padded to three fields, empty ones 0 (OBJ indices are never 0), and all fields are
    parsed at once: one ``split`` per corner would allocate millions of GC-tracked lists.
    """
    pads = (b"/0/0", b"/0", b"")
    text = b" ".join([t + pads[t.count(b"/")] for t in corners]) + b" "
    fields = text.replace(b"//", b"/0/").replace(b"/ ", b"/0 ").replace(b"/", b" ").split()
    vi, ti, _ = np.array(fields, dtype=np.int64).reshape(-1, 3).T
    return vi, (ti if (ti != 0).all() else None)


def read_obj(source: Source, *, y_up: bool = True) -> dict:
    """Read ``v``/``vt``/``f`` of an OBJ (bytes or a path) into ``verts, face_sizes, corner_verts``.

    ``corner_uvs`` is also returned (None unless every corner has a ``vt``). Faces accept the ``v``,
    ``v/vt``, ``v//vn`` and ``v/vt/vn`` forms and negative (relative) indices; other statements are ignored.
    """
    text = re.sub(rb"\\\r?\n", b" ", read_source(source)).replace(b"\t", b" ")  # "\" continues a line
    lines = text.splitlines() or [b""]
    if re.search(rb"(?m)^ ", text):  # indented statements are legal; strip only when there are any
        lines = [line.lstrip() for line in lines]
    lines = np.array(lines, dtype=object)
    # Whole-list passes rather than a branchy loop per line: several times faster on million-face files.
    head = np.array([line[:3] for line in lines], dtype="S3").view(np.uint8).reshape(-1, 3)
    blank = (head[:, 1] == 32) | (head[:, 1] == 0)
    is_v, is_f = (head[:, 0] == 118) & blank, (head[:, 0] == 102) & blank  # "v", "f"
    is_vt = (head[:, 0] == 118) & (head[:, 1] == 116) & ((head[:, 2] == 32) | (head[:, 2] == 0))
    f_text = b" ".join(lines[is_f].tolist())
    tokens = f_text.split()
    tags = [i for i, token in enumerate(tokens) if token == b"f"]
    sizes = np.diff(np.array([*tags, len(tokens)], dtype=np.int64)) - 1
    if (sizes < 3).any():
        raise ValueError("OBJ has a face with fewer than 3 vertices")
    corners = [token for token in tokens if token != b"f"]
    try:
        verts = np.array(_columns(lines[is_v].tolist(), 3, None), dtype=np.float64).reshape(-1, 3)
        uv = np.array(_columns(lines[is_vt].tolist(), 2, b"0"), dtype=np.float64).reshape(-1, 2)
        vi, ti = (np.array(corners, dtype=np.int64), None) if b"/" not in f_text else _slashed(corners)
    except (ValueError, IndexError) as error:
        raise ValueError(f"OBJ contains a malformed number or face corner: {error}") from None
    if not np.isfinite(verts).all():
        raise NonFiniteError("OBJ vertex coordinates must be finite")
    # Negative indices count back from the elements defined *before* the face's own line.
    counts = np.repeat(np.stack([np.cumsum(is_v), np.cumsum(is_vt)], axis=1)[is_f], sizes, axis=0)

    def resolve(index: np.ndarray, available: np.ndarray, what: str) -> np.ndarray:
        out = np.where(index < 0, index + available, index - 1)
        if (index == 0).any() or (out < 0).any() or (out >= available).any():
            raise ValueError(f"OBJ face refers to a {what} that does not exist")
        return out

    corner_verts = resolve(vi, counts[:, 0], "vertex")
    corner_uvs = uv[resolve(ti, counts[:, 1], "texture coordinate")] if ti is not None else None
    return mesh_dict(verts, sizes, corner_verts, corner_uvs, y_up)
