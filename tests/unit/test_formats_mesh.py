# SPDX-License-Identifier: GPL-3.0-or-later
"""formats.obj and formats.glb: round trips of Blender-layout arrays, glTF structure, Blender's importers."""

from __future__ import annotations

import base64
import json
import struct
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest
from retopo_hub.formats import obj as objfile
from retopo_hub.formats.glb import glb_data_uri, read_glb, write_glb
from retopo_hub.formats.mesh import face_stats
from retopo_hub.formats.obj import read_obj, write_obj

JSON_CHUNK, BIN_CHUNK = 0x4E4F534A, 0x004E4942


# ---------------------------------------------------------------------------------------------- fixtures
def quad_grid(nx: int = 6, ny: int = 4) -> dict:
    """A bumpy (nx x ny)-quad sheet in XY, UVs continuous across it (no seams)."""
    xs, ys = (g.ravel() for g in np.meshgrid(np.linspace(-1.5, 2.5, nx + 1), np.linspace(-0.5, 1, ny + 1)))
    verts = np.stack([xs, ys, 0.3 * np.sin(3 * xs) + 0.1 * ys], axis=1).astype(np.float32)
    a = (np.arange(nx)[None, :] + np.arange(ny)[:, None] * (nx + 1)).ravel()
    corners = np.stack([a, a + 1, a + nx + 2, a + nx + 1], axis=1).ravel().astype(np.int32)
    uvs = np.stack([(xs + 1.5) / 4.0, (ys + 0.5) / 1.5], axis=1)[corners].astype(np.float32)
    return dict(verts=verts, face_sizes=np.full(nx * ny, 4, np.int32), corner_verts=corners, corner_uvs=uvs)


def uv_cube() -> dict:
    """Box from (-1, -1, 0) to (1, 2, 3) whose six faces are separate UV islands (seams everywhere)."""
    verts = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 2) for z in (0, 3)], np.float32)
    faces = [[0, 1, 3, 2], [4, 6, 7, 5], [0, 4, 5, 1], [2, 3, 7, 6], [0, 2, 6, 4], [1, 5, 7, 3]]
    square = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float32) * 0.3
    uvs = np.concatenate([square + np.float32([0.33 * (i % 3), 0.5 * (i // 3)]) for i in range(6)])
    return dict(verts=verts, face_sizes=np.full(6, 4, np.int32), corner_verts=np.ravel(faces), corner_uvs=uvs)


def mixed_mesh() -> dict:
    """A triangle, a quad and a pentagon sharing edges (no UVs)."""
    verts = [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [2, 0, 1], [2, 1, 1], [2.5, 2, 1.5], [1, 2, 0.5]]
    corners = np.array([0, 1, 3, 1, 4, 5, 2, 2, 5, 6, 7, 3], np.int32)
    return dict(
        verts=np.array(verts, np.float32), face_sizes=np.array([3, 4, 5], np.int32), corner_verts=corners
    )


def tiny_png(width: int = 4, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    pixels = zlib.compress(b"".join(b"\0" + bytes([200, 30, 30, 255]) * width for _ in range(height)))
    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def z_to_y(verts: np.ndarray) -> np.ndarray:
    return np.stack([verts[:, 0], verts[:, 2], -verts[:, 1]], axis=1)


def sorted_rows(points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64)
    return points[np.lexsort(points.T[::-1])]


def fan(face_sizes: np.ndarray) -> np.ndarray:
    """Reference fan triangulation, one Python loop per face (the module's is vectorised)."""
    out, start = [], 0
    for size in face_sizes:
        out += [[start, start + i, start + i + 1] for i in range(1, size - 1)]
        start += size
    return np.array(out)


def split_glb(data: bytes) -> tuple[dict, bytes]:
    """Independent GLB container parser that checks the writer's framing and padding."""
    assert struct.unpack_from("<4sII", data) == (b"glTF", 2, len(data))
    json_len, json_type = struct.unpack_from("<II", data, 12)
    text = data[20 : 20 + json_len]
    assert (
        json_type == JSON_CHUNK
        and json_len % 4 == 0
        and text.endswith(b"}" + b" " * (len(text) - len(text.rstrip())))
    )
    bin_len, bin_type = struct.unpack_from("<II", data, 20 + json_len)
    assert bin_type == BIN_CHUNK and bin_len % 4 == 0 and 28 + json_len + bin_len == len(data)
    return json.loads(text), data[28 + json_len :]


def build_glb(doc: dict, body: bytes) -> bytes:
    text = json.dumps(doc).encode() + b" " * (-len(json.dumps(doc)) % 4)
    body += b"\0" * (-len(body) % 4)
    chunks = (
        struct.pack("<II", len(text), JSON_CHUNK) + text + struct.pack("<II", len(body), BIN_CHUNK) + body
    )
    return struct.pack("<4sII", b"glTF", 2, 12 + len(chunks)) + chunks


def accessor(doc: dict, body: bytes, index: int) -> np.ndarray:
    acc = doc["accessors"][index]
    dtype, width = (
        {5126: np.float32, 5125: np.uint32}[acc["componentType"]],
        {"SCALAR": 1, "VEC2": 2, "VEC3": 3}[acc["type"]],
    )
    offset = doc["bufferViews"][acc["bufferView"]]["byteOffset"] + acc.get("byteOffset", 0)
    return np.frombuffer(body, dtype, acc["count"] * width, offset).reshape(-1, width)


# ---------------------------------------------------------------------------------------------- helpers
def test_face_stats_and_data_uri() -> None:
    assert face_stats([3, 4, 4, 5, 8, 3, 4]) == {"faces": 7, "quads": 3, "tris": 2, "ngons": 2}
    assert face_stats(np.zeros(0, np.int32)) == {"faces": 0, "quads": 0, "tris": 0, "ngons": 0}
    uri = glb_data_uri(b"glTF\x02\x00")
    assert uri.startswith("data:model/gltf-binary;base64,") and base64.b64decode(uri[30:]) == b"glTF\x02\x00"


# ---------------------------------------------------------------------------------------------- OBJ
def test_obj_text_keeps_quads_and_ngons_and_converts_to_y_up(tmp_path: Path) -> None:
    mesh, path = mixed_mesh(), tmp_path / "mixed.obj"
    write_obj(path, **mesh, object_name="My\nMesh")
    lines = path.read_text().splitlines()
    assert "o My Mesh" in lines  # an object name cannot break the line structure
    v_lines = [line.split()[1:] for line in lines if line.startswith("v ")]
    np.testing.assert_array_equal(np.array(v_lines, float), z_to_y(mesh["verts"]))
    f_lines = [line.split()[1:] for line in lines if line.startswith("f ")]
    assert [len(f) for f in f_lines] == [3, 4, 5]
    assert [int(i) for f in f_lines for i in f] == (mesh["corner_verts"] + 1).tolist()
    assert not any(line.startswith(("vt", "vn")) for line in lines)
    assert list(tmp_path.iterdir()) == [path]  # the temporary file is gone


@pytest.mark.parametrize("make", [quad_grid, uv_cube, mixed_mesh])
def test_obj_round_trip_is_exact(tmp_path: Path, make) -> None:
    mesh = make()
    write_obj(str(tmp_path / "m.obj"), **mesh)
    back = read_obj((tmp_path / "m.obj").read_bytes())
    for key in ("verts", "face_sizes", "corner_verts"):
        np.testing.assert_array_equal(back[key], mesh[key])
    assert (
        back["corner_uvs"] is None
        if "corner_uvs" not in mesh
        else (back["corner_uvs"] == mesh["corner_uvs"]).all()
    )
    assert back["verts"].dtype == np.float32 and back["corner_verts"].dtype == np.int32


def test_obj_float32_values_survive_bit_exactly(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    verts = (rng.standard_normal((500, 3)) * 10.0 ** rng.integers(-30, 30, (500, 3))).astype(np.float32)
    write_obj(tmp_path / "w.obj", verts, np.full(498, 3), (np.arange(498)[:, None] + np.arange(3)).ravel())
    np.testing.assert_array_equal(read_obj(tmp_path / "w.obj")["verts"], verts)


def test_obj_shares_vt_lines_between_equal_uvs(tmp_path: Path) -> None:
    mesh = quad_grid(5, 3)
    write_obj(tmp_path / "g.obj", **mesh)
    lines = (tmp_path / "g.obj").read_text().splitlines()
    assert sum(line.startswith("vt ") for line in lines) == len(mesh["verts"])  # one UV per grid vertex
    assert all("/" in corner for line in lines if line.startswith("f ") for corner in line.split()[1:])


def test_obj_groups_faces_per_material_in_slot_order(tmp_path: Path) -> None:
    mesh, path = mixed_mesh(), tmp_path / "m.obj"  # a triangle, a quad and a pentagon
    write_obj(path, **mesh, face_materials=np.array([1, 0, 1]), material_names=["Red \tPaint", "", "Blue"])
    assert [line.split()[0] for line in path.read_text().splitlines() if line[:2] in ("us", "f ")] == [
        "usemtl", "f", "f", "f",  # slot 1 is empty: its faces join the first named material, as in Blender
    ]  # fmt: skip
    write_obj(path, **mesh, face_materials=np.array([2, 0, 2]), material_names=["Red \tPaint", "", "Blue"])
    rows = [line for line in path.read_text().splitlines() if line[:2] in ("us", "f ")]
    assert [row if row.startswith("usemtl") else len(row.split()) - 1 for row in rows] == [
        "usemtl Red_Paint", 4, "usemtl Blue", 3, 5,
    ]  # fmt: skip
    back = read_obj(path, y_up=True)  # our reader skips usemtl and reads the regrouped faces
    np.testing.assert_array_equal(back["face_sizes"], [4, 3, 5])
    quad_first = [3, 4, 5, 6, 0, 1, 2, 7, 8, 9, 10, 11]
    np.testing.assert_array_equal(back["corner_verts"], mesh["corner_verts"][quad_first])
    np.testing.assert_array_equal(back["verts"], mesh["verts"])


def test_obj_write_failure_keeps_the_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "keep.obj"
    path.write_text("previous")

    def broken(*_args):
        yield b"f 1 2 3\n"
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(objfile, "_face_lines", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_obj(path, **mixed_mesh())
    assert path.read_text() == "previous" and list(tmp_path.iterdir()) == [path]


def test_concurrent_writers_to_one_path_leave_one_complete_file(tmp_path: Path) -> None:
    meshes = [quad_grid(20 + i, 10) for i in range(4)]
    threads = [threading.Thread(target=write_obj, args=(tmp_path / "same.obj",), kwargs=m) for m in meshes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    back = read_obj(tmp_path / "same.obj")
    assert any(np.array_equal(back["corner_verts"], m["corner_verts"]) for m in meshes)
    assert [p.name for p in tmp_path.iterdir()] == ["same.obj"]


READ_FORMS = b"""# exported by something else
mtllib nothing.mtl
o thing
v 0 0 0 1 0 0
v 1 0 0
v 1 1 0
 v 0 1 0
vt 0.25 0.5
vt 0.75 0.5 0.0
vn 0 1 0
g group
usemtl red
s off
f 1/1/1 2/2/1 3/1/1
f\t1//1 3//1 4//1
f -4/-2 -3/-1 \\
  -1/-1
l 1 2
v 5 5 5
f -4 -3 -1
"""


def test_read_obj_accepts_the_usual_corner_forms() -> None:
    mesh = read_obj(READ_FORMS, y_up=False)
    np.testing.assert_array_equal(mesh["verts"], [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [5, 5, 5]])
    np.testing.assert_array_equal(mesh["face_sizes"], [3, 3, 3, 3])
    # Negative indices count back from the vertices defined before each face's own line.
    np.testing.assert_array_equal(mesh["corner_verts"], [0, 1, 2, 0, 2, 3, 0, 1, 3, 1, 2, 4])
    assert mesh["corner_uvs"] is None  # the v//vn face has no texture coordinates


def test_read_obj_returns_uvs_when_every_corner_has_one() -> None:
    mesh = read_obj(
        b"v 0 0 0\nv 1 0 0\nv 0 0 1\nvt 0 0\nvt 1 0\nvt 0.5\nf 1/1 2/2 3/3\nf 3/3/1 2/2/1 1/1/1\n"
    )
    np.testing.assert_array_equal(mesh["corner_uvs"], [[0, 0], [1, 0], [0.5, 0], [0.5, 0], [1, 0], [0, 0]])
    np.testing.assert_array_equal(mesh["verts"][2], [0, -1, 0])  # OBJ +Z is Blender -Y
    empty = read_obj(b"# nothing\n")
    assert empty["verts"].shape == (0, 3) and empty["face_sizes"].size == empty["corner_verts"].size == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"v 0 0 0\nv 1 0 0\nf 1 2\n", "fewer than 3"),
        (b"v 0 0 0\nv 1 0 0\nv 1 1 0\nf 0 1 2\n", "does not exist"),
        (b"v 0 0 0\nv 1 0 0\nv 1 1 0\nf 1 2 4\n", "does not exist"),
        (b"v 0 0 0\nv 1 0 0\nv 1 1 0\nf -1 -2 -4\n", "does not exist"),
        (b"v 0 0 0\nv 1 0 0\nf 1 2 3\nv 1 1 0\n", "does not exist"),
        (b"v 0 0 0\nv 1 0 0\nv 1 1 0\nvt 0 0\nf 1/1 2/2 3/1\n", "does not exist"),
        (b"v 0 0 x\nv 1 0 0\nv 1 1 0\nf 1 2 3\n", "malformed"),
        (b"v 0 0\nv 1 0 0\nv 1 1 0\nf 1 2 3\n", "too few"),
        (b"v 0 0 0\nv 1 0 0\nv 1 1 0\nf 1/a 2 3\n", "malformed"),
        (b"v 0 0 0\nv 1 0 0\nv 1 1 0\nf 1/1/1/1 2 3\n", "malformed"),
        (b"v nan 0 0\nv 1 0 0\nv 1 1 0\nf 1 2 3\n", "finite"),
        (b"v 0 0 0\nv 1 0 0\nv 1 1 0\nf 1 2 3.5\n", "malformed"),
    ],
)
def test_read_obj_rejects_malformed_input(text: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_obj(text)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"verts": np.zeros((3, 2), np.float32)}, "shape"),
        ({"verts": np.full((8, 3), np.nan, np.float32)}, "finite"),
        ({"face_sizes": np.array([2, 5, 5])}, "at least 3"),
        ({"face_sizes": np.array([3, 4, 4])}, "sum to"),
        ({"corner_verts": np.array([0, 1, 3, 1, 4, 5, 2, 2, 5, 6, 7, 8])}, "out of range"),
        ({"corner_verts": np.array([0, 1, 3, 1, 4, 5, 2, 2, 5, 6, 7, -1])}, "out of range"),
        ({"corner_uvs": np.zeros((11, 2), np.float32)}, "corner_uvs"),
        ({"corner_uvs": np.full((12, 2), np.inf, np.float32)}, "corner_uvs"),
    ],
)
@pytest.mark.parametrize("writer", [write_obj, write_glb])
def test_writers_validate_their_input(tmp_path: Path, change: dict, message: str, writer) -> None:
    with pytest.raises(ValueError, match=message):
        writer(tmp_path / "x.out", **(mixed_mesh() | change))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("writer", "reader"), [(write_obj, read_obj), (write_glb, read_glb)])
def test_y_up_false_writes_coordinates_unchanged(tmp_path: Path, writer, reader) -> None:
    mesh = mixed_mesh()
    writer(tmp_path / "m", **mesh, y_up=False)
    np.testing.assert_array_equal(reader(tmp_path / "m", y_up=False)["verts"], mesh["verts"])
    np.testing.assert_array_equal(reader(tmp_path / "m")["verts"][:, 1], -mesh["verts"][:, 2])


# ---------------------------------------------------------------------------------------------- GLB
def test_glb_structure_with_uvs_and_texture(tmp_path: Path) -> None:
    mesh, png = uv_cube(), tiny_png()
    data = write_glb(tmp_path / "cube.glb", **mesh, base_color_png=png)
    assert (tmp_path / "cube.glb").read_bytes() == data
    doc, body = split_glb(data)
    assert doc["asset"]["version"] == "2.0" and doc["buffers"] == [{"byteLength": len(body)}]
    assert doc["scenes"][doc["scene"]]["nodes"] == [0] and doc["nodes"][0]["mesh"] == 0
    (prim,) = doc["meshes"][0]["primitives"]
    assert prim["mode"] == 4 and prim["material"] == 0
    assert all(view["byteOffset"] % 4 == 0 for view in doc["bufferViews"])
    positions, pos_acc = accessor(doc, body, prim["attributes"]["POSITION"]), doc["accessors"][0]
    assert (
        pos_acc["min"] == positions.min(axis=0).tolist() and pos_acc["max"] == positions.max(axis=0).tolist()
    )
    assert doc["accessors"][prim["indices"]]["componentType"] == 5125  # uint32 indices
    indices = accessor(doc, body, prim["indices"]).reshape(-1, 3)
    texcoords = accessor(doc, body, prim["attributes"]["TEXCOORD_0"])
    # Every triangle corner carries the source corner's position (Y-up) and UV (v flipped).
    corners = fan(mesh["face_sizes"])
    assert len(indices) == 12 and len(positions) == 24  # six UV islands: every corner is its own vertex
    np.testing.assert_array_equal(positions[indices], z_to_y(mesh["verts"])[mesh["corner_verts"][corners]])
    np.testing.assert_allclose(texcoords[indices], mesh["corner_uvs"][corners] * [1, -1] + [0, 1], atol=1e-7)
    image = doc["images"][doc["textures"][0]["source"]]
    view = doc["bufferViews"][image["bufferView"]]
    assert image["mimeType"] == "image/png" and body[view["byteOffset"] :][: view["byteLength"]] == png
    material = doc["materials"][0]["pbrMetallicRoughness"]
    assert material["baseColorTexture"] == {"index": 0} and material["metallicFactor"] == 0.0


def test_glb_splits_vertices_only_at_uv_seams() -> None:
    mesh = quad_grid(5, 3)
    doc, _ = split_glb(write_glb(None, **mesh))
    assert doc["accessors"][0]["count"] == len(mesh["verts"])  # continuous UVs: no vertex is split


def test_glb_without_uvs_keeps_vertices_and_has_no_material() -> None:
    mesh = mixed_mesh()
    doc, body = split_glb(write_glb(None, **mesh))
    (prim,) = doc["meshes"][0]["primitives"]
    assert set(prim["attributes"]) == {"POSITION"} and "material" not in prim and "images" not in doc
    np.testing.assert_array_equal(accessor(doc, body, 0), z_to_y(mesh["verts"]))
    # Fan triangulation (c0, ci, ci+1) of the triangle, quad and pentagon, in face order: 1 + 2 + 3.
    triangles = accessor(doc, body, 1).reshape(-1, 3)
    assert len(triangles) == 6 and (triangles == mesh["corner_verts"][fan(mesh["face_sizes"])]).all()


@pytest.mark.parametrize("make", [quad_grid, uv_cube, mixed_mesh])
def test_glb_round_trip(make) -> None:
    mesh = make()
    back, corners = read_glb(write_glb(None, **mesh)), fan(mesh["face_sizes"]).ravel()
    assert (back["face_sizes"] == 3).all() and 3 * len(back["face_sizes"]) == len(corners)
    np.testing.assert_array_equal(
        back["verts"][back["corner_verts"]], mesh["verts"][mesh["corner_verts"][corners]]
    )
    if "corner_uvs" in mesh:
        np.testing.assert_allclose(back["corner_uvs"], mesh["corner_uvs"][corners], atol=1e-7)
    else:
        assert back["corner_uvs"] is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"face_sizes": np.zeros(0, np.int32), "corner_verts": np.zeros(0, np.int32)}, "without faces"),
        ({"base_color_png": tiny_png()}, "needs corner_uvs"),
        ({"corner_uvs": np.zeros((12, 2), np.float32), "base_color_png": b"GIF89a..."}, "PNG"),
    ],
)
def test_glb_refuses_what_it_cannot_store(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        write_glb(None, **(mixed_mesh() | change))


def test_read_glb_handles_strides_unindexed_and_several_meshes() -> None:
    # Mesh 0: positions interleaved with padding (stride 16), not indexed; mesh 1: uint16 indices, and lines.
    tri = np.array([[0, 0, 0, 9], [1, 0, 0, 9], [0, 1, 0, 9]], np.float32)
    quad = np.array([[0, 0, 5], [1, 0, 5], [1, 1, 5], [0, 1, 5]], np.float32)
    body = tri.tobytes() + quad.tobytes() + np.array([0, 1, 2, 0, 2, 3], np.uint16).tobytes()
    views = [(0, 48, 16), (48, 48, 0), (96, 12, 0)]
    meshes = [[{"attributes": {"POSITION": 0}}], [{"attributes": {"POSITION": 1}, "indices": 2}]]
    meshes[1].append({"attributes": {"POSITION": 1}, "mode": 1})
    doc = {
        "asset": {"version": "2.0"},
        "buffers": [{"byteLength": len(body)}],
        "bufferViews": [
            {"buffer": 0, "byteOffset": o, "byteLength": n} | ({"byteStride": s} if s else {})
            for o, n, s in views
        ],
        "accessors": [
            {"bufferView": i, "componentType": t, "count": n, "type": k}
            for i, t, n, k in [(0, 5126, 3, "VEC3"), (1, 5126, 4, "VEC3"), (2, 5123, 6, "SCALAR")]
        ],
        "meshes": [{"primitives": prims} for prims in meshes],
    }
    mesh = read_glb(build_glb(doc, body), y_up=False)
    np.testing.assert_array_equal(mesh["verts"], np.concatenate([tri[:, :3], quad]))
    np.testing.assert_array_equal(mesh["corner_verts"], [0, 1, 2, 3, 4, 5, 3, 5, 6])
    np.testing.assert_array_equal(mesh["face_sizes"], [3, 3, 3])


def edited(edit):
    """Re-frame a good GLB after ``edit`` changed its JSON."""

    def apply(data: bytes) -> bytes:
        doc, body = split_glb(data)
        edit(doc)
        return build_glb(doc, body)

    return apply


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda good: b"GLTF" + good[4:], "binary glTF"),
        (lambda good: good[:4] + struct.pack("<I", 1) + good[8:], "binary glTF"),
        (lambda good: good[: len(good) // 2], "truncated"),
        (lambda _: struct.pack("<4sIIII", b"glTF", 2, 24, 4, BIN_CHUNK) + b"\0" * 4, "JSON chunk"),
        (lambda good: good[:20] + b"{" * 4 + good[24:], "malformed glTF"),
        (edited(lambda d: d["bufferViews"][0].update(byteLength=8)), "past the end"),
        (edited(lambda d: d["meshes"][0]["primitives"][0]["attributes"].clear()), "malformed"),
        (edited(lambda d: d["accessors"][1].update(count=5)), "incomplete"),
        (edited(lambda d: d["accessors"][1].update(componentType=9999)), "malformed"),
        (edited(lambda d: d["accessors"][0].update(sparse={})), "sparse"),
        (edited(lambda d: d["accessors"][0].update(count=1)), "out of range"),
    ],
)
def test_read_glb_rejects_malformed_input(make, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_glb(make(write_glb(None, **mixed_mesh())))


# ---------------------------------------------------------------------------------------------- Blender
@pytest.fixture
def blender():
    bpy = pytest.importorskip("bpy")
    bpy.ops.wm.read_homefile(use_empty=True)
    yield bpy
    bpy.ops.wm.read_homefile(use_empty=True)


def imported_mesh(bpy) -> tuple[object, np.ndarray, np.ndarray]:
    """The one imported mesh object, its vertices in world space and its per-corner world positions."""
    (obj,) = [o for o in bpy.context.scene.objects if o.type == "MESH"]
    matrix = np.array(obj.matrix_world)
    world = np.array([v.co for v in obj.data.vertices]) @ matrix[:3, :3].T + matrix[:3, 3]
    return obj, world, world[[loop.vertex_index for loop in obj.data.loops]]  # OBJ import rotates the object


@pytest.mark.parametrize("make", [quad_grid, mixed_mesh])
def test_blender_obj_importer_reads_quads_ngons_and_uvs_back(tmp_path: Path, blender, make) -> None:
    mesh = make()
    write_obj(tmp_path / "mesh.obj", **mesh, object_name="Retopo")
    blender.ops.wm.obj_import(filepath=str(tmp_path / "mesh.obj"))
    obj, world, corner_points = imported_mesh(blender)
    assert obj.name == "Retopo"
    np.testing.assert_allclose(sorted_rows(world), sorted_rows(mesh["verts"]), atol=1e-5)
    assert [len(p.vertices) for p in obj.data.polygons] == mesh["face_sizes"].tolist()  # quads stay quads
    np.testing.assert_allclose(corner_points, mesh["verts"][mesh["corner_verts"]], atol=1e-5)
    if "corner_uvs" in mesh:
        uvs = np.array([d.uv for d in obj.data.uv_layers.active.data])
        np.testing.assert_allclose(uvs, mesh["corner_uvs"], atol=1e-6)


def test_blender_gltf_importer_reads_triangles_uvs_and_texture(tmp_path: Path, blender) -> None:
    mesh = uv_cube()
    write_glb(tmp_path / "cube.glb", **mesh, base_color_png=tiny_png())
    blender.ops.import_scene.gltf(filepath=str(tmp_path / "cube.glb"))
    obj, world, corner_points = imported_mesh(blender)
    assert len(obj.data.polygons) == 12 and all(len(p.vertices) == 3 for p in obj.data.polygons)
    np.testing.assert_allclose(np.unique(world.round(5), axis=0), sorted_rows(mesh["verts"]), atol=1e-5)
    assert len(obj.data.uv_layers) == 1
    uvs = np.array([d.uv for d in obj.data.uv_layers.active.data])

    def pairs(points: np.ndarray, uv: np.ndarray) -> set[tuple]:
        return {
            tuple(row) for row in np.concatenate([points, uv], axis=1).astype(np.float64).round(4).tolist()
        }

    # Each imported corner carries the UV its source corner had at that position (v flipped back).
    assert pairs(corner_points, uvs) == pairs(mesh["verts"][mesh["corner_verts"]], mesh["corner_uvs"])
    images = [node.image for node in obj.data.materials[0].node_tree.nodes if node.type == "TEX_IMAGE"]
    assert len(images) == 1 and tuple(images[0].size) == (4, 2)


def test_blender_gltf_importer_without_uvs(tmp_path: Path, blender) -> None:
    mesh = quad_grid(7, 5)
    del mesh["corner_uvs"]
    write_glb(tmp_path / "grid.glb", **mesh)
    blender.ops.import_scene.gltf(filepath=str(tmp_path / "grid.glb"))
    obj, world, _ = imported_mesh(blender)
    assert len(obj.data.polygons) == 2 * 35
    np.testing.assert_allclose(sorted_rows(world), sorted_rows(mesh["verts"]), atol=1e-5)
