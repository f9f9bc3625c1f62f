# SPDX-License-Identifier: GPL-3.0-or-later
"""The one job model every provider shares.

Pure data: states, the frozen ``JobSpec`` a worker receives, the ``JobEvent`` it sends back, and the result
files it produced. Never imports bpy; instances are immutable, so they can cross threads freely.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class State(StrEnum):
    QUEUED = "queued"
    EXPORTING = "exporting"
    UPLOADING = "uploading"
    WAITING = "waiting"
    RUNNING = "running"
    DOWNLOADING = "downloading"
    IMPORTING = "importing"
    BAKING = "baking"  # results imported, maps being baked onto them (jobs/bake.py)
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL_STATES = frozenset({State.DONE, State.FAILED, State.CANCELLED})


def new_job_id() -> str:
    # Short enough to read in the panel, random enough that two files never share one.
    return uuid.uuid4().hex[:12]


def freeze(options: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(options))


@dataclass(frozen=True)
class MeshSnapshot:
    """Plain arrays of one source mesh in its object space (Blender's Z-up), taken on the main thread.

    ``corner_uvs`` is optional; ``material_names`` lists the source's material slots and ``face_materials``
    gives each face's slot (None when the mesh has no material index: every face uses the first slot).
    The local engine carries the rest over to results (all optional): ``group_names`` and the sparse weights
    (one ``weight_verts``/``weight_groups``/``weight_values`` row per vertex weight), and ``sharp_edges``,
    the vertex pairs of the edges the source marks sharp. ``feature_edges`` (the ``marked_edges`` option) are
    the edges the local remesh puts edge loops on.
    """

    verts: Any  # numpy float32 (N, 3)
    face_sizes: Any  # numpy int32 (F,)
    corner_verts: Any  # numpy int32 (sum(face_sizes),)
    corner_uvs: Any = None  # numpy float32 (sum(face_sizes), 2) or None
    face_materials: Any = None  # numpy int32 (F,) material slot per face, or None
    group_names: Any = None  # numpy str (G,) vertex group names, or None
    weight_verts: Any = None  # numpy int32 (K,)
    weight_groups: Any = None  # numpy int32 (K,) index into group_names
    weight_values: Any = None  # numpy float32 (K,)
    sharp_edges: Any = None  # numpy int32 (S, 2) vertex pairs of the edges marked sharp
    # numpy int32 (K, 2): the edges the remesh follows (marked sharp, UV seams, material borders), or None
    feature_edges: Any = None
    material_names: tuple[str, ...] = ()
    textures: tuple[tuple[str, str, str], ...] = ()  # (material, slot, image file path)
    has_armature: bool = False

    ARRAYS = (
        "verts", "face_sizes", "corner_verts", "corner_uvs", "face_materials",
        "group_names", "weight_verts", "weight_groups", "weight_values", "sharp_edges", "feature_edges",
    )  # fmt: skip

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, Any], **meta: Any) -> MeshSnapshot:
        """A snapshot of the named arrays (the optional ones may be missing) plus its metadata fields."""
        return cls(**{name: arrays.get(name) for name in cls.ARRAYS}, **meta)

    @property
    def face_count(self) -> int:
        return len(self.face_sizes)


@dataclass(frozen=True)
class Credentials:
    """Secrets for one provider. ``repr`` never shows them, so they cannot leak into logs or reports."""

    values: Mapping[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str:
        return self.values.get(name, "")

    def __repr__(self) -> str:
        return f"Credentials({sorted(self.values)} set)"


@dataclass(frozen=True)
class JobSpec:
    """Everything a worker needs, frozen on the main thread before the worker starts."""

    job_id: str
    provider: str
    source_name: str
    options: Mapping[str, Any]
    work_dir: str
    snapshot: MeshSnapshot | None = None
    input_file: str | None = None  # a rigged mesh's FBX, exported on the main thread with its armature
    remote_id: str | None = None  # set when resuming or attaching to a job the service already has
    credentials: Credentials = field(default_factory=Credentials)
    base_url: str = ""
    online: bool = False
    deadline_s: float = 3600.0
    extension_root: str = ""  # where the engines package lives, for the local child process
    python_paths: tuple[str, ...] = ()  # the parent's sys.path, so the child finds bundled wheels
    journal_dir: str = ""  # where the worker records remote ids and states as soon as it learns them
    # A service's free quote (Scenario's dryRun) up to this many credits is accepted without asking; above
    # it the job waits for the user's answer when ``quote_can_ask`` (a click in the UI), else it fails.
    quote_limit: float = 0.0
    quote_can_ask: bool = False


# A mesh result's carried-over attributes (materials per face, weights, hard edges: providers/attributes.py)
# sit beside it in ``<path>`` + this suffix.
ATTRIBUTES_SUFFIX = ".attributes.npz"


@dataclass(frozen=True)
class ResultFile:
    path: str
    kind: str  # "mesh" (OBJ/GLB/FBX), "arrays" (local engine npz), "vmdl", "preview", "textures"
    lod: int = 0
    variant: int = 0  # CSM returns several variations of the same level
    switch_threshold: float = 0.0
    # What made this level: "instant-meshes", "fast-simplification", Blender's "quadriflow" or "decimate"
    # (the fallback when the engine's wheels cannot load), or "" for a cloud service's own result.
    engine: str = ""
    # The local engine's LoDs (core/lodswitch.py): the level's Hausdorff distance to LOD0 in object units
    # and the screen coverage at which it switches in; None when not measured (a cloud service's levels).
    error: float | None = None
    screen_coverage: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind,
            "lod": self.lod,
            "variant": self.variant,
            "switch_threshold": self.switch_threshold,
            "engine": self.engine,
            "error": self.error,
            "screen_coverage": self.screen_coverage,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ResultFile:
        return cls(
            path=str(data["path"]),
            kind=str(data["kind"]),
            lod=int(data.get("lod", 0)),
            variant=int(data.get("variant", 0)),
            switch_threshold=float(data.get("switch_threshold", 0.0)),
            engine=str(data.get("engine", "")),
            error=_optional_float(data.get("error")),
            screen_coverage=_optional_float(data.get("screen_coverage")),
        )


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class JobEvent:
    """A change reported by a worker; the main thread applies it to the job record."""

    job_id: str
    state: State | None = None
    progress: float | None = None
    message: str | None = None
    remote_id: str | None = None
    results: tuple[ResultFile, ...] | None = None
    error: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
