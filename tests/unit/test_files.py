# SPDX-License-Identifier: GPL-3.0-or-later
"""core.files: archives that try to escape or explode are refused with nothing written; writes are atomic."""

from __future__ import annotations

import errno
import json
import os
import stat
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from retopo_hub.core import files
from retopo_hub.core.errors import ConfigError, InputError, NetworkError, ServiceError
from retopo_hub.core.files import (
    atomic_output,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    check_free_space,
    check_writable_dir,
    human_bytes,
    safe_extract_zip,
    write_chunks,
)

MiB = 1 << 20


def make_zip(path: Path, entries: list[tuple[str | zipfile.ZipInfo, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return path


def symlink_entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # unix, so external_attr carries st_mode
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


UNSAFE = [
    ("../evil.txt", "climbs out"),
    ("a/../../evil.txt", "climbs out"),
    ("/etc/evil.txt", "absolute path"),
    ("..\\evil.txt", "climbs out"),
    ("C:/evil.txt", "drive letter"),
    ("c:evil.txt", "drive letter"),
    ("models/nul.obj", "reserved by Windows"),
    ("models./a.obj", "dot or a space"),
    ("a/b:stream", "':'"),
]


@pytest.mark.parametrize(("name", "reason"), UNSAFE)
def test_unsafe_names_are_refused_before_anything_is_written(tmp_path: Path, name: str, reason: str) -> None:
    archive = make_zip(tmp_path / "r.zip", [("ok.obj", b"v 0 0 0\n"), (name, b"pwned")])
    with pytest.raises(ServiceError, match=reason) as info:
        safe_extract_zip(archive, tmp_path / "out")
    assert "nothing was extracted" in str(info.value) and "\n" not in str(info.value)
    assert listing(tmp_path) == ["r.zip"]  # no destination, no temp folder


def test_symlink_entry_is_refused(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "r.zip", [("ok.obj", b"x"), (symlink_entry("link"), b"/etc/passwd")])
    with pytest.raises(ServiceError, match="symbolic link"):
        safe_extract_zip(archive, tmp_path / "out")
    assert listing(tmp_path) == ["r.zip"]


@pytest.mark.parametrize(
    ("names", "reason"),
    [(["a.obj", "A.OBJ"], "appears twice"), (["a", "a/b.obj"], "both a file and a folder")],
)
def test_colliding_names_are_refused(tmp_path: Path, names: list[str], reason: str) -> None:
    archive = make_zip(tmp_path / "r.zip", [(n, b"x") for n in names])
    with pytest.raises(ServiceError, match=reason):
        safe_extract_zip(archive, tmp_path / "out")


def test_too_many_entries(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "r.zip", [(f"f{i}.txt", b"x") for i in range(5)])
    with pytest.raises(ServiceError, match="5 entries, more than 4"):
        safe_extract_zip(archive, tmp_path / "out", max_entries=4)
    assert listing(tmp_path) == ["r.zip"]


def test_bomb_over_the_caps_is_refused(tmp_path: Path) -> None:
    bomb = make_zip(tmp_path / "bomb.zip", [("zeros.bin", bytes(4 * MiB))])
    assert bomb.stat().st_size < 64 * 1024  # highly compressible: tiny on the wire
    with pytest.raises(ServiceError, match="more than 1 MB"):
        safe_extract_zip(bomb, tmp_path / "out", max_file_bytes=1 * MiB)
    many = make_zip(tmp_path / "many.zip", [(f"z{i}.bin", bytes(MiB)) for i in range(3)])
    with pytest.raises(ServiceError, match="more than 2 MB"):
        safe_extract_zip(many, tmp_path / "out", max_total_bytes=2 * MiB)
    assert listing(tmp_path) == ["bomb.zip", "many.zip"]


def test_headers_that_understate_the_size_are_caught(tmp_path: Path) -> None:
    # zipfile stops at the declared size and then fails the CRC check; the byte count while unpacking is a
    # second guard behind it. Either way: refused, nothing written.
    archive = make_zip(tmp_path / "liar.zip", [("zeros.bin", bytes(2 * MiB))])
    data = bytearray(archive.read_bytes())
    # Rewrite the declared uncompressed size (local header offset 22, central directory offset 24) to 10.
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.index(signature) + offset
        data[at : at + 4] = (10).to_bytes(4, "little")
    archive.write_bytes(bytes(data))
    with pytest.raises(ServiceError, match=r"refused to unpack liar\.zip"):
        safe_extract_zip(archive, tmp_path / "out", max_total_bytes=MiB, max_file_bytes=MiB)
    assert listing(tmp_path) == ["liar.zip"]


def test_good_zip_is_extracted(tmp_path: Path) -> None:
    entries: list[tuple[Any, bytes]] = [
        ("model/", b""),
        ("model/mesh.obj", b"v 0 0 0\n"),
        ("model/textures/albedo.png", b"\x89PNG fake"),
        ("./readme.txt", b"hi"),
    ]
    archive = make_zip(tmp_path / "r.zip", entries)
    out = safe_extract_zip(archive, tmp_path / "out")
    assert out == [
        tmp_path / "out/model/mesh.obj",
        tmp_path / "out/model/textures/albedo.png",
        tmp_path / "out/readme.txt",
    ]
    assert (tmp_path / "out/model/textures/albedo.png").read_bytes() == b"\x89PNG fake"
    assert listing(tmp_path) == [
        "out",
        "out/model",
        "out/model/mesh.obj",
        "out/model/textures",
        "out/model/textures/albedo.png",
        "out/readme.txt",
        "r.zip",
    ]


def test_extracting_into_an_existing_folder_merges_and_refusal_keeps_it(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    (dest / "mesh.obj").write_text("old")
    safe_extract_zip(make_zip(tmp_path / "a.zip", [("mesh.obj", b"new")]), dest)
    assert (dest / "mesh.obj").read_text() == "new" and (dest / "keep.txt").read_text() == "mine"
    with pytest.raises(ServiceError):
        safe_extract_zip(make_zip(tmp_path / "b.zip", [("mesh.obj", b"evil"), ("../x", b"")]), dest)
    assert (dest / "mesh.obj").read_text() == "new" and listing(dest) == ["keep.txt", "mesh.obj"]


def test_damaged_archive_and_custom_error_class(tmp_path: Path) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ServiceError, match="damaged"):
        safe_extract_zip(junk, tmp_path / "out")
    user_zip = make_zip(tmp_path / "user.zip", [("../x", b"")])
    with pytest.raises(InputError):
        safe_extract_zip(user_zip, tmp_path / "out", error=InputError)


def test_atomic_writes_round_trip(tmp_path: Path) -> None:
    atomic_write_bytes(tmp_path / "a.bin", b"\x00\x01")
    atomic_write_text(tmp_path / "b.txt", "h\u00e9llo\n")
    atomic_write_json(tmp_path / "c.json", {"faces": 5000, "name": "\u00e9"})
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "b.txt").read_text(encoding="utf-8") == "h\u00e9llo\n"
    assert json.loads((tmp_path / "c.json").read_text(encoding="utf-8")) == {"faces": 5000, "name": "\u00e9"}
    atomic_write_bytes(tmp_path / "key.json", b"{}", private=True)
    if os.name == "posix":
        assert stat.S_IMODE((tmp_path / "key.json").stat().st_mode) == 0o600
    assert listing(tmp_path) == ["a.bin", "b.txt", "c.json", "key.json"]


def test_atomic_write_failure_keeps_the_old_file_and_no_temp(tmp_path: Path, monkeypatch: Any) -> None:
    target = tmp_path / "state.json"
    target.write_text('{"old": true}')
    with pytest.raises(TypeError):
        atomic_write_json(target, {"bad": object()})

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="No space"):
        atomic_write_bytes(target, b"new content")
    monkeypatch.undo()
    with pytest.raises(RuntimeError), atomic_output(target) as out:
        out.write(b"half")
        raise RuntimeError("writer crashed")
    assert target.read_text() == '{"old": true}' and listing(tmp_path) == ["state.json"]


def test_write_chunks_caps_and_detects_short_streams(tmp_path: Path) -> None:
    dest = tmp_path / "r.glb"
    assert write_chunks(dest, [b"ab", b"cd"], max_bytes=10, expected_bytes=4, temp_name="r.glb.part") == 4
    with pytest.raises(ServiceError, match="larger than 10 B"):
        write_chunks(tmp_path / "big", iter([b"x" * 6, b"x" * 6]), max_bytes=10, temp_name="big.part")
    with pytest.raises(ServiceError, match="larger than 10 B"):
        write_chunks(tmp_path / "big", [b""], max_bytes=10, expected_bytes=11)
    with pytest.raises(NetworkError, match="stopped after 2 B of 4 B"):
        write_chunks(tmp_path / "short", [b"ab"], max_bytes=10, expected_bytes=4, temp_name="short.part")
    assert listing(tmp_path) == ["r.glb"] and dest.read_bytes() == b"abcd"


def test_free_space_and_writable_folder_checks(tmp_path: Path) -> None:
    check_free_space(tmp_path / "not" / "yet" / "there", 1)  # measured on the nearest existing parent
    with pytest.raises(
        ConfigError, match=r"not enough disk space in .*free space or set another cache folder"
    ):
        check_free_space(tmp_path, 1 << 60)
    assert check_writable_dir(tmp_path / "new" / "dir").is_dir()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match=r"cannot write to .*: pick another output folder"):
        check_writable_dir(blocker / "sub")
    assert listing(tmp_path / "new") == ["dir"]  # the probe file is gone


def test_human_bytes() -> None:
    assert [human_bytes(n) for n in (0, 1023, 1024, 1536, 256 * MiB, 5 * 1024**4, -2048)] == [
        "0 B",
        "1023 B",
        "1 KB",
        "1.5 KB",
        "256 MB",
        "5 TB",
        "-2 KB",
    ]


def test_a_zip_bomb_is_refused_by_its_expansion_ratio(tmp_path: Path) -> None:
    """A small archive that unpacks to a hundred times its size is refused, and nothing is written."""
    bomb = tmp_path / "maps.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("albedo.png", bytes(40 << 20))  # 40 MiB of zeros: about 40 KiB compressed
    assert bomb.stat().st_size < 200 << 10
    dest = tmp_path / "out"
    with pytest.raises(ServiceError, match=r"refused to unpack maps\.zip"):
        safe_extract_zip(bomb, dest)
    assert not dest.exists() and [p.name for p in tmp_path.iterdir()] == ["maps.zip"]


def test_an_ordinary_archive_of_maps_unpacks(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    archive_path = tmp_path / "maps.zip"
    with zipfile.ZipFile(archive_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("normal.png", rng.integers(0, 255, 3 << 20, dtype=np.uint8).tobytes())
    assert [p.name for p in safe_extract_zip(archive_path, tmp_path / "out")] == ["normal.png"]


def test_a_full_disk_during_a_download_without_a_length_says_so_in_one_line(tmp_path: Path) -> None:
    """No Content-Length means no free-space check first: a full disk mid-download is the same clear line."""

    def blocks():
        yield b"x" * 1000
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(ConfigError, match=r"not enough disk space in .*the download stopped at"):
        files.write_chunks(tmp_path / "result.obj", blocks(), max_bytes=1 << 20, temp_name="result.obj.part")
    assert list(tmp_path.iterdir()) == [], "no half-written file"
