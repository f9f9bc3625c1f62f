# SPDX-License-Identifier: GPL-3.0-or-later
"""worker.ipc: a job spec and its mesh snapshot cross the process boundary unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from retopo_hub.core.jobs import Credentials, JobSpec, MeshSnapshot, freeze
from retopo_hub.worker import ipc


@pytest.mark.parametrize("with_optional", [True, False], ids=["uvs_and_materials", "bare"])
def test_snapshot_arrays_and_metadata_round_trip(tmp_path: Path, with_optional: bool) -> None:
    snapshot = MeshSnapshot(
        verts=np.arange(12, dtype=np.float32).reshape(4, 3),
        face_sizes=np.array([3, 3], np.int32),
        corner_verts=np.array([0, 1, 2, 0, 2, 3], np.int32),
        corner_uvs=np.linspace(0, 1, 12, dtype=np.float32).reshape(6, 2) if with_optional else None,
        face_materials=np.array([1, 0], np.int32) if with_optional else None,
        material_names=("Paint", "Rust") if with_optional else (),
        textures=(("Paint", "color", "/tmp/paint.png"),) if with_optional else (),
        has_armature=with_optional,
    )
    spec = JobSpec(
        job_id="j1", provider="sboxcool", source_name="Crate", options=freeze({"sbox_format": "fbx"}),
        work_dir=str(tmp_path), snapshot=snapshot, credentials=Credentials({"api_key": "k"}),
    )  # fmt: skip
    path = tmp_path / "snapshot.npz"
    ipc.save_snapshot(snapshot, path)
    back = ipc.decode_spec(ipc.encode_spec(spec, path)).snapshot
    for name in ("verts", "face_sizes", "corner_verts", "corner_uvs", "face_materials"):
        expected, got = getattr(snapshot, name), getattr(back, name)
        assert (got is None) == (expected is None), name
        if expected is not None:
            np.testing.assert_array_equal(got, expected)
            assert got.dtype == expected.dtype, name
    assert (back.material_names, back.textures, back.has_armature) == (
        snapshot.material_names, snapshot.textures, snapshot.has_armature,
    )  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snapshot.npz"]
