# SPDX-License-Identifier: GPL-3.0-or-later
"""An armature as plain arrays, for the skinned LoD packages (formats/gltfskin.py, formats/fbxskin.py).

Contract: a ``Skeleton`` is ``names`` (one per bone), ``parents`` (an earlier bone's index, or -1 for a root),
``rest`` (N, 4, 4): each bone's rest matrix in the skinned meshes' own space (Blender Z-up, metres), and
``root``, the armature's name. ``checked()`` returns it with plain types, or raises ValueError when it is
malformed. Per vertex, a mesh's weights are ``(joints, weights)``: (V, k) bone indexes and (V, k) weights
summing to 1 (blender_io/rigs.py makes them). Pure Python + numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MAX_JOINTS = 65535  # glTF's JOINTS_0 is written as unsigned short


def check_skin_arguments(skeleton, skin_weights, level_count: int) -> None:
    """ValueError unless both or neither are given, with one ``(joints, weights)`` pair per level."""
    if (skeleton is None) != (skin_weights is None) or len(skin_weights or range(level_count)) != level_count:
        raise ValueError("a skin needs its skeleton and one (joints, weights) pair per level")


@dataclass(frozen=True)
class Skeleton:
    names: Sequence[str]
    parents: Sequence[int]
    rest: np.ndarray
    root: str = "Armature"

    def checked(self) -> Skeleton:
        rest = np.asarray(self.rest, dtype=np.float64)
        count = len(self.names)
        if not 0 < count <= MAX_JOINTS or len(self.parents) != count or rest.shape != (count, 4, 4):
            raise ValueError(
                f"a skeleton needs a name, a parent and a 4x4 rest matrix per bone ({count} names)"
            )
        if any(not -1 <= int(p) < number for number, p in enumerate(self.parents)):
            raise ValueError("each bone's parent must be an earlier bone, or -1 for a root")
        if not np.isfinite(rest).all() or (np.abs(np.linalg.det(rest[:, :3, :3])) < 1e-12).any():
            raise ValueError("a bone's rest matrix is not finite or not invertible")
        return Skeleton(list(map(str, self.names)), [int(p) for p in self.parents], rest, str(self.root))
