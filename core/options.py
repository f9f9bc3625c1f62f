# SPDX-License-Identifier: GPL-3.0-or-later
"""The one catalogue of job options: every default, range, label and CLI flag is written here and only here.

Contract: ``CATALOGUE`` lists each ``Option`` with its name (the key in a job's options and the bpy property
of ``Object.retopo_hub``), kind, default, range, label, description, the providers that use it, its CLI flag
and the request field each service calls it. From it come the bpy properties (``properties.py``), the CLI
parser and ``--help`` (``jobs/cli.py``), validation (``validate``, one message format), the engine's
parameters (``engine_options``) and each provider's request fields (``field``). Adding an option is one
entry here plus the code that uses it; ``tests/unit/test_options.py`` fails when a copy drifts.
Pure Python (stdlib only), never imports bpy; imported by every process.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import product
from typing import Any
from urllib.parse import urlsplit

from .errors import InputError, one_line, safe_url

# Every provider's name, for options that all of them take (providers/registry.py lists the providers).
PROVIDERS = ("local", "csm", "tripo", "sboxcool")
LOD_PROVIDERS = frozenset({"local", "sboxcool"})


@dataclass(frozen=True)
class Range:
    low: float
    high: float
    label: str = ""  # overrides the option's label in messages (a service's own name for the limit)


@dataclass(frozen=True)
class Option:
    name: str
    kind: type  # bool, int, float or str; an enum is a str with ``items``
    default: Any
    label: str
    description: str
    providers: frozenset[str]
    cli: str | None = None  # the long flag; None: not on the command line (UI only, or handled by the CLI)
    range: Range | None = None
    # A provider's own range, and "<provider>+quads" when quads change it (Tripo's faceLimit).
    provider_ranges: Mapping[str, Range] = field(default_factory=dict)
    items: tuple[tuple[str, str, str], ...] = ()  # (value, label, description) of an enum
    fields: Mapping[str, str] = field(default_factory=dict)  # provider -> the request field it fills
    engine: bool = False  # passed to the local engine child (engines.pipeline.EngineParams)
    soft: tuple[float, float] | None = None  # the UI slider's range, inside ``range``
    precision: int | None = None  # digits the UI shows for a float
    checker: Callable[[Any], Any] | None = None  # a check beyond kind and range (InputError)
    # The value is any combination of the items' one-letter values, in their order ("" for none): the panel
    # shows one toggle per item, the CLI and job options take the letters as text ("xz").
    flags: bool = False

    @property
    def letters(self) -> tuple[str, ...]:
        return tuple(value for value, _label, _description in self.items)

    @property
    def choices(self) -> tuple[str, ...]:
        if not self.flags:
            return self.letters
        combos = ("".join(c for c, on in zip(self.letters, bits, strict=True) if on)
                  for bits in product((False, True), repeat=len(self.letters)))  # fmt: skip
        return tuple(sorted(combos, key=lambda combo: (len(combo), [self.letters.index(c) for c in combo])))

    def from_property(self, value: Any) -> Any:
        """The job option of a bpy property's value (a set of toggled items becomes their letters)."""
        if self.flags and isinstance(value, set | frozenset):
            return "".join(letter for letter in self.letters if letter in value)
        return value

    def limits(self, provider: str, options: Mapping[str, Any]) -> Range | None:
        if options.get("quads") and f"{provider}+quads" in self.provider_ranges:
            return self.provider_ranges[f"{provider}+quads"]
        return self.provider_ranges.get(provider, self.range)


def _set(*names: str) -> frozenset[str]:
    return frozenset(names)


ASSET_ID = re.compile(r"ASSET_[A-Za-z0-9_]+")


def mesh_reference(value: str) -> str:
    """The ``input.mesh`` the user gave (an https GLB URL or an ``ASSET_`` id), or InputError."""
    text = str(value).strip()
    if not text or ASSET_ID.fullmatch(text):
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


CATALOGUE: tuple[Option, ...] = (
    # -- shared --------------------------------------------------------------------------------------
    Option("mode", str, "quad", "Mode", "Local engine: quad retopology or triangle decimation",
           _set("local"), "--mode", engine=True,
           items=(("quad", "Retopology", "Field-aligned remesh to clean, evenly sized faces"),
                  ("decimate", "Decimate", "Collapse triangles, keeping the original layout"))),
    Option("target_faces", int, 5000, "Target Faces", "Face count to aim for (the result lands within 10%)",
           _set("local", "tripo"), "--faces", range=Range(4, 1_000_000), soft=(100, 100_000), engine=True,
           provider_ranges={"tripo": Range(500, 20_000, "Tripo face limit (triangles)"),
                            "tripo+quads": Range(500, 10_000, "Tripo face limit (quads)")},
           fields={"tripo": "faceLimit"}),
    Option("quads", bool, True, "Quads", "Output quads instead of triangles",
           _set("local", "csm", "tripo"), "--quads", engine=True, fields={"csm": "quads", "tripo": "quad"}),
    Option("use_modifiers", bool, True, "Modifiers and Shape Keys",
           "Retopologize the mesh as the viewport shows it (modifiers applied, shape keys as mixed); "
           "off: the base mesh", frozenset(PROVIDERS), "--modifiers"),
    Option("reproducible", bool, False, "Reproducible",
           "Local: the same input always gives the same mesh (one core for Instant Meshes, slower)",
           _set("local"), "--reproducible", engine=True),
    Option("sharp_angle", float, 40.0, "Hard Edges",
           "Local: source edges sharper than this angle get edge loops along them (degrees; 0 = off)",
           _set("local"), "--sharp-angle", range=Range(0.0, 180.0), soft=(0.0, 90.0), precision=0,
           engine=True),
    Option("marked_edges", bool, False, "Marked Edges",
           "Local: edge loops also follow the source's edges marked sharp, its UV seams and material borders",
           _set("local"), "--marked-edges"),
    Option("keep_boundaries", bool, True, "Keep Boundaries",
           "Local: the source's open borders stay where they are, as the result's borders; off: they are "
           "remeshed like the rest of the surface", _set("local"), "--keep-boundaries", engine=True),
    Option("edge_flow", bool, False, "Edge Flow",
           "Local quad retopology: pair the remesher's triangles and pentagons into quads and relax the "
           "result: about half the poles (irregular vertices), for about twice the engine's time and a "
           "slightly larger distance to the source", _set("local"), "--edge-flow", engine=True),
    Option("adaptive", float, 0.0, "Adaptive",
           "Local quad retopology: more faces where the surface bends more, fewer on flat areas (0 = even, "
           "1 = up to 2x the edge density on the most curved areas and half on the flattest)",
           _set("local"), "--adaptive", range=Range(0.0, 1.0), precision=2, engine=True),
    Option("density_group", str, "", "Density Group",
           "Local quad retopology: a vertex group painting the face density: weight 1 doubles the edge "
           "density, 0.5 keeps it, 0 halves it (vertices outside the group count as 0); empty = none",
           _set("local"), "--density-group", engine=True),
    Option("symmetry", str, "", "Symmetry",
           "Local engine: a mirror-exact result across the object's local X, Y and/or Z plane through its "
           "origin (the + side is kept)", _set("local"), "--symmetry", engine=True, flags=True,
           items=(("x", "X", "Mirror across the local YZ plane"),
                  ("y", "Y", "Mirror across the local XZ plane"),
                  ("z", "Z", "Mirror across the local XY plane"))),
    Option("uv", bool, False, "UVs",
           "Local engine: unwrap LOD0 for texturing (seams on hard edges and material borders, islands "
           "packed for a 2048 bake)", _set("local"), "--uv", engine=True),
    Option("uv_mirror", bool, False, "Shared Mirror UVs",
           "Local engine, with UVs and symmetry: mirrored halves share one set of texels (half the texture "
           "space per half; their islands overlap by design)", _set("local"), "--uv-mirror", engine=True),
    # Baked maps of LOD0 (jobs/bake.py, Blender's Cycles baker): a non-empty set implies ``uv``.
    Option("bake", str, "", "Bake",
           "Local: bake the source's detail onto LOD0 (normal, base color and/or ambient occlusion maps; "
           "implies UVs)", _set("local"), "--bake", flags=True,
           items=(("n", "Normal", "Tangent-space normal map of the source's detail"),
                  ("c", "Color", "Base color from the source's textures, color attributes or materials"),
                  ("a", "AO", "Ambient occlusion of the source"))),
    Option("bake_size", int, 2048, "Bake Size", "Local: width and height of the baked maps (pixels)",
           _set("local"), "--bake-size", range=Range(512, 8192), soft=(512, 8192)),
    Option("normal_convention", str, "opengl", "Normal Convention",
           "Local: green channel of the baked normal map", _set("local"), "--normal-convention",
           items=(("opengl", "OpenGL", "Y+ (Blender, Godot, Unity)"),
                  ("directx", "DirectX", "Y- (Unreal, s&box)"))),
    Option("ray_distance", float, 0.0, "Ray Distance",
           "Local: how far the bake looks for the source around LOD0 (object units; 0 = auto, from the "
           "measured distance between them)", _set("local"), "--ray-distance", range=Range(0.0, 1e6),
           soft=(0.0, 1.0), precision=3),
    Option("lod_levels", int, 0, "LoD Levels", "Extra levels of detail after LOD0",
           LOD_PROVIDERS, "--lods", range=Range(0, 5), engine=True, fields={"sboxcool": "lodLevels"}),
    Option("lod_final_ratio", float, 0.15, "Final LoD Ratio", "Face ratio of the last LoD relative to LOD0",
           LOD_PROVIDERS, "--lod-final-ratio", range=Range(0.001, 1.0), precision=3, engine=True,
           fields={"sboxcool": "lodFinalRatio"}),
    Option("lod_max_threshold", float, 50.0, "Max Switch Distance",
           "Switch distance of the furthest LoD (the linear rule; sboxcool's only rule)",
           LOD_PROVIDERS, "--lod-max-threshold", range=Range(1.0, 500.0), engine=True,
           fields={"sboxcool": "lodMaxThreshold"}),
    # The error rule's distances come from core/lodmath.py (applied by core/lodswitch.py in the worker).
    Option("lod_switch", str, "error", "Switch Rule", "Local: where each LoD switches in",
           _set("local"), "--lod-switch",
           items=(("error", "From Error", "Where the level's measured error projects to Pixel Error pixels"),
                  ("linear", "Linear", "Evenly spaced up to Max Switch Distance"))),
    Option("pixel_error", float, 1.0, "Pixel Error",
           "Local: a LoD switches in from where its error covers at most this many pixels",
           _set("local"), "--pixel-error", range=Range(0.05, 100.0), soft=(0.25, 10.0), precision=2),
    Option("screen_width", int, 1920, "Screen Width",
           "Local: screen width in pixels the switch distances assume",
           _set("local"), "--screen-width", range=Range(64, 16384), soft=(640, 7680)),
    Option("fov", float, 60.0, "FOV", "Local: horizontal field of view (degrees) the switch distances assume",
           _set("local"), "--fov", range=Range(1.0, 179.0), soft=(20.0, 120.0), precision=0),
    # -- CSM.ai --------------------------------------------------------------------------------------
    Option("csm_model", str, "swift", "CSM Model", "CSM.ai retopology model", _set("csm"), "--model",
           items=(("swift", "Swift", "Up to 8K faces, about 5 to 10 minutes"),
                  ("precision", "Precision", "High face count, fine detail, up to 50 minutes")),
           fields={"csm": "model"}),
    Option("csm_mesh_url", str, "", "Mesh URL or Asset ID",
           "Optional: a public GLB URL or a CSM ASSET_ id to use instead of uploading the object",
           _set("csm"), "--mesh-url", checker=mesh_reference),
    # -- Tripo through Scenario ----------------------------------------------------------------------
    Option("tripo_bake", bool, True, "Bake Textures", "Bake textures onto the low-poly mesh",
           _set("tripo"), "--tripo-bake", fields={"tripo": "bake"}),
    Option("tripo_adaptive_faces", bool, False, "Adaptive Face Count",
           "Let Tripo choose the face count (no face limit is sent; on the command line: omit --faces)",
           _set("tripo")),
    # -- sboxcool ------------------------------------------------------------------------------------
    Option("sbox_ratio", float, 0.5, "Ratio", "Base decimation ratio (lower = fewer faces)",
           _set("sboxcool"), "--ratio", range=Range(0.01, 1.0, "sboxcool ratio"),
           fields={"sboxcool": "ratio"}),
    Option("sbox_pipeline", str, "standard", "Pipeline", "sboxcool pipeline", _set("sboxcool"), "--pipeline",
           items=(("standard", "Standard", "Decimation and LoDs"),
                  ("source1", "s&box (.vmdl)", "Also write an s&box ModelDoc .vmdl with LoD groups")),
           fields={"sboxcool": "pipeline"}),
    # The CLI's --format names the upload format too (jobs/cli.py), so no flag of its own.
    Option("sbox_format", str, "fbx", "Upload Format", "File format sent to sboxcool", _set("sboxcool"),
           items=(("fbx", "FBX", "Binary FBX (keeps bones)"),
                  ("obj", "OBJ", "Wavefront OBJ (static meshes)")),
           fields={"sboxcool": "format"}),
    Option("sbox_generate_pbr", bool, False, "Generate PBR Maps",
           "Generate normal, roughness and AO maps from the color map", _set("sboxcool"), "--generate-pbr",
           fields={"sboxcool": "generatePbr"}),
    Option("sbox_pbr_normal_strength", float, 1.5, "Normal Strength", "Strength of the generated normal map",
           _set("sboxcool"), "--pbr-normal-strength", range=Range(0.5, 4.0, "PBR normal strength"),
           fields={"sboxcool": "pbrNormalStrength"}),
    Option("sbox_pbr_roughness_base", int, 180, "Roughness Base", "Base value of the generated roughness map",
           _set("sboxcool"), "--pbr-roughness-base", range=Range(100, 240, "PBR roughness base"),
           fields={"sboxcool": "pbrRoughnessBase"}),
    Option("sbox_pbr_ao_strength", float, 0.3, "AO Strength", "Strength of the generated ambient occlusion",
           _set("sboxcool"), "--pbr-ao-strength", range=Range(0.0, 1.0, "PBR AO strength"),
           fields={"sboxcool": "pbrAoStrength"}),
    Option("sbox_skip_bone_mapping", bool, False, "Skip Bone Mapping", "Keep the original bone names",
           _set("sboxcool"), "--skip-bone-mapping", fields={"sboxcool": "skipBoneMapping"}),
    Option("sbox_mapping_id", str, "", "Mapping ID", "Public bone mapping id (map_...)",
           _set("sboxcool"), "--mapping-id", fields={"sboxcool": "mappingId"}),
    Option("sbox_most_popular_mapping", bool, False, "Most Popular Mapping",
           "Auto-select the highest-rated matching mapping", _set("sboxcool"), "--most-popular-mapping",
           fields={"sboxcool": "useMostPopularBoneMapping"}),
    Option("sbox_auto_match_threshold", int, 80, "Auto-Match %", "Lowest match score a mapping may have",
           _set("sboxcool"), "--auto-match-threshold", range=Range(50, 100, "auto-match threshold"),
           fields={"sboxcool": "autoMatchThreshold"}),
    Option("sbox_skeleton_target", str, "citizen", "Skeleton", "s&box skeleton to map the bones to",
           _set("sboxcool"), "--skeleton-target",
           items=(("citizen", "Citizen", ""), ("human", "Human", "")), fields={"sboxcool": "skeletonTarget"}),
)  # fmt: skip

BY_NAME: Mapping[str, Option] = {option.name: option for option in CATALOGUE}


def with_implied(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` plus what they imply: baking maps needs UVs on LOD0."""
    implied = dict(options)
    if implied.get("bake"):
        implied["uv"] = True
    return implied


def bake_maps(letters: str) -> tuple[str, ...]:
    """The map names (``normal``, ``color``, ``ao``) of a ``bake`` option's letters, in catalogue order."""
    names = {"n": "normal", "c": "color", "a": "ao"}
    return tuple(names[letter] for letter in BY_NAME["bake"].letters if letter in (letters or ""))


def options_for(provider: str) -> Iterator[Option]:
    return (option for option in CATALOGUE if provider in option.providers)


def default(name: str) -> Any:
    return BY_NAME[name].default


def defaults(provider: str) -> dict[str, Any]:
    """Every option of ``provider`` at its default (a job whose settings were never touched)."""
    return {option.name: option.default for option in options_for(provider)}


def engine_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The subset of a local job's options the engine child takes as parameters."""
    return {name: value for name, value in options.items() if name in BY_NAME and BY_NAME[name].engine}


def field(provider: str, name: str) -> str:
    """The request field ``provider`` documents for option ``name``."""
    return BY_NAME[name].fields[provider]


def request_fields(provider: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """``{request field: value}`` for every option of ``provider`` that maps to one (defaults filled in)."""
    return {
        option.fields[provider]: options.get(option.name, option.default)
        for option in options_for(provider)
        if provider in option.fields
    }


# -- validation ------------------------------------------------------------------------------------


def _number(value: Any, kind: type) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if not math.isfinite(value):
        return False
    return kind is float or float(value).is_integer()


def _shown(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def check(option: Option, value: Any, provider: str, options: Mapping[str, Any]) -> None:
    """InputError in the one message format (label, accepted values, value given) unless ``value`` fits."""
    limits = option.limits(provider, options)
    label = (limits.label if limits and limits.label else option.label).strip()
    if option.items:
        if value not in option.choices:
            accepted = ", ".join(choice or "empty" for choice in option.choices)
            raise InputError(f"{label} must be one of {accepted} (got {value!r}): change it and submit again")
    elif option.kind is bool:
        if not isinstance(value, bool):
            raise InputError(f"{label} must be on or off (got {value!r}): change it and submit again")
    elif option.kind in (int, float):
        whole = "a whole number " if option.kind is int else ""
        if limits is not None and not (_number(value, option.kind) and limits.low <= value <= limits.high):
            raise InputError(
                f"{label} must be {whole}between {_shown(limits.low)} and {_shown(limits.high)} "
                f"(got {value!r}): change it and submit again"
            )
        if limits is None and not _number(value, option.kind):
            raise InputError(f"{label} must be a number (got {value!r}): change it and submit again")
    elif not isinstance(value, str):
        raise InputError(f"{label} must be text (got {value!r}): change it and submit again")
    if option.checker is not None:
        option.checker(value)


def check_source_size(provider: str, options: Mapping[str, Any], source_tris: int) -> None:
    """The local engine only reduces: its target must be below the triangles of the mesh it gets."""
    target = options.get("target_faces")
    if provider == "local" and target is not None and target >= source_tris:
        raise InputError(
            f"target faces ({target}) must be below the source's {source_tris} triangles: lower the target"
        )


def validate(provider: str, options: Mapping[str, Any], *, source_tris: int = 0) -> None:
    """Refuse ``options`` for a registered ``provider`` before anything is exported, uploaded or paid."""
    for name, value in options.items():
        option = BY_NAME.get(name)
        if option is None or provider not in option.providers:
            continue  # a setting of another provider (kept on the object) means nothing to this one
        check(option, value, provider, options)
    if source_tris:
        check_source_size(provider, options, source_tris)
