# SPDX-License-Identifier: GPL-3.0-or-later
"""Range checks on job options, run before anything is exported, uploaded or paid for.

Each failure is an ``InputError`` whose one line names the option, the documented range and the value.
Pure Python, never imports bpy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from .errors import InputError, one_line
from .http import safe_url

# (option, low, high, label) with the documented ranges of each service
GENERIC_RANGES = (
    ("lod_levels", 0, 5, "LoD levels"),
    ("lod_final_ratio", 0.001, 1.0, "final LoD ratio"),
    ("lod_max_threshold", 1.0, 500.0, "max switch distance"),
)
SBOX_RANGES = (
    ("sbox_ratio", 0.01, 1.0, "sboxcool ratio"),
    ("sbox_pbr_normal_strength", 0.5, 4.0, "PBR normal strength"),
    ("sbox_pbr_roughness_base", 100, 240, "PBR roughness base"),
    ("sbox_pbr_ao_strength", 0.0, 1.0, "PBR AO strength"),
    ("sbox_auto_match_threshold", 50, 100, "auto-match threshold"),
)
LOCAL_MIN_FACES = 4
LOCAL_MAX_FACES = 1_000_000
TRIPO_FACES = (500, 20_000)
TRIPO_QUAD_FACES = (500, 10_000)
ENUMS = {
    "mode": ("quad", "decimate"),
    "csm_model": ("swift", "precision"),
    "sbox_pipeline": ("standard", "source1"),
    "sbox_format": ("fbx", "obj"),
    "sbox_skeleton_target": ("citizen", "human"),
}


def _check_range(options: Mapping[str, Any], key: str, low: float, high: float, label: str) -> None:
    if key not in options:
        return
    value = options[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InputError(
            f"{label} must be between {low} and {high} (got {value}): change it and submit again"
        )


ASSET_ID = re.compile(r"ASSET_[A-Za-z0-9_]+")


def mesh_reference(value: str) -> str:
    """The ``input.mesh`` the user gave (an https GLB URL or an ``ASSET_`` id), or InputError."""
    text = value.strip()
    if ASSET_ID.fullmatch(text):
        return text
    try:
        parts = urlsplit(text)
        # CSM fetches the link itself: only a public https GLB can work (a local or http:// one never does).
        ok = parts.scheme.lower() == "https" and bool(parts.hostname) and parts.path.lower().endswith(".glb")
    except ValueError:
        ok = False
    if not ok or re.search(r"\s", text):
        shown = safe_url(text) if "://" in text else one_line(text, 60)  # a query may hold a signature
        raise InputError(
            f"the CSM mesh URL must be an https:// link to a .glb file or a CSM ASSET_ id (got {shown!r}): "
            "fix it, or clear it to send the object itself"
        )
    return text


def validate_options(
    provider: str, options: Mapping[str, Any], *, source_faces: int = 0, source_tris: int = 0
) -> None:
    for key, allowed in ENUMS.items():
        if key in options and options[key] not in allowed:
            raise InputError(f"{key} must be one of {', '.join(allowed)} (got {options[key]!r})")
    for key, low, high, label in GENERIC_RANGES:
        _check_range(options, key, low, high, label)
    if isinstance(options.get("lod_levels"), float):
        raise InputError("LoD levels must be a whole number between 0 and 5")
    if provider == "local":
        _validate_local(options, source_tris or source_faces)
    elif provider == "tripo":
        low, high = TRIPO_QUAD_FACES if options.get("quads") else TRIPO_FACES
        kind = "quads" if options.get("quads") else "triangles"
        _check_range(options, "target_faces", low, high, f"Tripo face limit ({kind})")
    elif provider == "sboxcool":
        for key, low, high, label in SBOX_RANGES:
            _check_range(options, key, low, high, label)
    elif provider == "csm":
        if options.get("csm_mesh_url"):
            mesh_reference(str(options["csm_mesh_url"]))
    else:
        raise InputError(f"unknown provider {provider!r}: use local, csm, tripo or sboxcool")


def _validate_local(options: Mapping[str, Any], source_tris: int) -> None:
    _check_range(options, "target_faces", LOCAL_MIN_FACES, LOCAL_MAX_FACES, "target faces")
    target = options.get("target_faces")
    if source_tris and target is not None and target >= source_tris:
        raise InputError(
            f"target faces ({target}) must be below the source's {source_tris} triangles: lower the target"
        )
