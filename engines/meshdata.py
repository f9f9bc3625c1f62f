# SPDX-License-Identifier: GPL-3.0-or-later
"""The polygon mesh container exchanged between the engine and the Blender side.

Contract: ``MeshArrays`` holds ``verts`` float32 (N, 3) in object-space units, ``face_sizes`` int32 (F,)
and ``corner_verts`` int32 (sum(face_sizes),). That is exactly Blender's ``polygons.loop_total`` and
``loops.vertex_index`` layout, so the Blender side can ``foreach_set`` the arrays without reshaping.
Imports numpy and the engine's own errors only; never touches bpy. Used in the engine child process (the
Blender side reads its arrays from files); every method is pure and returns new arrays.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from .errors import EngineInputError

log = logging.getLogger(__name__)


# How quads are split as Blender draws them (``MeshArrays.triangles``): along the diagonal from their first
# corner, as glTF fans are written too, unless the quad folds over it. A LoD chain starts from LOD0 split so,
# and is measured against it (quality.LevelProbe).
DRAWN_SPLIT = "drawn"


def triangle_areas(verts: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Area of each triangle, float32 (float32 is ample for size estimates and about 3x faster on 1M)."""
    v = np.asarray(verts, dtype=np.float32)
    a = v[tris[:, 0]]
    cross = np.cross(v[tris[:, 1]] - a, v[tris[:, 2]] - a)
    return 0.5 * np.sqrt(np.einsum("ij,ij->i", cross, cross))


# eq=False: element-wise array comparison has no single truth value, so identity equality it is.
@dataclass(frozen=True, eq=False)
class MeshArrays:
    """Polygons as flat arrays; construction coerces dtypes so callers may pass any integer/float arrays."""

    verts: np.ndarray
    face_sizes: np.ndarray
    corner_verts: np.ndarray

    def __post_init__(self) -> None:
        # Coercing here keeps every consumer free of dtype checks; frozen needs object.__setattr__.
        object.__setattr__(self, "verts", np.ascontiguousarray(self.verts, dtype=np.float32).reshape(-1, 3))
        object.__setattr__(self, "face_sizes", np.ascontiguousarray(self.face_sizes, dtype=np.int32).ravel())
        object.__setattr__(
            self, "corner_verts", np.ascontiguousarray(self.corner_verts, dtype=np.int32).ravel()
        )

    @classmethod
    def from_triangles(cls, verts: np.ndarray, tris: np.ndarray) -> MeshArrays:
        return cls.from_faces(verts, tris)

    @classmethod
    def from_polygons(cls, verts: np.ndarray, faces: list[list[int]]) -> MeshArrays:
        """Build from polygons given as lists of vertex indices (any sizes)."""
        sizes = np.array([len(f) for f in faces], dtype=np.int64)
        corners = np.array([v for f in faces for v in f], dtype=np.int64)
        return cls(verts, sizes, corners)

    @classmethod
    def from_faces(cls, verts: np.ndarray, faces: np.ndarray) -> MeshArrays:
        """Build from an (F, k) array of faces that all have k corners."""
        faces = np.asarray(faces)
        if faces.ndim != 2:
            raise EngineInputError("faces must be an (F, k) array: reshape the face index array")
        sizes = np.full(faces.shape[0], faces.shape[1], dtype=np.int32)
        return cls(verts, sizes, faces.reshape(-1))

    @property
    def vert_count(self) -> int:
        return int(self.verts.shape[0])

    @property
    def face_count(self) -> int:
        return int(self.face_sizes.shape[0])

    @property
    def quad_count(self) -> int:
        return int(np.count_nonzero(self.face_sizes == 4))

    @property
    def tri_count(self) -> int:
        return int(np.count_nonzero(self.face_sizes == 3))

    @property
    def face_starts(self) -> np.ndarray:
        """First corner of each face (Blender's ``loop_start``), int64 so large meshes cannot overflow."""
        starts = np.zeros(self.face_count, dtype=np.int64)
        if self.face_count > 1:
            np.cumsum(self.face_sizes[:-1], out=starts[1:])
        return starts

    def validate(self) -> MeshArrays:
        """Raise EngineInputError if the arrays do not describe a polygon mesh; return self for chaining."""
        if self.face_count and int(self.face_sizes.min()) < 3:
            raise EngineInputError("a face has fewer than 3 corners: remove loose edges and points first")
        total = int(self.face_sizes.sum(dtype=np.int64))
        if total != self.corner_verts.shape[0]:
            raise EngineInputError(
                f"face sizes add up to {total} corners but {self.corner_verts.shape[0]} were given: "
                "rebuild the corner array"
            )
        if self.corner_verts.size and (
            int(self.corner_verts.min()) < 0 or int(self.corner_verts.max()) >= self.vert_count
        ):
            raise EngineInputError("a face uses a vertex index out of range: rebuild the mesh arrays")
        if not np.isfinite(self.verts).all():
            raise EngineInputError("the mesh has NaN or infinite coordinates: fix or delete those vertices")
        return self

    def triangles(self, quad_split: str = "shorter") -> np.ndarray:
        """Triangulate: fans for n-gons, quads split along their shorter diagonal (``quad_split="shorter"``),
        the one from their first corner (``"first"``: glTF fans), the other (``"second"``) or as Blender
        draws them (``"drawn"``: the first, unless the quad folds over it, its two triangles facing apart).
        Returns int32 (T, 3)."""
        sizes = self.face_sizes.astype(np.int64)
        if sizes.size == 0:
            return np.zeros((0, 3), dtype=np.int32)
        starts = self.face_starts
        if np.all(sizes == 3):
            return self.corner_verts.reshape(-1, 3).copy()
        # Rotating a quad's fan origin by one corner swaps which diagonal the split uses.
        rot = np.zeros(sizes.shape[0], dtype=np.int64)
        quads = np.flatnonzero(sizes == 4)
        if quads.size:
            c = self.corner_verts[starts[quads, None] + np.arange(4)]
            p = self.verts
            d02 = np.einsum("ij,ij->i", p[c[:, 0]] - p[c[:, 2]], p[c[:, 0]] - p[c[:, 2]])
            d13 = np.einsum("ij,ij->i", p[c[:, 1]] - p[c[:, 3]], p[c[:, 1]] - p[c[:, 3]])
            if quad_split == "drawn":
                n1 = np.cross(p[c[:, 1]] - p[c[:, 0]], p[c[:, 2]] - p[c[:, 0]])
                n2 = np.cross(p[c[:, 2]] - p[c[:, 0]], p[c[:, 3]] - p[c[:, 0]])
                rot[quads] = np.einsum("ij,ij->i", n1, n2) < 0.0
            else:
                rot[quads] = {"shorter": d13 < d02, "first": False, "second": True}[quad_split]
        per_face = sizes - 2
        face_of_tri = np.repeat(np.arange(sizes.shape[0]), per_face)
        tri_starts = np.cumsum(per_face) - per_face
        k = np.arange(face_of_tri.shape[0]) - tri_starts[face_of_tri]
        n = sizes[face_of_tri]
        r = rot[face_of_tri]
        local = np.stack([r, r + k + 1, r + k + 2], axis=1) % n[:, None]
        return self.corner_verts[starts[face_of_tri, None] + local].astype(np.int32)

    def compact(self) -> MeshArrays:
        """Drop vertices no face uses, renumbering corners; keeps face order."""
        used = np.zeros(self.vert_count, dtype=bool)
        used[self.corner_verts] = True
        if used.all():
            return self
        remap = np.cumsum(used, dtype=np.int64) - 1
        return MeshArrays(self.verts[used], self.face_sizes, remap[self.corner_verts])

    def select_faces(self, keep: np.ndarray) -> MeshArrays:
        """Keep the faces where ``keep`` is True (vertices are left as they are; call compact after)."""
        keep = np.asarray(keep, dtype=bool)
        corner_keep = np.repeat(keep, self.face_sizes)
        return MeshArrays(self.verts, self.face_sizes[keep], self.corner_verts[corner_keep])

    def summary(self) -> dict[str, int]:
        return {
            "faces": self.face_count,
            "quads": self.quad_count,
            "tris": self.tri_count,
            "verts": self.vert_count,
        }
