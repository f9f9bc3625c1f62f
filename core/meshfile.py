# SPDX-License-Identifier: GPL-3.0-or-later
"""Mesh file I/O (Wavefront OBJ and binary glTF 2.0) on plain numpy arrays in Blender's layout.

Contract: pure Python + numpy, never imports ``bpy``, keeps no shared state, so it is safe on any thread.

Geometry is ``verts`` float32 (N, 3) in Blender's Z-up object space, ``face_sizes`` int (F,) (each >= 3),
``corner_verts`` int (sum(face_sizes),) and optional ``corner_uvs`` float32 (C, 2) in Blender's convention
(v = 0 at the bottom of the image); optional ``face_materials`` int (F,) gives each face's slot in
``material_names`` (see ``material_slots``). With ``y_up=True`` files use the Y-up convention of both
formats, (x, y, z) -> (x, z, -y) on write and the inverse on read, which Blender's OBJ and glTF importers undo
with their default axis settings. glTF stores v = 1 - blender_v; the glTF reader flips it back.
Writers go through ``core.files.atomic_output`` (temporary file in the target folder, fsync, then
``os.replace``): readers never see a partial file. Malformed input raises ValueError.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .files import atomic_output

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]
Source = bytes | bytearray | memoryview | PathLike
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_GLB_JSON, _GLB_BIN = 0x4E4F534A, 0x004E4942
_GLTF_TYPES = {5120: "i1", 5121: "u1", 5122: "<i2", 5123: "<u2", 5125: "<u4", 5126: "<f4"}
_GLTF_WIDTHS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}
# OBJ lines formatted per batch: bounds the temporary tuple of Python numbers to tens of MB.
_BATCH = 1 << 17


# ---------------------------------------------------------------------------------------------- helpers
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


def _axes(v: np.ndarray, to_y_up: bool) -> np.ndarray:
    """Blender Z-up (x, y, z) -> Y-up (x, z, -y), or the inverse (x, y, z) -> (x, -z, y)."""
    cols = [v[:, 0], v[:, 2], -v[:, 1]] if to_y_up else [v[:, 0], -v[:, 2], v[:, 1]]
    return np.ascontiguousarray(np.stack(cols, axis=1), dtype=np.float32) + np.float32(0.0)  # no "-0" text


def _read_source(source: Source) -> bytes:
    return bytes(source) if isinstance(source, bytes | bytearray | memoryview) else Path(source).read_bytes()


def face_stats(face_sizes) -> dict[str, int]:
    """Count faces by kind: ``{"faces", "quads", "tris", "ngons"}`` (n-gons have more than 4 corners)."""
    n = np.bincount(np.clip(np.asarray(face_sizes, dtype=np.int64).ravel(), 0, 5), minlength=6)
    return {"faces": int(n.sum()), "quads": int(n[4]), "tris": int(n[3]), "ngons": int(n[5])}


def glb_data_uri(glb_bytes: bytes) -> str:
    """Return the GLB as a ``data:model/gltf-binary;base64,...`` URI."""
    return "data:model/gltf-binary;base64," + base64.b64encode(glb_bytes).decode("ascii")


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
) -> None:
    """Write an OBJ keeping quads and n-gons, UVs as deduplicated ``vt`` (no normals, no .mtl).

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
        yield f"# Retopo Hub OBJ: {len(v)} vertices, {sizes.size} faces\no {name}\n".encode()
        yield from _float_lines(b"v", _axes(v, True) if y_up else v)
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


# ---------------------------------------------------------------------------------------------- glTF
def _fan_corners(sizes: np.ndarray) -> np.ndarray:
    """Corner indices (T, 3) of the fan triangulation (c0, ci, ci+1) of every face, in face order."""
    per_face = sizes - 2
    first = np.repeat(np.cumsum(sizes) - sizes, per_face)
    step = np.arange(int(per_face.sum())) - np.repeat(np.cumsum(per_face) - per_face, per_face) + 1
    return np.stack([first, first + step, first + step + 1], axis=1)


def write_glb(
    path: PathLike | None,
    verts,
    face_sizes,
    corner_verts,
    *,
    corner_uvs=None,
    base_color_png: bytes | None = None,
    y_up: bool = True,
    object_name: str = "mesh",
) -> bytes:
    """Build a binary glTF 2.0 (one mesh, one fan-triangulated primitive, uint32 indices) and return it.

    With UVs, vertices are split only where their corners carry different UVs (glTF has one UV per
    vertex). ``base_color_png`` adds a material with that PNG embedded as base colour; it needs UVs.
    When ``path`` is given the bytes are also written there atomically.
    """
    started = time.perf_counter()
    v, sizes, cv, uvs = check_mesh(verts, face_sizes, corner_verts, corner_uvs)
    if sizes.size == 0:
        raise ValueError("glTF cannot store a mesh without faces")
    if base_color_png is not None and (uvs is None or bytes(base_color_png[:8]) != _PNG_MAGIC):
        raise ValueError("base_color_png must be PNG bytes and needs corner_uvs to map it")
    tris = _fan_corners(sizes)
    positions, indices, texcoords = v, cv[tris], None
    if uvs is not None:
        _, uv_id = np.unique(uvs.view(np.uint64).ravel(), return_inverse=True)
        key = cv * (int(uv_id.max()) + 1) + uv_id.ravel()  # one id per distinct (vertex, UV) pair
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        positions, indices = v[cv[first]], inverse.ravel()[tris]
        texcoords = uvs[first] * np.float32([1, -1]) + np.float32([0, 1])  # glTF's v origin is the top
    if y_up:
        positions = _axes(positions, True)
    blobs = [positions.tobytes(), indices.astype(np.uint32).tobytes()]
    blobs += [] if texcoords is None else [texcoords.tobytes()]
    blobs += [] if base_color_png is None else [bytes(base_color_png)]
    views, offset = [], 0
    for number, blob in enumerate(blobs):
        views.append({"buffer": 0, "byteOffset": offset, "byteLength": len(blob)})
        if number < 3:  # vertex / index data; view 3, the image, has no GPU buffer target
            views[-1]["target"] = 34963 if number == 1 else 34962
        offset += len(blob) + (-len(blob) % 4)  # every view starts 4-byte aligned
    accessors = [
        {"bufferView": 0, "componentType": 5126, "count": len(positions), "type": "VEC3",
         "min": positions.min(axis=0).tolist(), "max": positions.max(axis=0).tolist()},
        {"bufferView": 1, "componentType": 5125, "count": int(indices.size), "type": "SCALAR"},
    ]  # fmt: skip
    primitive: dict = {"attributes": {"POSITION": 0}, "indices": 1, "mode": 4}
    if texcoords is not None:
        accessors.append({"bufferView": 2, "componentType": 5126, "count": len(texcoords), "type": "VEC2"})
        primitive["attributes"]["TEXCOORD_0"] = 2
    name = str(object_name)
    doc: dict = {
        "asset": {"version": "2.0", "generator": "Retopo Hub"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
    }
    doc |= {"nodes": [{"mesh": 0, "name": name}], "meshes": [{"name": name, "primitives": [primitive]}]}
    doc |= {"buffers": [{"byteLength": offset}], "bufferViews": views, "accessors": accessors}
    if base_color_png is not None:
        doc["images"] = [{"bufferView": 3, "mimeType": "image/png"}]
        doc["samplers"] = [{"magFilter": 9729, "minFilter": 9987, "wrapS": 10497, "wrapT": 10497}]
        doc["textures"] = [{"sampler": 0, "source": 0}]
        # Not metallic: a baked colour map on glTF's metallic default would render dark in every viewer.
        pbr = {"baseColorTexture": {"index": 0}, "metallicFactor": 0.0, "roughnessFactor": 1.0}
        doc["materials"] = [{"name": f"{name}_material", "pbrMetallicRoughness": pbr}]
        primitive["material"] = 0
    body = b"".join(blob + b"\0" * (-len(blob) % 4) for blob in blobs)
    text = json.dumps(doc, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)  # the JSON chunk is padded with spaces, BIN with zeros
    header = struct.pack("<4sIIII", b"glTF", 2, 28 + len(text) + len(body), len(text), _GLB_JSON)
    glb = b"".join([header, text, struct.pack("<II", len(body), _GLB_BIN), body])
    if path is not None:
        with atomic_output(path) as out:
            out.write(glb)
    logger.debug("built GLB (%d triangles) in %.3f s", len(tris), time.perf_counter() - started)
    return glb


# ---------------------------------------------------------------------------------------------- readers
def _mesh_dict(verts, sizes, corners, uvs, y_up: bool) -> dict:
    verts = np.asarray(verts, dtype=np.float32).reshape(-1, 3)
    return {
        "verts": _axes(verts, False) if y_up else np.ascontiguousarray(verts),
        "face_sizes": np.asarray(sizes, dtype=np.int32),
        "corner_verts": np.asarray(corners, dtype=np.int32),
        "corner_uvs": None if uvs is None else np.asarray(uvs, dtype=np.float32).reshape(-1, 2),
    }


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
    text = re.sub(rb"\\\r?\n", b" ", _read_source(source)).replace(b"\t", b" ")  # "\" continues a line
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
        raise ValueError("OBJ vertex coordinates must be finite")
    # Negative indices count back from the elements defined *before* the face's own line.
    counts = np.repeat(np.stack([np.cumsum(is_v), np.cumsum(is_vt)], axis=1)[is_f], sizes, axis=0)

    def resolve(index: np.ndarray, available: np.ndarray, what: str) -> np.ndarray:
        out = np.where(index < 0, index + available, index - 1)
        if (index == 0).any() or (out < 0).any() or (out >= available).any():
            raise ValueError(f"OBJ face refers to a {what} that does not exist")
        return out

    corner_verts = resolve(vi, counts[:, 0], "vertex")
    corner_uvs = uv[resolve(ti, counts[:, 1], "texture coordinate")] if ti is not None else None
    return _mesh_dict(verts, sizes, corner_verts, corner_uvs, y_up)


def _accessor(doc: dict, buffers: list[bytes], index: int) -> np.ndarray:
    """Accessor ``index`` as a (count, components) array, honouring byteStride and normalisation."""
    acc = doc["accessors"][index]
    dtype, width, count = np.dtype(_GLTF_TYPES[acc["componentType"]]), _GLTF_WIDTHS[acc["type"]], acc["count"]
    if "sparse" in acc:
        raise ValueError("sparse glTF accessors are not supported")
    if "bufferView" not in acc:  # the spec defines a view-less accessor as all zeros
        return np.zeros((count, width), dtype=dtype)
    view = doc["bufferViews"][acc["bufferView"]]
    data, view_start = buffers[view["buffer"]], int(view.get("byteOffset", 0))
    start = view_start + int(acc.get("byteOffset", 0))
    stride = int(view.get("byteStride", 0)) or dtype.itemsize * width
    end = start + stride * (count - 1) + dtype.itemsize * width if count else start
    if end > view_start + int(view["byteLength"]) or end > len(data):
        raise ValueError(f"glTF accessor {index} reads past the end of its buffer view")
    array = np.ndarray((count, width), dtype, data, start, (stride, dtype.itemsize)).copy()
    if acc.get("normalized") and dtype.kind in "iu":
        array = np.maximum(array / np.iinfo(dtype).max, -1.0)
    return array


def _glb_chunks(data: bytes) -> list[tuple[int, bytes]]:
    version, length = (
        struct.unpack_from("<II", data, 4) if len(data) >= 20 and data[:4] == b"glTF" else (0, 0)
    )
    if version != 2 or length > len(data):
        raise ValueError("not a binary glTF 2.0 file, or a truncated one")
    chunks, offset = [], 12
    while offset + 8 <= length:
        size, kind = struct.unpack_from("<II", data, offset)
        if offset + 8 + size > length:
            raise ValueError("truncated GLB chunk")
        chunks.append((kind, data[offset + 8 : offset + 8 + size]))
        offset += 8 + size
    if not chunks or chunks[0][0] != _GLB_JSON:
        raise ValueError("GLB does not start with a JSON chunk")
    return chunks


def read_glb(source: Source, *, y_up: bool = True) -> dict:
    """Read every triangle primitive of every mesh of a GLB (bytes or a path) into one mesh dict.

    Node transforms are NOT applied: each mesh is read once, in its own space. ``corner_uvs`` comes back
    in Blender's convention when every primitive has TEXCOORD_0, else None. Non-triangle modes are skipped.
    """
    chunks = _glb_chunks(_read_source(source))
    try:
        doc = json.loads(chunks[0][1])
        binary = next((chunk for kind, chunk in chunks[1:] if kind == _GLB_BIN), b"")
        # Only the GLB's own BIN chunk and base64 data: URIs are read; external files are not followed.
        buffers = [base64.b64decode(b["uri"].split(",")[1]) if "uri" in b else binary for b in doc["buffers"]]
        verts, tris, uvs, base = [], [], [], 0
        for prim in (prim for mesh in doc.get("meshes", []) for prim in mesh["primitives"]):
            if prim.get("mode", 4) != 4:
                continue  # points, lines and strips are outside our geometry contract
            pos = _accessor(doc, buffers, prim["attributes"]["POSITION"]).astype(np.float32)
            indexed = "indices" in prim
            idx = _accessor(doc, buffers, prim["indices"]).ravel() if indexed else np.arange(len(pos))
            if pos.shape[1] != 3 or idx.size % 3 or (idx.size and idx.max() >= len(pos)):
                raise ValueError(
                    "glTF POSITION is not VEC3, or triangle indices are incomplete or out of range"
                )
            uv = prim["attributes"].get("TEXCOORD_0")
            uvs.append(None if uv is None else _accessor(doc, buffers, uv)[idx] * [1, -1] + [0, 1])
            verts.append(pos)
            tris.append(idx.astype(np.int64) + base)
            base += len(pos)
    except (KeyError, IndexError, TypeError, AttributeError, ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"malformed glTF: {error!r}") from None
    corners = np.concatenate(tris) if tris else np.zeros(0, np.int64)
    corner_uvs = np.concatenate(uvs) if uvs and all(u is not None for u in uvs) else None
    positions = np.concatenate(verts) if verts else np.zeros((0, 3))
    return _mesh_dict(positions, np.full(corners.size // 3, 3), corners, corner_uvs, y_up)
