# SPDX-License-Identifier: GPL-3.0-or-later
"""Binary FBX 7.4 of one static mesh, written from plain arrays (sboxcool's FBX upload, in the worker).

Contract: pure Python + numpy + zlib + struct, never imports ``bpy``, keeps no shared state, so it is safe
on any thread. Input is ``formats.mesh``'s layout: ``verts`` float32 (N, 3) in Blender's Z-up object
space, ``face_sizes``, ``corner_verts``, optional ``corner_uvs`` and optional ``face_materials`` indexing
``material_names`` (empty slots skipped, duplicates named once: ``formats.mesh.material_slots``). Malformed
arrays raise ValueError; the file is written through ``core.files.atomic_output``.

The scene is laid out as Blender's own exporter lays out an object with an identity transform under its
default settings: Y-up axes and centimetre units in GlobalSettings, the Z-up metre vertices untouched and
the conversion carried by the model node (-90 degrees about X, scale 100). Blender's importer, and any
importer honouring GlobalSettings, therefore reads back the vertices in their original object space.
Polygons keep their size (n-gons too); UVs are one ByPolygonVertex/IndexToDirect layer named "UVMap";
materials are ByPolygon/IndexToDirect indices into the materials connected to the model, in slot order.
No normals are written: importers compute them.

Binary layout (FBX 7.4, little endian): a header, top-level nodes, a 13-byte zero record, a footer. A node
is (end offset from the file start, property count, property bytes) as uint32, its name (uint8 length),
its properties (a type code and a payload each), its children, and a 13-byte zero record after any
children or when it has no properties. Arrays are (count, encoding, byte length) then data; encoding 1 is
zlib. ``FileId``, ``CreationTime`` and the footer's first 16 bytes are a fixed triple that the FBX SDK's
file checks accept (the SDK derives the footer bytes from the time), the same triple Blender writes.
"""

from __future__ import annotations

import logging
import os
import struct
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np

from ..core.files import atomic_output
from .mesh import check_mesh, material_slots

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]
VERSION = 7400
_MAGIC = b"Kaydara FBX Binary  \x00\x1a\x00"
_FILE_ID = bytes.fromhex("28b32aebb624ccc2bfc8b02aa92bfcf1")
_CREATION_TIME = b"1970-01-01 10:00:00:000"
_FOOTER_ID = bytes.fromhex("fabcab09d0c8d466b176fb831cf7267e")
_FOOTER_TAIL = bytes.fromhex("f85a8c6adef5d97eece90ce3758f290b")
_NULL_RECORD = b"\0" * 13
_COMPRESS_OVER = 128  # bytes: smaller arrays stay raw, as the FBX SDK writes them
_ZLIB_LEVEL = 1  # float data barely shrinks at higher levels, and level 1 is several times faster
_CLASS_SEP = b"\x00\x01"  # "name\x00\x01Class": how binary FBX names an object of a class
_METRES_TO_CM = 100.0  # FBX scenes here are in centimetres (UnitScaleFactor 1) like Blender's exports
_KTIME_PER_SECOND = 46186158000


# ---------------------------------------------------------------------------------------------- nodes
@dataclass
class _Node:
    name: bytes
    props: list[bytes] = field(default_factory=list)
    children: list[_Node] = field(default_factory=list)
    size: int = 0

    def add(self, name: str, *props: bytes) -> _Node:
        child = _Node(name.encode(), list(props))
        self.children.append(child)
        return child

    def measure(self) -> int:
        self.size = 13 + len(self.name) + sum(map(len, self.props)) + sum(c.measure() for c in self.children)
        if self.children or not self.props:
            self.size += len(_NULL_RECORD)
        return self.size

    def write(self, out: BinaryIO, start: int) -> int:
        """Write this measured node at file offset ``start``; returns where it ends."""
        end = start + self.size
        out.write(struct.pack("<3IB", end, len(self.props), sum(map(len, self.props)), len(self.name)))
        out.write(self.name)
        out.writelines(self.props)
        offset = start + 13 + len(self.name) + sum(map(len, self.props))
        for child in self.children:
            offset = child.write(out, offset)
        if self.children or not self.props:
            out.write(_NULL_RECORD)
        return end


def _i32(value: int) -> bytes:
    return b"I" + struct.pack("<i", value)


def _i64(value: int) -> bytes:
    return b"L" + struct.pack("<q", value)


def _f64(value: float) -> bytes:
    return b"D" + struct.pack("<d", value)


def _str(value: str | bytes) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return b"S" + struct.pack("<I", len(data)) + data


def _array(code: bytes, values: np.ndarray) -> bytes:
    data = np.ascontiguousarray(values).tobytes()
    encoding = 0
    if len(data) > _COMPRESS_OVER:
        data, encoding = zlib.compress(data, _ZLIB_LEVEL), 1
    return code + struct.pack("<3I", values.size, encoding, len(data)) + data


def _ints(values: np.ndarray) -> bytes:
    return _array(b"i", values.astype("<i4", copy=False))


def _doubles(values: np.ndarray) -> bytes:
    return _array(b"d", values.astype("<f8", copy=False).ravel())


def _named(name: str, cls: bytes) -> bytes:
    return _str(name.encode() + _CLASS_SEP + cls)


def _properties(parent: _Node, rows: Iterable[tuple]) -> None:
    """A Properties70 block: (name, type, label, flags, *encoded values) per row."""
    block = parent.add("Properties70")
    for name, kind, label, flags, *values in rows:
        block.add("P", _str(name), _str(kind), _str(label), _str(flags), *values)


# ---------------------------------------------------------------------------------------------- mesh
def _check_name(text: str, what: str) -> str:
    text = str(text)
    if "\0" in text:
        raise ValueError(f"{what} {text!r} contains a NUL character, which FBX names cannot hold")
    return text


def _edges(sizes: np.ndarray, cv: np.ndarray, vertex_count: int) -> np.ndarray:
    """Per edge, the first corner starting it (FBX ``Edges``), in corner order."""
    ends = np.cumsum(sizes)
    following = np.arange(1, cv.size + 1)
    following[ends - 1] = ends - sizes  # a face's last corner closes the loop back to its first
    a, b = cv, cv[following]
    key = np.minimum(a, b) * vertex_count + np.maximum(a, b)
    _, first = np.unique(key, return_index=True)
    return np.sort(first)


def _geometry(name: str, uid: int, v, sizes, cv, uvs, per_face, normals=None) -> _Node:
    geom = _Node(b"Geometry", [_i64(uid), _named(name, b"Geometry"), _str("Mesh")])
    geom.add("Properties70")
    geom.add("GeometryVersion", _i32(124))
    geom.add("Vertices", _doubles(v))
    polygon_vertices = cv.astype(np.int32)
    last = np.cumsum(sizes) - 1
    polygon_vertices[last] = ~polygon_vertices[last]  # a negative (-index - 1) closes each polygon
    geom.add("PolygonVertexIndex", _ints(polygon_vertices))
    geom.add("Edges", _ints(_edges(sizes, cv, len(v))))
    layers = []

    def layer(kind: str, name: str, mapping: str, reference: str) -> _Node:
        """A layer element of ``kind`` (listed in the table of contents below) with its header filled in."""
        element = geom.add(kind, _i32(0))
        element.add("Version", _i32(101))
        element.add("Name", _str(name))
        element.add("MappingInformationType", _str(mapping))
        element.add("ReferenceInformationType", _str(reference))
        layers.append(kind)
        return element

    if normals is not None:
        layer("LayerElementNormal", "", "ByPolygonVertex", "Direct").add("Normals", _doubles(normals))
    if uvs is not None:
        # Equal UVs are stored once: the float pair is compared bit-exactly as one 64-bit key.
        _, first, uv_index = np.unique(uvs.view(np.uint64).ravel(), return_index=True, return_inverse=True)
        element = layer("LayerElementUV", "UVMap", "ByPolygonVertex", "IndexToDirect")
        element.add("UV", _doubles(uvs[first]))
        element.add("UVIndex", _ints(uv_index.ravel()))
    if per_face is not None:
        layer("LayerElementMaterial", "", "ByPolygon", "IndexToDirect").add("Materials", _ints(per_face))
    toc = geom.add("Layer", _i32(0))
    toc.add("Version", _i32(100))
    for kind in layers:
        entry = toc.add("LayerElement")
        entry.add("Type", _str(kind))
        entry.add("TypedIndex", _i32(0))
    return geom


def model_node(name: str, uid: int, kind: str, transform_rows: list[tuple]) -> _Node:
    """A Model of ``kind`` (Mesh, Null, LimbNode, LodGroup) and its Lcl rows, laid out as Blender does."""
    model = _Node(b"Model", [_i64(uid), _named(name, b"Model"), _str(kind)])
    model.add("Version", _i32(232))
    _properties(model, [
        *transform_rows,
        ("DefaultAttributeIndex", "int", "Integer", "", _i32(0)),
        ("InheritType", "enum", "", "", _i32(1)),
    ])  # fmt: skip
    model.add("MultiLayer", _i32(0))
    model.add("MultiTake", _i32(0))
    model.add("Shading", b"CY")
    model.add("Culling", _str("CullingOff"))
    return model


# The model node's turn of Z-up metre data into the Y-up centimetre scene.
Y_UP_ROWS = [
    ("Lcl Rotation", "Lcl Rotation", "", "A", _f64(-90.0), _f64(0.0), _f64(0.0)),
    ("Lcl Scaling", "Lcl Scaling", "", "A", *[_f64(_METRES_TO_CM)] * 3),
]


def _model(name: str, uid: int) -> _Node:
    return model_node(name, uid, "Mesh", Y_UP_ROWS)


def _material(name: str, uid: int) -> _Node:
    material = _Node(b"Material", [_i64(uid), _named(name, b"Material"), _str("")])
    material.add("Version", _i32(102))
    material.add("ShadingModel", _str("Phong"))
    material.add("MultiLayer", _i32(0))
    grey = [_f64(0.8)] * 3  # Blender's default base colour, so an imported slot looks like a new one
    _properties(material, [("DiffuseColor", "Color", "", "A", *grey)])
    return material


# ---------------------------------------------------------------------------------------------- scene
def _header(creator: str) -> list[_Node]:
    ext = _Node(b"FBXHeaderExtension")
    ext.add("FBXHeaderVersion", _i32(1003))
    ext.add("FBXVersion", _i32(VERSION))
    ext.add("EncryptionType", _i32(0))
    stamp = ext.add("CreationTimeStamp")
    now = time.localtime()
    stamp.add("Version", _i32(1000))
    for key, value in zip(("Year", "Month", "Day", "Hour", "Minute", "Second"), now[:6], strict=True):
        stamp.add(key, _i32(value))
    stamp.add("Millisecond", _i32(0))
    ext.add("Creator", _str(creator))
    info = ext.add("SceneInfo", _named("GlobalInfo", b"SceneInfo"), _str("UserData"))
    info.add("Type", _str("UserData"))
    info.add("Version", _i32(100))
    meta = info.add("MetaData")
    meta.add("Version", _i32(100))
    for key in ("Title", "Subject", "Author", "Keywords", "Revision", "Comment"):
        meta.add(key, _str(""))
    settings = _Node(b"GlobalSettings")
    settings.add("Version", _i32(1000))
    _properties(settings, [
        # Y up, +Z front, +X right (what Blender's exporter writes by default), units of 1 cm.
        ("UpAxis", "int", "Integer", "", _i32(1)), ("UpAxisSign", "int", "Integer", "", _i32(1)),
        ("FrontAxis", "int", "Integer", "", _i32(2)), ("FrontAxisSign", "int", "Integer", "", _i32(1)),
        ("CoordAxis", "int", "Integer", "", _i32(0)), ("CoordAxisSign", "int", "Integer", "", _i32(1)),
        ("OriginalUpAxis", "int", "Integer", "", _i32(-1)),
        ("OriginalUpAxisSign", "int", "Integer", "", _i32(1)),
        ("UnitScaleFactor", "double", "Number", "", _f64(1.0)),
        ("OriginalUnitScaleFactor", "double", "Number", "", _f64(1.0)),
        ("DefaultCamera", "KString", "", "", _str("Producer Perspective")),
        # 24 fps (mode 11), Blender's default: importers set the scene's frame rate from these.
        ("TimeMode", "enum", "", "", _i32(11)),
        ("TimeSpanStart", "KTime", "Time", "", _i64(0)),
        ("TimeSpanStop", "KTime", "Time", "", _i64(_KTIME_PER_SECOND)),
        ("CustomFrameRate", "double", "Number", "", _f64(24.0)),
    ])  # fmt: skip
    return [
        ext,
        _Node(b"FileId", [b"R" + struct.pack("<I", len(_FILE_ID)) + _FILE_ID]),
        _Node(b"CreationTime", [_str(_CREATION_TIME)]),
        _Node(b"Creator", [_str(creator)]),
        settings,
    ]


def _documents(uid: int) -> list[_Node]:
    documents = _Node(b"Documents")
    documents.add("Count", _i32(1))
    document = documents.add("Document", _i64(uid), _str("Scene"), _str("Scene"))
    _properties(document, [
        ("SourceObject", "object", "", ""),
        ("ActiveAnimStackName", "KString", "", "", _str("")),
    ])  # fmt: skip
    document.add("RootNode", _i64(0))
    return [documents, _Node(b"References")]


def _definitions(material_count: int) -> _Node:
    return definitions_node(
        [("GlobalSettings", 1), ("Geometry", 1), ("Model", 1), ("Material", material_count)]
    )


def definitions_node(counts: list[tuple[str, int]]) -> _Node:
    """The Definitions section: how many objects of each kind the file holds (kinds with none left out)."""
    definitions = _Node(b"Definitions")
    definitions.add("Version", _i32(100))
    counts = [(kind, count) for kind, count in counts if count]
    definitions.add("Count", _i32(sum(count for _kind, count in counts)))
    for kind, count in counts:
        definitions.add("ObjectType", _str(kind)).add("Count", _i32(count))
    return definitions


def write_fbx(
    path: PathLike,
    verts,
    face_sizes,
    corner_verts,
    *,
    corner_uvs=None,
    face_materials=None,
    material_names=(),
    object_name: str = "mesh",
    creator: str = "Retopo Hub",
) -> None:
    """Write one mesh object as a binary FBX 7.4 file (see the module docstring for the layout)."""
    started = time.perf_counter()
    v, sizes, cv, uvs = check_mesh(verts, face_sizes, corner_verts, corner_uvs)
    if sizes.size == 0:
        raise ValueError("an FBX upload needs at least one face")
    if len(v) > np.iinfo(np.int32).max or cv.size > np.iinfo(np.int32).max:
        raise ValueError("FBX 7.4 indexes vertices and corners with 32-bit integers: the mesh is too large")
    name = " ".join(_check_name(object_name, "object name").split()) or "mesh"
    materials, per_face = material_slots(face_materials, material_names, sizes.size)
    materials = [_check_name(m, "material name") for m in materials]
    # Ids only need to be unique and non-zero within the file (0 is the scene root).
    document_id, geometry_id, model_id = 1000, 1001, 1002
    material_ids = [2000 + number for number in range(len(materials))]
    objects = _Node(b"Objects")
    objects.children += [_geometry(name, geometry_id, v, sizes, cv, uvs, per_face), _model(name, model_id)]
    objects.children += [_material(m, uid) for m, uid in zip(materials, material_ids, strict=True)]
    connections = _Node(b"Connections")
    links = [(model_id, 0), (geometry_id, model_id), *((uid, model_id) for uid in material_ids)]
    for child, parent in links:  # materials connect in slot order: face indices count in that order
        connections.add("C", _str("OO"), _i64(child), _i64(parent))
    takes = _Node(b"Takes")
    takes.add("Current", _str(""))
    top = [*_header(creator), *_documents(document_id), _definitions(len(materials)), objects]
    top += [connections, takes]
    _write_file(path, top)
    logger.debug("wrote FBX %s (%d faces) in %.3f s", path, sizes.size, time.perf_counter() - started)


def _write_file(path: PathLike, top: list[_Node]) -> None:
    """Header, ``top`` nodes, null record and footer, written atomically."""
    header = _MAGIC + struct.pack("<I", VERSION)
    with atomic_output(path) as out:  # temp file in the same folder, fsync, then os.replace
        out.write(header)
        offset = len(header)
        for node in top:
            node.measure()
            offset = node.write(out, offset)
        out.write(_NULL_RECORD)
        offset += len(_NULL_RECORD) + len(_FOOTER_ID) + 4
        out.write(_FOOTER_ID + b"\0" * 4)
        out.write(b"\0" * (16 - offset % 16))  # pads to 16 bytes, a whole 16 when already aligned
        out.write(struct.pack("<I", VERSION) + b"\0" * 120 + _FOOTER_TAIL)
