# SPDX-License-Identifier: GPL-3.0-or-later
"""Binary glTF 2.0 on plain arrays: ``write_glb`` (triangulated, optional base color PNG), ``read_glb``
and ``glb_data_uri``.

Contract: the array layout and axis rules of ``formats.mesh``; glTF stores v = 1 - blender_v and the reader
flips it back; writes are atomic; malformed files raise ValueError. Pure Python + numpy.
"""

from __future__ import annotations

import base64
import json
import logging
import struct
import time

import numpy as np

from ..core.files import atomic_output
from .mesh import NonFiniteError, PathLike, Source, check_mesh, convert_axes, mesh_dict, read_source

logger = logging.getLogger(__name__)

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_GLB_JSON, _GLB_BIN = 0x4E4F534A, 0x004E4942
_GLTF_TYPES = {5120: "i1", 5121: "u1", 5122: "<i2", 5123: "<u2", 5125: "<u4", 5126: "<f4"}
_GLTF_WIDTHS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}


def check_pngs(maps: dict[str, bytes] | None) -> list[tuple[str, bytes]]:
    """``(role, PNG)`` of the baked maps given (roles ``color``, ``normal``, ``ao``), in that order;
    ValueError for anything that is not a PNG."""
    pngs = [(role, bytes(maps[role])) for role in ("color", "normal", "ao") if maps and maps.get(role)]
    if any(png[:8] != _PNG_MAGIC for _role, png in pngs):
        raise ValueError("the maps must be PNG bytes")
    return pngs


def add_textures(doc: dict, roles: list[str], image_views: list[int]) -> dict:
    """Put one image, texture and the shared sampler per map into ``doc`` (each image's PNG already in a
    buffer view of ``image_views``) and return the material body that uses them: base color, normal (OpenGL,
    as glTF's tangent space is) and occlusion; not metallic, since a baked colour map on glTF's metallic
    default renders dark in every viewer."""
    doc["images"] = [{"bufferView": view, "mimeType": "image/png"} for view in image_views]
    doc["samplers"] = [{"magFilter": 9729, "minFilter": 9987, "wrapS": 10497, "wrapT": 10497}]
    doc["textures"] = [{"sampler": 0, "source": number} for number in range(len(image_views))]
    index = {role: number for number, role in enumerate(roles)}
    pbr: dict = {"metallicFactor": 0.0, "roughnessFactor": 1.0}
    material: dict = {"pbrMetallicRoughness": pbr}
    if "color" in index:
        pbr["baseColorTexture"] = {"index": index["color"]}
    if "normal" in index:
        material["normalTexture"] = {"index": index["normal"]}
    if "ao" in index:
        material["occlusionTexture"] = {"index": index["ao"]}
    return material


def pack_glb(doc: dict, body: bytes, path: PathLike | None = None) -> bytes:
    """A GLB container of a glTF JSON ``doc`` and its 4-byte-aligned binary ``body``, written atomically to
    ``path`` when given."""
    text = json.dumps(doc, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)  # the JSON chunk is padded with spaces, BIN with zeros
    header = struct.pack("<4sIIII", b"glTF", 2, 28 + len(text) + len(body), len(text), _GLB_JSON)
    glb = b"".join([header, text, struct.pack("<II", len(body), _GLB_BIN), body])
    if path is not None:
        with atomic_output(path) as out:
            out.write(glb)
    return glb


def glb_data_uri(glb_bytes: bytes) -> str:
    """Return the GLB as a ``data:model/gltf-binary;base64,...`` URI."""
    return "data:model/gltf-binary;base64," + base64.b64encode(glb_bytes).decode("ascii")


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
    normal_png: bytes | None = None,
    occlusion_png: bytes | None = None,
    y_up: bool = True,
    object_name: str = "mesh",
) -> bytes:
    """Build a binary glTF 2.0 (one mesh, one fan-triangulated primitive, uint32 indices) and return it.

    With UVs, vertices are split only where their corners carry different UVs (glTF has one UV per
    vertex). ``base_color_png`` adds a material with that PNG embedded as base colour, ``normal_png`` and
    ``occlusion_png`` its normal (OpenGL, as glTF's tangent space is) and occlusion textures; they need UVs.
    When ``path`` is given the bytes are also written there atomically.
    """
    started = time.perf_counter()
    v, sizes, cv, uvs = check_mesh(verts, face_sizes, corner_verts, corner_uvs)
    if sizes.size == 0:
        raise ValueError("glTF cannot store a mesh without faces")
    pngs = check_pngs({"color": base_color_png, "normal": normal_png, "ao": occlusion_png})
    if pngs and uvs is None:
        raise ValueError("a map needs corner_uvs to map it")
    tris = _fan_corners(sizes)
    positions, indices, texcoords = v, cv[tris], None
    if uvs is not None:
        _, uv_id = np.unique(uvs.view(np.uint64).ravel(), return_inverse=True)
        key = cv * (int(uv_id.max()) + 1) + uv_id.ravel()  # one id per distinct (vertex, UV) pair
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        positions, indices = v[cv[first]], inverse.ravel()[tris]
        texcoords = uvs[first] * np.float32([1, -1]) + np.float32([0, 1])  # glTF's v origin is the top
    if y_up:
        positions = convert_axes(positions, True)
    blobs = [positions.tobytes(), indices.astype(np.uint32).tobytes()]
    blobs += [] if texcoords is None else [texcoords.tobytes()]
    blobs += [png for _role, png in pngs]
    views, offset = [], 0
    for number, blob in enumerate(blobs):
        views.append({"buffer": 0, "byteOffset": offset, "byteLength": len(blob)})
        if number < 3:  # vertex / index data; views 3 on, the images, have no GPU buffer target
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
    if pngs:
        material = add_textures(doc, [role for role, _png in pngs], [3 + n for n in range(len(pngs))])
        doc["materials"] = [{"name": f"{name}_material", **material}]
        primitive["material"] = 0
    glb = pack_glb(doc, b"".join(blob + b"\0" * (-len(blob) % 4) for blob in blobs), path)
    logger.debug("built GLB (%d triangles) in %.3f s", len(tris), time.perf_counter() - started)
    return glb


# ---------------------------------------------------------------------------------------------- readers
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
    chunks = _glb_chunks(read_source(source))
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
            if not np.isfinite(pos).all():
                raise NonFiniteError("glTF vertex positions must be finite")
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
    except NonFiniteError:
        raise
    except (KeyError, IndexError, TypeError, AttributeError, ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"malformed glTF: {error!r}") from None
    corners = np.concatenate(tris) if tris else np.zeros(0, np.int64)
    corner_uvs = np.concatenate(uvs) if uvs and all(u is not None for u in uvs) else None
    positions = np.concatenate(verts) if verts else np.zeros((0, 3))
    return mesh_dict(positions, np.full(corners.size // 3, 3), corners, corner_uvs, y_up)
