# SPDX-License-Identifier: GPL-3.0-or-later
"""sboxcool Model Importer, part 1: the submit form's validation, the LoD maths and bone-mapping choice.

Pure functions (no HTTP), following the field table of the Model Importer API page
(sboxcool-model-importer.txt): ranges and defaults for ``ratio`` (0.01-1.0, 0.5), ``lodLevels`` (integer 0-5,
0), ``lodFinalRatio`` (0.001-1.0, 0.15), ``lodMaxThreshold`` (1-500, 50), ``pbrNormalStrength`` (0.5-4.0,
1.5), ``pbrRoughnessBase`` (100-240, 180), ``pbrAoStrength`` (0-1.0, 0.3), ``autoMatchThreshold`` (50-100,
80); enums ``format`` (fbx|obj), ``pipeline`` (standard|source1), ``skeletonTarget`` (citizen|human);
``tex_{material}_{slot}`` files with slot in color|normal|roughness|metalness|emissive|ao. LoD ratios follow
``ratio[i] = lodFinalRatio ** ((i / lodLevels) ** 1.7)`` and thresholds spread linearly to
``lodMaxThreshold``.

INFERRED: booleans must be the strings "true" or "false" (any case); the error texts (``"<field> must be
between <lo> and <hi>"``); unknown form fields are ignored; a file over the limit is a 400, not 413; LoD faces
are ``originalFaces * ratio[i]`` as in the documented example (2250 = 15000 * 0.15), not relative to LOD0.
"""

from __future__ import annotations

import math
import re
from typing import Any

__all__ = ("DOC_MAX_UPLOAD", "FormError", "choose_mapping", "lod_plan", "validate_form")

DOC_MAX_UPLOAD = 100 * 1024 * 1024
TEXTURE_SLOTS = ("color", "normal", "roughness", "metalness", "emissive", "ao")
_TEX = re.compile(r"tex_(?P<mat>.+)_(?P<slot>[A-Za-z]+)")

# name: (low, high, default, integer)
RANGES: dict[str, tuple[float, float, float, bool]] = {
    "ratio": (0.01, 1.0, 0.5, False),
    "lodLevels": (0, 5, 0, True),
    "lodFinalRatio": (0.001, 1.0, 0.15, False),
    "lodMaxThreshold": (1, 500, 50, False),
    "pbrNormalStrength": (0.5, 4.0, 1.5, False),
    "pbrRoughnessBase": (100, 240, 180, False),
    "pbrAoStrength": (0, 1.0, 0.3, False),
    "autoMatchThreshold": (50, 100, 80, False),
}
ENUMS: dict[str, tuple[str, ...]] = {
    "format": ("fbx", "obj"),
    "pipeline": ("standard", "source1"),
    "skeletonTarget": ("citizen", "human"),
}
BOOLS = ("generatePbr", "skipBoneMapping", "useMostPopularBoneMapping")


class FormError(ValueError):
    """A 400 answer; ``str(error)`` is the ``error`` text."""


def _number(name: str, raw: str) -> float | int:
    low, high, _default, integer = RANGES[name]
    text = raw.strip()
    try:
        value: float | int = int(text) if integer else float(text)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise FormError(f"{name} must be {kind} between {low:g} and {high:g}") from None
    if math.isnan(value) or not low <= value <= high:
        raise FormError(f"{name} must be between {low:g} and {high:g}")
    return value


def _apply_field(params: dict[str, Any], name: str, raw: str) -> None:
    text = raw.strip()
    if name in RANGES:
        params[name] = _number(name, text)
    elif name in ENUMS:
        if text.lower() not in ENUMS[name]:
            raise FormError(f"{name} must be one of: {', '.join(ENUMS[name])}")
        params[name] = text.lower()
    elif name in BOOLS:
        if text.lower() not in ("true", "false"):
            raise FormError(f"{name} must be true or false")
        params[name] = text.lower() == "true"
    elif name == "mappingId":
        params["mappingId"] = text or None
    elif name.startswith("tex_") or name == "file":
        raise FormError(f"{name} must be a file upload")


def _check_file(params: dict[str, Any], files: dict[str, tuple[str, bytes]], max_upload_bytes: int) -> None:
    upload = files.get("file")
    if upload is None or not upload[0]:
        raise FormError("No file uploaded (field 'file' is required)")
    filename, data = upload
    limit = min(max_upload_bytes, DOC_MAX_UPLOAD)
    if len(data) > limit:
        shown = "100MB" if limit == DOC_MAX_UPLOAD else f"{limit} bytes"
        raise FormError(f"File too large (max {shown})")
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if ext not in ENUMS["format"]:
        raise FormError("Unsupported file type: only FBX and OBJ files are accepted")
    if ext != params["format"]:
        raise FormError(f"File extension .{ext} does not match format={params['format']}")
    params.update(filename=filename, data=data)


def _textures(files: dict[str, tuple[str, bytes]]) -> dict[str, dict[str, tuple[str, bytes]]]:
    textures: dict[str, dict[str, tuple[str, bytes]]] = {}
    for name, value in files.items():
        match = _TEX.fullmatch(name)
        if match is None:
            continue
        if match["slot"] not in TEXTURE_SLOTS:
            raise FormError(f"{name}: texture slot must be one of: {', '.join(TEXTURE_SLOTS)}")
        textures.setdefault(match["mat"], {})[match["slot"]] = value
    return textures


def validate_form(
    form: dict[str, str], files: dict[str, tuple[str, bytes]], max_upload_bytes: int
) -> dict[str, Any]:
    """Return the effective parameters, or raise FormError with the documented-style message."""
    params: dict[str, Any] = {name: spec[2] for name, spec in RANGES.items()}
    params["lodLevels"] = int(params["lodLevels"])
    params.update({name: values[0] for name, values in ENUMS.items()})
    params.update(dict.fromkeys(BOOLS, False))
    params["mappingId"] = None
    for name, raw in form.items():
        _apply_field(params, name, raw)
    _check_file(params, files, max_upload_bytes)
    params["textures"] = _textures(files)
    return params


def _plain(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 4)


def lod_plan(original: int, params: dict[str, Any]) -> list[dict[str, Any]]:
    """[{level, ratio, threshold, faces}] for LOD1..LODn (LOD0 is the base ``ratio``)."""
    levels = int(params["lodLevels"])
    plan = []
    for i in range(1, levels + 1):
        ratio = params["lodFinalRatio"] ** ((i / levels) ** 1.7)
        threshold = params["lodMaxThreshold"] * i / levels
        plan.append(
            {
                "level": i,
                "ratio": round(ratio, 4),
                "threshold": _plain(threshold),
                "faces": round(original * ratio),
            }
        )
    return plan


def choose_mapping(
    params: dict[str, Any], bones: list[str], mappings: list[dict[str, Any]]
) -> tuple[dict[str, Any] | None, str | None]:
    """(mapping to apply or None, error text or None) for a rigged upload."""
    if not bones or params["skipBoneMapping"]:
        return None, None
    if params["mappingId"]:
        for mapping in mappings:
            if mapping["publicId"] == params["mappingId"]:
                return mapping, None
        return None, f"Bone mapping {params['mappingId']} not found"
    if params["useMostPopularBoneMapping"] and mappings:
        return max(mappings, key=lambda m: m.get("upvotes", 0) - m.get("downvotes", 0)), None
    good = [m for m in mappings if m.get("matchPercent", 0) >= params["autoMatchThreshold"]]
    if good:
        return max(good, key=lambda m: m["matchPercent"]), None
    return None, (
        f"Model has {len(bones)} bones but no mapping selected. Pass mappingId (see availableMappings), "
        "useMostPopularBoneMapping=true or skipBoneMapping=true."
    )
