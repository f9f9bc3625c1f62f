# SPDX-License-Identifier: GPL-3.0-or-later
"""s&box ModelDoc (.vmdl, KV3 text) writer for LOD chains, plus a small tolerant reader of the LOD table.

Contract: pure Python, never imports ``bpy``, keeps no shared state, so it is safe on any thread.

``write_vmdl`` emits the layout ModelDoc itself saves: tab indentation, ``key = value``, a block value on
the line after ``key = ``, multi-line arrays with a comma after every element, numeric arrays inline
(``[ 0.0, 0.0, 0.0 ]``), ``[  ]`` when empty, double-quoted strings with ``\\`` and ``"`` escaped and
floats always written with a decimal point. ``filename`` values are relative to the s&box project's
``Assets/`` folder with forward slashes. Invalid input raises ValueError.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator, Sequence
from typing import Any

logger = logging.getLogger(__name__)

KV3_HEADER = (
    "<!-- kv3 encoding:text:version{e21c7f3c-8a33-41c5-9977-a76d3a32aa0d} "
    "format:modeldoc29:version{3cec427c-1b0e-4d48-a90a-0436f33a6041} -->"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


# ---------------------------------------------------------------------------------------------- writing
def format_float(value: float) -> str:
    """KV3 float: fixed notation that always has a decimal point (``0.0``, ``12.5``, never ``1e-05``)."""
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"KV3 cannot store the non-finite number {value!r}")
    text = repr(value)  # shortest text that reads back to the same double
    if "e" in text or "E" in text:
        text = f"{value:.20f}".rstrip("0")  # KV3 readers are not guaranteed to accept exponents
    if "." not in text:
        text += ".0"
    return text + "0" if text.endswith(".") else text


def quote(text: str) -> str:
    """KV3 double-quoted string with ``\\`` and ``"`` escaped."""
    text = str(text)
    if _CONTROL.search(text):
        # A raw newline or tab would break the line-oriented layout ModelDoc expects; refuse it loudly.
        raise ValueError(f"KV3 strings cannot hold control characters: {text!r}")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _scalar(value: Any) -> str:
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, str):
        return quote(value)
    raise TypeError(f"cannot write {type(value).__name__} as a KV3 value")


def _inline(values: list) -> bool:
    """Numeric arrays (and empty ones) stay on one line, like ModelDoc writes vectors."""
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _lines(value: Any, depth: int, prefix: str, suffix: str) -> Iterator[str]:
    """Lines of ``prefix + value + suffix`` at ``depth`` tabs (prefix is ``"key = "`` or empty)."""
    tabs = "\t" * depth
    if isinstance(value, dict):
        if prefix:
            yield tabs + prefix
        yield tabs + "{"
        for key, item in value.items():
            yield from _lines(item, depth + 1, f"{key} = ", "")
        yield tabs + "}" + suffix
    elif isinstance(value, list | tuple) and _inline(list(value)):
        body = ", ".join(_scalar(v) for v in value)
        yield f"{tabs}{prefix}[ {body} ]{suffix}"
    elif isinstance(value, list | tuple):
        if prefix:
            yield tabs + prefix
        yield tabs + "["
        for item in value:
            yield from _lines(item, depth + 1, "", ",")  # ModelDoc's trailing comma after every element
        yield tabs + "]" + suffix
    else:
        yield f"{tabs}{prefix}{_scalar(value)}{suffix}"


def dumps_kv3(root: dict[str, Any]) -> str:
    """Serialise ``root`` (dicts keep their order) as a KV3 text document with the ModelDoc header."""
    return "\n".join([KV3_HEADER, *_lines(root, 0, "", "")]) + "\n"


def _asset_path(filename: str) -> str:
    path = str(filename).replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    if not path or path.startswith("/") or re.match(r"^[A-Za-z]:", path) or ".." in path.split("/"):
        raise ValueError(f"LOD filename must be a relative path inside Assets/, got {filename!r}")
    return path


def _import_filter(mesh_names: Sequence[str] | None) -> dict[str, Any]:
    # With names: import only those nodes of the file (exclude everything else by default).
    names = [str(n) for n in mesh_names or ()]
    return {"exclude_by_default": mesh_names is not None, "exception_list": names}


def write_vmdl(
    lods: Sequence[dict[str, Any]],
    *,
    material_remaps: Sequence[tuple[str, str]] = (),
    physics: bool = False,
) -> str:
    """Return the .vmdl text of a model made of ``lods``, each ``{name, filename, switch_threshold,
    mesh_names}`` (``mesh_names`` optional: None imports every mesh of the file).

    One ``RenderMeshFile`` and one ``LODGroup`` per LOD. The first LOD must switch at 0.0 and thresholds
    must increase. ``material_remaps`` ``(from, to)`` pairs go in a ``DefaultMaterialGroup``; ``physics``
    adds a ``PhysicsHullFromRender`` (a convex hull of the render meshes).
    """
    if not lods:
        raise ValueError("a model needs at least one LOD")
    meshes, groups, names, previous = [], [], set(), -1.0
    for number, lod in enumerate(lods):
        name, threshold = str(lod.get("name", "")), float(lod.get("switch_threshold", 0.0))
        if not name or name in names:
            raise ValueError(f"LOD {number} needs a unique, non-empty name (got {name!r})")
        if not math.isfinite(threshold) or (number == 0 and threshold != 0.0) or threshold <= previous:
            raise ValueError(
                f"LOD {name!r}: switch_threshold must start at 0.0 and increase (got {threshold})"
            )
        names.add(name)
        previous = threshold
        meshes.append({
            "_class": "RenderMeshFile",
            "name": name,
            "filename": _asset_path(lod.get("filename", "")),
            "import_translation": [0.0, 0.0, 0.0],
            "import_rotation": [0.0, 0.0, 0.0],
            "import_scale": 1.0,
            "align_origin_x_type": "None",
            "align_origin_y_type": "None",
            "align_origin_z_type": "None",
            "parent_bone": "",
            "import_filter": _import_filter(lod.get("mesh_names")),
        })  # fmt: skip
        groups.append({"_class": "LODGroup", "switch_threshold": threshold, "meshes": [name]})
    children: list[dict[str, Any]] = []
    if material_remaps:
        remaps = [{"from": str(src), "to": str(dst)} for src, dst in material_remaps]
        group = {"_class": "DefaultMaterialGroup", "remaps": remaps}
        group |= {"use_global_default": False, "global_default_material": ""}
        children.append({"_class": "MaterialGroupList", "children": [group]})
    children.append({"_class": "RenderMeshList", "children": meshes})
    if physics:
        hull = {"_class": "PhysicsHullFromRender", "parent_bone": "", "surface_prop": "default"}
        hull |= {"collision_tags": "solid", "faceMergeAngle": 10.0, "maxHullVertices": 32}
        children.append({"_class": "PhysicsShapeList", "children": [hull]})
    children.append({"_class": "LODGroupList", "children": groups})
    root = {"_class": "RootNode", "children": children}
    for key in ("model_archetype", "primary_associated_entity", "anim_graph_name", "base_model_name"):
        root[key] = ""  # ModelDoc always writes these; empty for a plain static prop
    logger.debug("vmdl with %d LODs, %d remaps, physics=%s", len(lods), len(material_remaps), physics)
    return dumps_kv3({"rootNode": root})


# Each baked map's input of s&box's standard shader (complex.shader): colour, normal and occlusion.
VMAT_INPUTS = {"color": "TextureColor", "normal": "TextureNormal", "ao": "TextureAmbientOcclusion"}


def write_vmat(textures: dict[str, str]) -> str:
    """The text of an s&box material (.vmat, the "Layer0" form s&box's tools write) using ``textures``
    (``{"color"|"normal"|"ao": path relative to Assets/}``) on the standard shader, not metallic."""
    lines = ["// Written by Retopo Hub: the maps baked onto the model.", "Layer0", "{",
             '\tshader "shaders/complex.shader"']  # fmt: skip
    for role, key in VMAT_INPUTS.items():
        if role in textures:
            lines.append(f"\t{key} {quote(_asset_path(textures[role]))}")
    lines += ['\tg_flMetalness "0.000000"', "}", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- reading
_TOKEN = re.compile(
    r"""(?P<skip>\s+|//[^\n]*|/\*.*?\*/|<!--.*?-->)
      | (?P<mstr>\"\"\"(?P<mbody>.*?)\"\"\")
      | (?P<str>"(?P<body>(?:[^"\\]|\\.)*)")
      | (?P<punct>[{}\[\]=,:])
      | (?P<atom>[^\s{}\[\]=,:"]+)""",
    re.DOTALL | re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}


def _tokens(text: str) -> list[tuple[str, Any]]:
    out, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ValueError(f"KV3: unexpected character {text[pos]!r} at offset {pos}")
        pos = match.end()
        kind = match.lastgroup
        if kind == "skip":
            continue
        if kind == "mstr":
            out.append(("str", match.group("mbody")))
        elif kind == "str":
            body = re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), match.group("body"))
            out.append(("str", body))
        else:
            out.append((kind, match.group()))
    return out


def _atom(text: str) -> Any:
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text  # bare identifiers and binary blob bytes stay text


def _parse(tokens: list[tuple[str, Any]], pos: int) -> tuple[Any, int]:
    """Parse one value starting at ``pos``; return it and the position after it."""
    if pos >= len(tokens):
        raise ValueError("KV3: the document ends in the middle of a value")
    kind, text = tokens[pos]
    if (kind, text) == ("punct", "{"):
        obj, pos = {}, pos + 1
        while tokens[pos : pos + 1] != [("punct", "}")]:
            if (
                pos + 1 >= len(tokens)
                or tokens[pos][0] not in ("atom", "str")
                or tokens[pos + 1] != ("punct", "=")
            ):
                raise ValueError(f"KV3: expected 'key =' near token {pos}")
            obj[tokens[pos][1]], pos = _parse(tokens, pos + 2)
        return obj, pos + 1
    if (kind, text) == ("punct", "["):
        items, pos = [], pos + 1
        while tokens[pos : pos + 1] != [("punct", "]")]:
            if tokens[pos : pos + 1] == [("punct", ",")]:
                pos += 1  # commas are separators or trailing; both are optional here
                continue
            item, pos = _parse(tokens, pos)
            items.append(item)
        return items, pos + 1
    if kind == "atom" and tokens[pos + 1 : pos + 2] == [("punct", ":")]:
        return _parse(tokens, pos + 2)  # typed value such as resource:"x.vmat": keep the value
    if kind == "atom" and text == "#":
        return _parse(tokens, pos + 1)  # binary blob #[ .. ]: read as a list of hex atoms
    if kind == "punct":
        raise ValueError(f"KV3: unexpected {text!r} near token {pos}")
    return (text if kind == "str" else _atom(text)), pos + 1


def loads_kv3(text: str) -> Any:
    """Parse KV3 text (header comment, ``//`` and ``/* */`` comments, typed values and blobs tolerated)."""
    tokens = _tokens(text)
    try:
        value, end = _parse(tokens, 0)
    except IndexError:
        raise ValueError("KV3: the document ends in the middle of a value") from None
    if end != len(tokens):
        raise ValueError(f"KV3: unexpected content after the root value (token {end})")
    return value


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def parse_vmdl_lods(text: str) -> list[tuple[str, float, str]]:
    """Return ``(mesh name, switch_threshold, filename)`` per LOD mesh, sorted by threshold.

    Render meshes are found anywhere in the tree (ModelDoc may nest them in folders). LOD groups may list
    ``meshes`` (s&box) or ``mesh_references`` (older ModelDoc); without any LOD group every render mesh is
    returned at 0.0, and an unknown mesh name gets an empty filename.
    """
    files: dict[str, str] = {}
    lods: list[tuple[str, float, str]] = []
    nodes = list(_walk(loads_kv3(text)))
    for node in nodes:
        if node.get("_class") == "RenderMeshFile":
            filename = str(node.get("filename", ""))
            name = str(node.get("name") or filename.rsplit("/", 1)[-1].rsplit(".", 1)[0])
            files[name] = filename
    for node in nodes:
        if node.get("_class") == "LODGroup":
            refs = node.get("meshes") or [r.get("mesh_name", "") for r in node.get("mesh_references", [])]
            threshold = float(node.get("switch_threshold", 0.0))
            lods.extend((str(ref), threshold, files.get(str(ref), "")) for ref in refs)
    if not any(node.get("_class") == "LODGroup" for node in nodes):
        lods = [(name, 0.0, filename) for name, filename in files.items()]
    return sorted(lods, key=lambda lod: lod[1])
