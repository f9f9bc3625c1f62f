# SPDX-License-Identifier: GPL-3.0-or-later
"""core.fbxfile without Blender: the binary structure, read back by a small reader of our own, and refusals.

Blender's own importer reading these files is tests/blender/test_fbx_import.py.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from retopo_hub.formats.fbx import write_fbx
from retopo_hub.formats.mesh import material_slots

ARRAY_TYPES = {b"i": "<i4", b"l": "<i8", b"f": "<f4", b"d": "<f8"}
SCALARS = {b"I": "<i", b"L": "<q", b"D": "<d", b"F": "<f", b"Y": "<h", b"C": "<c", b"B": "<?"}


def _node(data: bytes, offset: int) -> tuple[tuple | None, int]:
    """(name, props, children) at ``offset`` and where the next node starts; None for a null record."""
    end, count, length, name_length = struct.unpack_from("<3IB", data, offset)
    if end == 0:
        assert data[offset : offset + 13] == b"\0" * 13
        return None, offset + 13
    name = data[offset + 13 : offset + 13 + name_length].decode()
    pos = offset + 13 + name_length
    props_end = pos + length
    props = []
    for _ in range(count):
        code, pos = data[pos : pos + 1], pos + 1
        if code in SCALARS:
            (value,) = struct.unpack_from(SCALARS[code], data, pos)
            pos += struct.calcsize(SCALARS[code])
        elif code in (b"S", b"R"):
            (size,) = struct.unpack_from("<I", data, pos)
            value, pos = data[pos + 4 : pos + 4 + size], pos + 4 + size
        else:
            size, encoding, stored = struct.unpack_from("<3I", data, pos)
            raw = data[pos + 12 : pos + 12 + stored]
            value = np.frombuffer(zlib.decompress(raw) if encoding == 1 else raw, ARRAY_TYPES[code])
            assert value.size == size and encoding == (1 if size * value.itemsize > 128 else 0)
            pos += 12 + stored
        props.append(value)
    assert pos == props_end, f"{name}: property bytes do not add up"
    children = []
    if pos < end:
        while True:
            child, pos = _node(data, pos)
            if child is None:
                break
            children.append(child)
    assert pos == end, f"{name}: the end offset is wrong"
    return (name, props, children), pos


def read(path: Path) -> dict:
    data = path.read_bytes()
    assert data[:23] == b"Kaydara FBX Binary  \x00\x1a\x00" and struct.unpack_from("<I", data, 23)[0] == 7400
    top, pos = [], 27
    while True:
        node, pos = _node(data, pos)
        if node is None:
            break
        top.append(node)
    footer, pad = data[pos:], len(data) - pos - 160  # id and 4 zeros, padding, version, 120 zeros, tail
    assert footer[:20] == bytes.fromhex("fabcab09d0c8d466b176fb831cf7267e") + b"\0" * 4
    assert 1 <= pad <= 16 and (pos + 20 + pad) % 16 == 0 and not footer[20 : 20 + pad].strip(b"\0")
    assert struct.unpack_from("<I", footer, len(footer) - 140)[0] == 7400
    assert footer.endswith(bytes.fromhex("f85a8c6adef5d97eece90ce3758f290b"))
    return {name: (props, children) for name, props, children in top}


def child(children: list, name: str) -> tuple:
    (found,) = [c for c in children if c[0] == name]
    return found


def pyramid() -> dict:
    verts = np.array([[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0], [0, 0, 2], [0, -2, 0]], np.float32)
    corners = np.array([5, 1, 2, 3, 0, 0, 1, 4, 1, 2, 4, 2, 3, 4, 3, 0, 4], np.int32)
    sizes = np.array([5, 3, 3, 3, 3], np.int32)  # a pentagon base (n-gon) and four triangles
    uvs = (verts[corners, :2] * 0.25 + 0.5).astype(np.float32)
    return {"verts": verts, "face_sizes": sizes, "corner_verts": corners, "corner_uvs": uvs}


def test_structure_geometry_and_links(tmp_path: Path) -> None:
    mesh, path = pyramid(), tmp_path / "p.fbx"
    write_fbx(path, **mesh, face_materials=np.array([2, 0, 1, 2, 7]), material_names=["Stone", "", "Moss"],
              object_name="Py\nramid")  # fmt: skip
    nodes = read(path)
    assert {"FBXHeaderExtension", "GlobalSettings", "Documents", "References", "Definitions", "Objects",
            "Connections", "Takes"} <= set(nodes)  # fmt: skip
    settings = {p[1][0].decode(): p[1][4:] for p in child(nodes["GlobalSettings"][1], "Properties70")[2]}
    assert settings["UpAxis"] == [1] and settings["FrontAxis"] == [2] and settings["CoordAxis"] == [0]
    assert settings["UnitScaleFactor"] == [1.0] and settings["CustomFrameRate"] == [24.0]
    objects = nodes["Objects"][1]
    (geometry,) = [o for o in objects if o[0] == "Geometry"]
    assert geometry[1][1] == b"Py ramid\x00\x01Geometry" and geometry[1][2] == b"Mesh"
    geo = geometry[2]
    np.testing.assert_array_equal(child(geo, "Vertices")[1][0].reshape(-1, 3), mesh["verts"])
    pvi = child(geo, "PolygonVertexIndex")[1][0]
    assert (pvi < 0).sum() == 5 and np.flatnonzero(pvi < 0).tolist() == [4, 7, 10, 13, 16]
    np.testing.assert_array_equal(np.where(pvi < 0, ~pvi, pvi), mesh["corner_verts"])
    assert len(child(geo, "Edges")[1][0]) == 10  # 5 around the pentagon, 5 more that only triangles use
    uv = child(geo, "LayerElementUV")[2]
    assert child(uv, "MappingInformationType")[1] == [b"ByPolygonVertex"]
    values, index = child(uv, "UV")[1][0].reshape(-1, 2), child(uv, "UVIndex")[1][0]
    np.testing.assert_array_equal(values[index], mesh["corner_uvs"])
    assert len(values) == len(mesh["verts"])  # equal UVs stored once
    materials = child(geo, "LayerElementMaterial")[2]
    assert child(materials, "MappingInformationType")[1] == [b"ByPolygon"]
    assert child(materials, "Materials")[1][0].tolist() == [1, 0, 0, 1, 0]  # empty/unknown slots -> first
    names = [o[1][1] for o in objects if o[0] == "Material"]
    assert names == [b"Stone\x00\x01Material", b"Moss\x00\x01Material"]
    ids = {o[1][1].split(b"\x00")[0].decode() + o[0]: o[1][0] for o in objects}
    links = [tuple(c[1]) for c in nodes["Connections"][1]]
    model = ids["Py ramidModel"]
    assert links == [(b"OO", model, 0), (b"OO", ids["Py ramidGeometry"], model),
                     (b"OO", ids["StoneMaterial"], model), (b"OO", ids["MossMaterial"], model)]  # fmt: skip
    assert list(tmp_path.iterdir()) == [path]  # the temporary file is gone


def test_without_uvs_or_materials_no_layers_are_written(tmp_path: Path) -> None:
    mesh = pyramid()
    del mesh["corner_uvs"]
    write_fbx(tmp_path / "bare.fbx", **mesh, material_names=["", ""])
    geo = read(tmp_path / "bare.fbx")["Objects"][1][0][2]
    assert not [c for c in geo if c[0].startswith("LayerElement")]
    assert child(geo, "Layer")[2] == [("Version", [100], [])]


def test_large_arrays_are_compressed(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    verts = rng.random((30_000, 3)).astype(np.float32)
    corners = rng.integers(0, len(verts), 3 * 40_000).astype(np.int32)
    write_fbx(tmp_path / "big.fbx", verts, np.full(40_000, 3), corners)  # read() checks the encodings
    geo = read(tmp_path / "big.fbx")["Objects"][1][0][2]
    np.testing.assert_array_equal(child(geo, "Vertices")[1][0].reshape(-1, 3), verts)


BAD = [
    ({"verts": np.zeros((3, 2))}, "verts must be finite"),
    ({"verts": np.array([[0, 0, 0], [1, 0, 0], [np.nan, 1, 0]])}, "verts must be finite"),
    ({"face_sizes": [2]}, "at least 3 corners"),
    ({"corner_verts": [0, 1, 5]}, "out of range"),
    ({"corner_verts": [0, 1]}, "corner_verts has 2 entries"),
    ({"corner_uvs": np.zeros((2, 2))}, "corner_uvs must be finite"),
    ({"face_materials": [0, 1]}, "face_materials must be integers"),
    ({"face_materials": [0.5]}, "face_materials must be integers"),
    ({"material_names": ["Bad\0Name"]}, "NUL"),
    ({"face_sizes": [], "corner_verts": []}, "at least one face"),
]


@pytest.mark.parametrize(("change", "message"), BAD, ids=[m for _c, m in BAD])
def test_malformed_input_is_refused_with_nothing_written(tmp_path: Path, change: dict, message: str) -> None:
    mesh = {"verts": np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], np.float32), "face_sizes": [3],
            "corner_verts": [0, 1, 2]} | change  # fmt: skip
    with pytest.raises(ValueError, match=message):
        write_fbx(tmp_path / "bad.fbx", **mesh)
    assert not list(tmp_path.iterdir())


def test_material_slots_follow_blenders_exporters() -> None:
    assert material_slots(None, ["", ""], 3) == ([], None)
    names, per_face = material_slots(None, ["", "A", "A", "B"], 3)
    assert names == ["A", "B"] and per_face.tolist() == [0, 0, 0]
    names, per_face = material_slots(np.array([0, 1, 2, 3, -1, 9], np.int16), ["", "A", "A", "B"], 6)
    assert names == ["A", "B"] and per_face.tolist() == [0, 0, 0, 1, 0, 0]
    assert per_face.dtype == np.int32
