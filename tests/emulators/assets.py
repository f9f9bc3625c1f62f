# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure-Python generation of the REAL result files the emulators serve (no bpy, no numpy).

- ``sphere_obj``: a cube-sphere (diameter 1 unit, Y-up) as Wavefront OBJ with ``vt`` UVs, quads or triangles,
  positions shared across cube-face seams (a closed manifold once imported).
- ``sphere_glb``: the same sphere as a glTF 2.0 binary: triangles, uint32 indices, POSITION with min/max,
  NORMAL, optional TEXCOORD_0 and, for "bake" results, an embedded PNG base-colour texture and material.
- ``png_bytes``: a minimal RGB PNG writer (zlib + CRC); ``base_color_png``/``pbr_textures_zip`` build on it.
- ``vmdl_text``: an s&box ModelDoc KV3 text file (RenderMeshList with one RenderMeshFile per LoD and a
  LODGroupList, LOD0 at 0.0), following the Facepunch sample quoted in NOTES.md.
- ``read_glb``/``obj_face_count``/``is_fbx``: small readers used by emulators and tests.

Face counts are quantised to the cube-sphere grid (6·n² quads, 12·n² triangles); every generator returns the
count it actually produced so the emulators can report and record the truth.
"""

from __future__ import annotations

import io
import json
import math
import struct
import sys
import zipfile
import zlib
from array import array
from collections.abc import Callable, Iterator
from typing import Any

__all__ = (
    "FBX_BINARY_MAGIC",
    "base_color_png",
    "grid_size",
    "is_fbx",
    "is_glb",
    "obj_face_count",
    "pbr_textures_zip",
    "png_bytes",
    "png_size",
    "read_glb",
    "render_png",
    "sphere_glb",
    "sphere_obj",
    "vmdl_text",
)

FBX_BINARY_MAGIC = b"Kaydara FBX Binary  \x00"
GLB_MAGIC = b"glTF"
MAX_GRID = 64  # 6*64*64 = 24576 quads: the largest sphere generated, to keep tests fast

Vec = tuple[float, float, float]

# (normal, u axis, v axis) per cube face, with u x v == normal so quads wind counter-clockwise from outside.
_FACES: tuple[tuple[Vec, Vec, Vec], ...] = (
    ((1, 0, 0), (0, 0, -1), (0, 1, 0)),
    ((-1, 0, 0), (0, 0, 1), (0, 1, 0)),
    ((0, 1, 0), (1, 0, 0), (0, 0, -1)),
    ((0, -1, 0), (1, 0, 0), (0, 0, 1)),
    ((0, 0, 1), (1, 0, 0), (0, 1, 0)),
    ((0, 0, -1), (-1, 0, 0), (0, 1, 0)),
)


def grid_size(faces: int, per_cell: int = 1) -> int:
    """Subdivisions per cube edge giving about ``faces`` faces (``per_cell`` = 2 for triangles)."""
    return max(1, min(MAX_GRID, round(math.sqrt(max(1, faces) / (6 * per_cell)))))


def _face_grid(n: int) -> Iterator[tuple[int, tuple[int, int, int], Vec, tuple[float, float], int, int]]:
    """Yield (face, integer cube key, unit position, atlas uv, i, j) for each grid point of each cube face."""
    for f, (normal, u_axis, v_axis) in enumerate(_FACES):
        col, row = f % 3, f // 3
        for j in range(n + 1):
            for i in range(n + 1):
                a, b = 2 * i - n, 2 * j - n
                key = tuple(n * normal[k] + a * u_axis[k] + b * v_axis[k] for k in range(3))
                length = math.sqrt(sum(c * c for c in key))
                pos = (key[0] / length, key[1] / length, key[2] / length)
                uv = ((col + 0.02 + 0.96 * i / n) / 3, (row + 0.02 + 0.96 * j / n) / 2)
                yield f, key, pos, uv, i, j  # type: ignore[misc]


def sphere_obj(faces: int, *, quads: bool = True, name: str = "retopo_mesh") -> tuple[str, int]:
    """OBJ text of a unit-diameter sphere with about ``faces`` faces; returns (text, faces written)."""
    n = grid_size(faces, 1 if quads else 2)
    positions: dict[tuple[int, int, int], int] = {}
    lines_v: list[str] = []
    lines_vt: list[str] = []
    index: dict[tuple[int, int, int], tuple[int, int]] = {}
    for f, key, pos, uv, i, j in _face_grid(n):
        if key not in positions:
            positions[key] = len(positions) + 1
            lines_v.append(f"v {pos[0] * 0.5:.6f} {pos[1] * 0.5:.6f} {pos[2] * 0.5:.6f}")
        lines_vt.append(f"vt {uv[0]:.6f} {uv[1]:.6f}")
        index[(f, i, j)] = (positions[key], len(lines_vt))
    lines_f: list[str] = []
    for f in range(6):
        for j in range(n):
            for i in range(n):
                corners = [
                    index[(f, i, j)],
                    index[(f, i + 1, j)],
                    index[(f, i + 1, j + 1)],
                    index[(f, i, j + 1)],
                ]
                polys = [corners] if quads else [corners[:3], [corners[0], corners[2], corners[3]]]
                lines_f.extend("f " + " ".join(f"{p}/{t}" for p, t in poly) for poly in polys)
    header = [f"# Retopo Hub test emulator: cube sphere, {len(lines_f)} faces", f"o {name}"]
    return "\n".join([*header, *lines_v, *lines_vt, "s 1", *lines_f, ""]), len(lines_f)


def obj_face_count(data: bytes) -> int | None:
    """Number of ``f`` records in an OBJ file, or None when it does not look like OBJ text."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    count = sum(1 for line in text.splitlines() if line.startswith("f "))
    has_vertices = any(line.startswith("v ") for line in text.splitlines())
    return count if has_vertices else None


def is_fbx(data: bytes) -> bool:
    return data.startswith(FBX_BINARY_MAGIC) or data.lstrip()[:5] == b"; FBX"


def is_glb(data: bytes) -> bool:
    return data[:4] == GLB_MAGIC


# ------------------------------------------------------------ PNG
def png_bytes(width: int, height: int, pixel: Callable[[int, int], tuple[int, int, int]]) -> bytes:
    """8-bit RGB PNG; ``pixel(x, y)`` gives each colour."""
    raw = bytearray()
    for y in range(height):
        raw.append(0)  # filter type None
        for x in range(width):
            raw.extend(pixel(x, y))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(raw), 6))
        + chunk(b"IEND", b"")
    )


def png_size(data: bytes) -> tuple[int, int] | None:
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def base_color_png(size: int = 64) -> bytes:
    """A baked-looking base colour: a warm checker so UV mistakes are visible."""
    cell = max(1, size // 8)
    return png_bytes(
        size, size, lambda x, y: (200, 120, 60) if (x // cell + y // cell) % 2 else (240, 200, 150)
    )


def render_png(size: int = 128) -> bytes:
    """A preview render: a shaded grey disc on white, like a turntable thumbnail."""

    def shade(x: int, y: int) -> tuple[int, int, int]:
        dx, dy = (x - size / 2) / (size * 0.4), (y - size / 2) / (size * 0.4)
        d2 = dx * dx + dy * dy
        if d2 > 1:
            return (255, 255, 255)
        level = int(60 + 150 * math.sqrt(1 - d2) * (0.6 - 0.4 * dx * 0.7 - 0.4 * dy * 0.7))
        level = max(0, min(255, level))
        return (level, level, level)

    return png_bytes(size, size, shade)


def pbr_textures_zip(
    materials: list[tuple[str, int, int]],
    *,
    normal_strength: float = 1.5,
    roughness_base: int = 180,
    ao_strength: float = 0.3,
) -> bytes:
    """Zip of ``<material>_normal.png``, ``_roughness.png`` and ``_ao.png`` for each (name, width, height)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, width, height in materials:
            tilt = max(0, min(127, int(20 * normal_strength)))
            archive.writestr(
                f"{name}_normal.png",
                png_bytes(width, height, lambda x, _y, t=tilt: (128 + (t if x % 8 < 4 else -t), 128, 255)),
            )
            rough = max(0, min(255, int(roughness_base)))
            archive.writestr(
                f"{name}_roughness.png", png_bytes(width, height, lambda _x, _y, r=rough: (r, r, r))
            )
            ao = int(255 * (1 - 0.5 * ao_strength))
            archive.writestr(
                f"{name}_ao.png",
                png_bytes(width, height, lambda _x, y, a=ao: (a, a, a) if y % 16 < 2 else (255,) * 3),
            )
    return buffer.getvalue()


# ------------------------------------------------------------ GLB
def _le(values: array) -> bytes:  # type: ignore[type-arg]
    if sys.byteorder != "little":
        values.byteswap()
    return values.tobytes()


def sphere_glb(
    triangles: int, *, uvs: bool = True, texture: bool = False, name: str = "retopo_mesh"
) -> tuple[bytes, int]:
    """GLB of a unit-diameter sphere with about ``triangles`` triangles; returns (bytes, triangles)."""
    n = grid_size(triangles, 2)
    pos = array("f")
    nrm = array("f")
    tex = array("f")
    for _f, _key, unit, uv, _i, _j in _face_grid(n):
        pos.extend(c * 0.5 for c in unit)
        nrm.extend(unit)
        tex.extend((uv[0], 1.0 - uv[1]))  # glTF puts the UV origin at the top left
    idx = array("I")
    assert idx.itemsize == 4
    row = n + 1
    for f in range(6):
        base = f * row * row
        for j in range(n):
            for i in range(n):
                a, b = base + j * row + i, base + j * row + i + 1
                c, d = b + row, a + row
                idx.extend((a, b, c, a, c, d))
    count = len(pos) // 3
    blobs: list[tuple[bytes, int | None]] = [(_le(pos), 34962), (_le(nrm), 34962)]
    if uvs or texture:
        blobs.append((_le(tex), 34962))
    blobs.append((_le(idx), 34963))
    if texture:
        blobs.append((base_color_png(64), None))
    views: list[dict[str, int]] = []
    binary = bytearray()
    for blob, target in blobs:
        view = {"buffer": 0, "byteOffset": len(binary), "byteLength": len(blob)}
        if target is not None:
            view["target"] = target
        views.append(view)
        binary.extend(blob)
        binary.extend(b"\x00" * (-len(binary) % 4))
    accessors: list[dict[str, object]] = [
        {
            "bufferView": 0,
            "componentType": 5126,
            "count": count,
            "type": "VEC3",
            "min": [min(pos[k::3]) for k in range(3)],
            "max": [max(pos[k::3]) for k in range(3)],
        },
        {"bufferView": 1, "componentType": 5126, "count": count, "type": "VEC3"},
    ]
    attributes = {"POSITION": 0, "NORMAL": 1}
    if uvs or texture:
        attributes["TEXCOORD_0"] = 2
        accessors.append({"bufferView": 2, "componentType": 5126, "count": count, "type": "VEC2"})
    accessors.append(
        {"bufferView": len(accessors), "componentType": 5125, "count": len(idx), "type": "SCALAR"}
    )
    material: dict[str, object] = {
        "name": f"{name}_material",
        "pbrMetallicRoughness": {"metallicFactor": 0.0, "roughnessFactor": 0.8},
    }
    doc: dict[str, object] = {
        "asset": {"version": "2.0", "generator": "Retopo Hub test emulator"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": name}],
        "meshes": [
            {
                "name": name,
                "primitives": [
                    {"attributes": attributes, "indices": len(accessors) - 1, "mode": 4, "material": 0}
                ],
            }
        ],
        "materials": [material],
        "accessors": accessors,
        "bufferViews": views,
        "buffers": [{"byteLength": len(binary)}],
    }
    if texture:
        material["pbrMetallicRoughness"]["baseColorTexture"] = {"index": 0}  # type: ignore[index]
        doc["images"] = [{"bufferView": len(views) - 1, "mimeType": "image/png", "name": f"{name}_basecolor"}]
        doc["samplers"] = [{"magFilter": 9729, "minFilter": 9987, "wrapS": 10497, "wrapT": 10497}]
        doc["textures"] = [{"source": 0, "sampler": 0}]
    text = json.dumps(doc, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)
    total = 12 + 8 + len(text) + 8 + len(binary)
    out = struct.pack("<4sII", GLB_MAGIC, 2, total)
    out += struct.pack("<I4s", len(text), b"JSON") + text
    out += struct.pack("<I4s", len(binary), b"BIN\x00") + bytes(binary)
    return out, len(idx) // 3


def read_glb(data: bytes) -> tuple[dict[str, Any], bytes]:
    """Split a GLB into its JSON document and BIN chunk; raises ValueError when it is not a valid GLB."""
    if len(data) < 20 or data[:4] != GLB_MAGIC:
        raise ValueError("not a GLB (bad magic)")
    _magic, version, total = struct.unpack_from("<4sII", data, 0)
    if version != 2 or total != len(data):
        raise ValueError(f"GLB header says version {version}, length {total}; file has {len(data)} bytes")
    length, kind = struct.unpack_from("<I4s", data, 12)
    if kind != b"JSON":
        raise ValueError("first GLB chunk is not JSON")
    doc = json.loads(data[20 : 20 + length])
    binary = b""
    offset = 20 + length
    if offset + 8 <= len(data):
        blen, bkind = struct.unpack_from("<I4s", data, offset)
        if bkind == b"BIN\x00":
            binary = data[offset + 8 : offset + 8 + blen]
    return doc, binary


# ------------------------------------------------------------ VMDL
_KV3_HEADER = (
    "<!-- kv3 encoding:text:version{e21c7f3c-8a33-41c5-9977-a76d3a32aa0d} "
    "format:modeldoc29:version{3cec427c-1b0e-4d48-a90a-0436f33a6041} -->"
)


def _kv_float(value: float) -> str:
    text = f"{float(value):.4f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def vmdl_text(lod_files: list[str], thresholds: list[float]) -> str:
    """KV3 ModelDoc text with one RenderMeshFile ``LOD<i>`` per file and one LODGroup per LoD."""
    if len(lod_files) != len(thresholds):
        raise ValueError("one threshold per LoD file")
    t = "\t"
    out = [
        _KV3_HEADER,
        "{",
        f"{t}rootNode = ",
        f"{t}{{",
        f'{t * 2}_class = "RootNode"',
        f"{t * 2}children = ",
        f"{t * 2}[",
    ]
    out += [f"{t * 3}{{", f'{t * 4}_class = "RenderMeshList"', f"{t * 4}children = ", f"{t * 4}["]
    for level, filename in enumerate(lod_files):
        i5, i6 = t * 5, t * 6
        out += [
            f"{i5}{{",
            f'{i6}_class = "RenderMeshFile"',
            f'{i6}name = "LOD{level}"',
            f'{i6}filename = "{filename}"',
        ]
        out += [f"{i6}import_translation = [ 0.0, 0.0, 0.0 ]", f"{i6}import_rotation = [ 0.0, 0.0, 0.0 ]"]
        out += [f"{i6}import_scale = 1.0"] + [f'{i6}align_origin_{a}_type = "None"' for a in "xyz"]
        out += [
            f'{i6}parent_bone = ""',
            f"{i6}import_filter = ",
            f"{i6}{{",
            f"{i6}\texclude_by_default = false",
        ]
        out += [f"{i6}\texception_list = [  ]", f"{i6}}}", f"{i5}}},"]
    out += [
        f"{t * 4}]",
        f"{t * 3}}},",
        f"{t * 3}{{",
        f'{t * 4}_class = "LODGroupList"',
        f"{t * 4}children = ",
        f"{t * 4}[",
    ]
    for level, threshold in enumerate(thresholds):
        i5, i6 = t * 5, t * 6
        out += [f"{i5}{{", f'{i6}_class = "LODGroup"', f"{i6}switch_threshold = {_kv_float(threshold)}"]
        out += [f"{i6}meshes = ", f"{i6}[", f'{i6}\t"LOD{level}",', f"{i6}]", f"{i5}}},"]
    out += [f"{t * 4}]", f"{t * 3}}},", f"{t * 2}]"]
    out += [
        f'{t * 2}{key} = ""'
        for key in ("model_archetype", "primary_associated_entity", "anim_graph_name", "base_model_name")
    ]
    out += [f"{t}}}", "}", ""]
    return "\n".join(out)
