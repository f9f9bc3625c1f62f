# SPDX-License-Identifier: GPL-3.0-or-later
"""sboxcool Model Importer, part 1: the submit form, the texture fields and the bone-mapping message.

Pure functions over a frozen ``JobSpec``; used in the worker host process (a provider thread), never imports
bpy.

Documented (sboxcool-model-importer.txt, NOTES.md section 3): the multipart field names, their ranges and
defaults, ``tex_{name}_{slot}`` with slot in color|normal|roughness|metalness|emissive|ao, booleans sent as
``true``, ``availableMappings`` entries ``{publicId, name, author, matchPercent, upvotes, downvotes}``.

Inferred (nothing public says so):

* Booleans are sent as the strings ``"true"``/``"false"`` (the docs' examples only show ``"true"``).
* A static mesh (no Armature modifier) always sends ``skipBoneMapping=true``: there are no bones to map, and
  the service's automatic matching must never turn a plain mesh into a "mapping required" failure.
* Material names in ``tex_*`` fields are reduced to ``[A-Za-z0-9_-]``: the form name must survive
  multipart encoding, and s&box drops everything after a ``.`` anyway, so ``Material.001`` becomes
  ``Material_001``. When two materials reduce to the same field, the first one wins (logged).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..core.errors import InputError, one_line
from ..core.jobs import JobSpec
from ..core.options import default, request_fields

log = logging.getLogger(__name__)

TEXTURE_SLOTS = ("color", "normal", "roughness", "metalness", "emissive", "ao")
MAPPING_KEYS = ("publicId", "name", "author", "matchPercent", "upvotes", "downvotes")
MAX_MAPPINGS = 50  # enough for any real list; keeps a hostile answer from bloating the job record
_MAPPING_ID = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def option(options: Mapping[str, Any], key: str) -> Any:
    """An option's value, or its catalogue default when a CLI or script omitted it."""
    value = options.get(key)
    return default(key) if value is None else value


def number(value: Any) -> str:
    """A form number: integers plainly, floats to 6 significant digits (UI floats are float32, and
    ``0.30000001192092896`` is not what the user typed)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    text = f"{float(value):.6g}"
    return f"{float(value):.6f}".rstrip("0").rstrip(".") if "e" in text else text


def flag(value: Any) -> str:
    return "true" if value else "false"


def safe_name(text: str, fallback: str = "model") -> str:
    """``text`` reduced to ``[A-Za-z0-9_-]`` (a form field or file name that needs no quoting)."""
    return _UNSAFE.sub("_", str(text)).strip("_")[:80] or fallback


def _encode(value: Any) -> str:
    if isinstance(value, bool):
        return flag(value)
    if isinstance(value, int | float):
        return number(value)
    return str(value).strip()


# Only meaningful with generatePbr: the docs list them under it.
PBR_FIELDS = ("pbrNormalStrength", "pbrRoughnessBase", "pbrAoStrength")


def build_form(spec: JobSpec) -> dict[str, str]:
    """Every documented non-file field for ``spec``, as strings (names and defaults from the catalogue)."""
    opts = spec.options
    form = {name: _encode(value) for name, value in request_fields("sboxcool", opts).items()}
    if not option(opts, "sbox_generate_pbr"):
        for name in PBR_FIELDS:
            del form[name]
    rigged = spec.snapshot is not None and spec.snapshot.has_armature
    form["skipBoneMapping"] = flag(not rigged or option(opts, "sbox_skip_bone_mapping"))
    mapping = form.pop("mappingId")
    if mapping:
        if not _MAPPING_ID.fullmatch(mapping):
            shown = one_line(mapping, 40)
            raise InputError(
                f"the bone mapping id {shown!r} is not valid: copy a map_... id from the suggestions"
            )
        form["mappingId"] = mapping
    return form


def texture_fields(textures: Iterable[tuple[str, str, str]]) -> list[tuple[str, Path]]:
    """``(form field, file)`` per usable texture; missing files and unknown slots are logged and skipped."""
    fields: list[tuple[str, Path]] = []
    seen: set[str] = set()
    for material, slot, path in textures:
        if slot not in TEXTURE_SLOTS:
            log.warning("texture slot %r of material %r is not one sboxcool takes; not sent", slot, material)
            continue
        file = Path(path)
        if not file.is_file():
            log.warning("the %s texture of material %r (%s) is missing on disk; not sent", slot, material,
                        file.name)  # fmt: skip
            continue
        field = f"tex_{safe_name(material, 'material')}_{slot}"
        if field in seen:
            log.warning(
                "material %r maps to the same field %s as another material; not sent", material, field
            )
            continue
        seen.add(field)
        fields.append((field, file))
    return fields


def clean_mappings(raw: Any, redact: Any) -> list[dict[str, Any]]:
    """The ``availableMappings`` entries with only the documented keys, text one-lined and redacted."""
    out: list[dict[str, Any]] = []
    for entry in raw if isinstance(raw, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("publicId"), str) or not entry["publicId"]:
            continue
        item: dict[str, Any] = {}
        for key in MAPPING_KEYS:
            value = entry.get(key)
            if isinstance(value, str):
                item[key] = redact(one_line(value, 120))
            elif isinstance(value, int | float) and not isinstance(value, bool):
                item[key] = value
        out.append(item)
        if len(out) >= MAX_MAPPINGS:
            break
    return out


def mapping_required_message(result: Mapping[str, Any], error: str) -> str:
    """The one line shown when a rigged model needs a bone mapping."""
    count = result.get("boneCount")
    if not isinstance(count, int) or isinstance(count, bool):
        bones = result.get("bones")
        found = re.search(r"(\d+) bones", error)
        count = len(bones) if isinstance(bones, list) and bones else int(found[1]) if found else None
    has = f"the model has {count} bones" if count else "the model has bones"
    return (
        f"{has} but no bone mapping was selected: pick one of the suggested mappings in the panel or pass "
        "--mapping-id / --most-popular-mapping / --skip-bone-mapping"
    )
