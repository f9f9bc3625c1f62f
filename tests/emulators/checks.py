# SPDX-License-Identifier: GPL-3.0-or-later
"""Stdlib validators for downloaded result files, shared by the emulator tests and the product's tests.

Each function parses a file strictly and raises ``ValueError`` naming the first problem, so a test can simply
call it on whatever a client downloaded (from an emulator or, in principle, a real service):

- ``obj_stats``: every ``f`` corner indexes an existing ``v`` / ``vt``; returns counts and polygon sizes.
- ``glb_stats``: glTF 2.0 binary header and chunks, POSITION min/max present and respected, uint32 (or
  smaller) indices in range, optional TEXCOORD_0 and embedded PNG base-colour texture.
- ``png_stats``: signature, every chunk's CRC, IHDR size and the inflated IDAT length (8-bit RGB/RGBA/grey).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Any

from .assets import read_glb

__all__ = ("GlbStats", "ObjStats", "glb_stats", "obj_stats", "png_stats")

_INDEX_FORMATS = {5121: "B", 5123: "H", 5125: "I"}
_PNG_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}


@dataclass(frozen=True)
class ObjStats:
    vertices: int
    uvs: int
    sides: tuple[int, ...]

    @property
    def faces(self) -> int:
        return len(self.sides)


@dataclass(frozen=True)
class GlbStats:
    vertices: int
    triangles: int
    has_uvs: bool
    textured: bool
    minimum: tuple[float, ...]
    maximum: tuple[float, ...]


def obj_stats(data: bytes | str) -> ObjStats:
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    lines = text.splitlines()
    verts = sum(1 for line in lines if line.startswith("v "))
    uvs = sum(1 for line in lines if line.startswith("vt "))
    sides: list[int] = []
    for number, line in enumerate(lines, 1):
        if not line.startswith("f "):
            continue
        corners = line.split()[1:]
        if len(corners) < 3:
            raise ValueError(f"line {number}: a face needs at least 3 corners")
        for corner in corners:
            refs = corner.split("/")
            if not 1 <= int(refs[0]) <= verts or (len(refs) > 1 and refs[1] and not 1 <= int(refs[1]) <= uvs):
                raise ValueError(f"line {number}: corner {corner} indexes a missing vertex or uv")
        sides.append(len(corners))
    if not sides:
        raise ValueError("OBJ has no faces")
    return ObjStats(verts, uvs, tuple(sides))


def glb_stats(data: bytes) -> GlbStats:
    doc, binary = read_glb(data)
    if doc.get("asset", {}).get("version") != "2.0":
        raise ValueError("asset.version is not 2.0")
    accessors: list[Any] = doc["accessors"]
    views: list[Any] = doc["bufferViews"]
    prim = doc["meshes"][0]["primitives"][0]
    pos = accessors[prim["attributes"]["POSITION"]]
    if len(pos.get("min", ())) != 3 or len(pos.get("max", ())) != 3:
        raise ValueError("POSITION accessor lacks min/max")
    view = views[pos["bufferView"]]
    coords = struct.unpack_from(f"<{3 * pos['count']}f", binary, view.get("byteOffset", 0))
    for axis in range(3):
        values = coords[axis::3]
        if min(values) < pos["min"][axis] - 1e-5 or max(values) > pos["max"][axis] + 1e-5:
            raise ValueError("POSITION values fall outside the accessor's min/max")
    idx = accessors[prim["indices"]]
    fmt = _INDEX_FORMATS.get(idx["componentType"])
    if fmt is None:
        raise ValueError(f"unsupported index componentType {idx['componentType']}")
    indices = struct.unpack_from(
        f"<{idx['count']}{fmt}", binary, views[idx["bufferView"]].get("byteOffset", 0)
    )
    if max(indices) >= pos["count"] or idx["count"] % 3:
        raise ValueError("indices out of range or not a triangle list")
    textured = False
    images = doc.get("images") or []
    if images:
        image_view = views[images[0]["bufferView"]]
        start = image_view.get("byteOffset", 0)
        png_stats(binary[start : start + image_view["byteLength"]])
        textured = True
    return GlbStats(
        pos["count"],
        idx["count"] // 3,
        "TEXCOORD_0" in prim["attributes"],
        textured,
        tuple(pos["min"]),
        tuple(pos["max"]),
    )


def png_stats(data: bytes) -> tuple[int, int]:
    """(width, height) of a valid PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG (bad signature)")
    offset, idat, header = 8, b"", b""
    while offset + 12 <= len(data):
        (length,) = struct.unpack_from(">I", data, offset)
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack_from(">I", data, offset + 8 + length)
        if crc != zlib.crc32(kind + body):
            raise ValueError(f"PNG chunk {kind!r} has a bad CRC")
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        offset += 12 + length
        if kind == b"IEND":
            break
    else:
        raise ValueError("PNG has no IEND chunk")
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    if depth == 8 and colour in _PNG_CHANNELS:
        expected = height * (1 + _PNG_CHANNELS[colour] * width)
        if len(zlib.decompress(idat)) != expected:
            raise ValueError("PNG image data has the wrong size")
    return width, height
