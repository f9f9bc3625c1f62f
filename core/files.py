# SPDX-License-Identifier: GPL-3.0-or-later
"""File safety: atomic writes, refusing unsafe archives, disk-space and folder checks.

Contract:
* ``atomic_output`` / ``atomic_write_*`` write a temp file in the target's own folder, flush and fsync it,
  then ``os.replace`` it over the target: readers see the old file or the new one, never half of one, and
  the temp file is removed whatever goes wrong.
* ``safe_extract_zip`` checks every entry before writing anything, counts the bytes it really unpacks
  (headers can lie), unpacks into a temp folder beside the destination and only then moves the files in,
  so a refused or damaged archive leaves the destination as it was.
* ``write_chunks`` streams a download the same way, through ``<name>.part``, under a size cap.
* Failures the user can act on are raised as ``core.errors`` classes with a one-line message.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import secrets
import shutil
import stat
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from .errors import ConfigError, NetworkError, RetopoError, ServiceError, one_line

log = logging.getLogger(__name__)

MiB = 1 << 20
_COPY_CHUNK = 1 << 20
_DRIVE = re.compile(r"^[A-Za-z]:")
# Windows maps these names to devices in any folder, whatever the extension ("nul.obj" included).
_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"} | {f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)}
)


def human_bytes(n: float) -> str:
    """``1536`` -> ``"1.5 KB"`` (powers of 1024, one decimal, no trailing ``.0``)."""
    value, sign = abs(float(n)), "-" if n < 0 else ""
    unit = "B"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            break
        value /= 1024
    if unit == "B":
        return f"{sign}{int(value)} B"
    return f"{sign}{f'{value:.1f}'.removesuffix('.0')} {unit}"


@contextmanager
def atomic_output(
    path: Path | str, *, temp_name: str | None = None, private: bool = False
) -> Iterator[BinaryIO]:
    """Yield a binary file that replaces ``path`` only if the ``with`` block ends without an exception.

    ``temp_name`` fixes the temp file's name (downloads use ``<name>.part``; a stale one from a crash is
    overwritten); ``private`` creates the file readable by the owner only (0600) instead of by umask.
    """
    path = Path(path)
    temp = path.with_name(temp_name or f".{path.name}.{secrets.token_hex(4)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
    if temp_name is None:
        flags |= os.O_EXCL  # a random name we did not create is not ours to overwrite
    fd = os.open(temp, flags, 0o600 if private else 0o666)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())  # the data must be on disk before the rename makes it visible
        _replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_bytes(path: Path | str, data: bytes, *, private: bool = False) -> Path:
    with atomic_output(path, private=private) as out:
        out.write(data)
    return Path(path)


def atomic_write_text(path: Path | str, text: str, *, encoding: str = "utf-8", private: bool = False) -> Path:
    return atomic_write_bytes(path, text.encode(encoding), private=private)


def atomic_write_json(path: Path | str, obj: Any, *, indent: int | None = 2, private: bool = False) -> Path:
    # Serialise first: an object json cannot encode must not cost the file that is already there.
    text = json.dumps(obj, indent=indent, ensure_ascii=False) + "\n"
    return atomic_write_text(path, text, private=private)


def write_chunks(
    path: Path | str,
    chunks: Iterable[bytes],
    *,
    max_bytes: int,
    expected_bytes: int | None = None,
    temp_name: str | None = None,
) -> int:
    """Atomically write a stream of ``chunks`` to ``path`` and return its size; nothing is left on failure.

    More than ``max_bytes`` raises ServiceError, checked on ``expected_bytes`` before writing and on the
    bytes really received (a missing or lying length must not fill the disk). A total that differs from
    ``expected_bytes`` raises NetworkError: the transfer was cut short and is worth repeating.
    """
    path = Path(path)
    too_big = f"the result is larger than {human_bytes(max_bytes)}; ask for fewer faces or a smaller format"
    if expected_bytes is not None:
        if expected_bytes > max_bytes:
            raise ServiceError(too_big)
        check_free_space(path.parent, expected_bytes)
    written = 0
    try:
        with atomic_output(path, temp_name=temp_name) as out:
            for block in chunks:
                written += len(block)
                if written > max_bytes:
                    raise ServiceError(too_big)
                out.write(block)
            if expected_bytes is not None and written != expected_bytes:
                got, want = human_bytes(written), human_bytes(expected_bytes)
                raise NetworkError(f"the transfer of {path.name} stopped after {got} of {want}; try again")
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            raise
        # Without a declared length the free space could not be checked first; say it the same way.
        raise ConfigError(
            f"not enough disk space in {path.parent}: the download stopped at {human_bytes(written)}; "
            "free space or set another cache folder"
        ) from exc
    return written


def _replace(src: Path, dst: Path) -> None:
    for attempt in range(3):
        try:
            src.replace(dst)
            return
        except PermissionError:
            # Windows refuses while an indexer or antivirus briefly holds the target open; it lets go soon.
            if os.name != "nt" or attempt == 2:
                raise
            time.sleep(0.05 * (attempt + 1))


def _fsync_dir(folder: Path) -> None:
    if os.name == "nt":  # directories cannot be opened for fsync there; NTFS journals the rename itself
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        log.debug("fsync of folder %s not supported", folder)
    finally:
        os.close(fd)


def check_free_space(path: Path | str, needed_bytes: int) -> None:
    """Raise ConfigError when the disk holding ``path`` (or its nearest existing parent) is too full."""
    probe = Path(path)
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    try:
        free = shutil.disk_usage(probe).free
    except OSError:
        log.debug("cannot read free space of %s; not checked", probe)
        return
    if free < needed_bytes:
        raise ConfigError(
            f"not enough disk space in {probe}: need {human_bytes(needed_bytes)}, have {human_bytes(free)}; "
            "free space or set another cache folder"
        )


def check_writable_dir(path: Path | str) -> Path:
    """Create ``path`` if needed and prove a file can be written there; ConfigError otherwise."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".retopo_hub_probe_", dir=folder)
        os.close(fd)
        Path(probe).unlink()
    except OSError as exc:
        raise ConfigError(f"cannot write to {folder}: pick another output folder") from exc
    return folder


def safe_extract_zip(
    zip_path: Path | str,
    dest_dir: Path | str,
    *,
    max_entries: int = 300,
    max_total_bytes: int = 512 * MiB,
    max_file_bytes: int = 256 * MiB,
    max_ratio: float = 100.0,
    error: type[RetopoError] = ServiceError,
) -> list[Path]:
    """Unpack ``zip_path`` into ``dest_dir`` and return the files written (in archive order).

    Refuses, with ``error`` (ServiceError: archives come from services) and nothing written: absolute
    paths, drive letters, ``..``, names that differ only by case, links and device files, encrypted
    entries, more than ``max_entries`` entries, more than the byte limits, declared or real, and more than
    ``max_ratio`` times the archive's own size (a zip bomb: maps are already compressed, so real archives
    expand a few times at most). Existing
    files in ``dest_dir`` with the same names are replaced; other files there are left alone.
    """
    zip_path, dest_dir = Path(zip_path), Path(dest_dir)

    def refuse(reason: str) -> RetopoError:
        return error(f"refused to unpack {zip_path.name}: {reason}; nothing was extracted")

    try:
        with zipfile.ZipFile(zip_path) as archive:
            # The ratio cap becomes a byte cap: the unpacking stops there whatever the headers declare.
            max_total_bytes = min(max_total_bytes, int(max_ratio * max(zip_path.stat().st_size, 1 << 16)))
            files, folders = _plan(archive, refuse, max_entries, max_total_bytes, max_file_bytes)
            dest_dir.parent.mkdir(parents=True, exist_ok=True)
            temp = Path(tempfile.mkdtemp(prefix=f".{dest_dir.name}.", suffix=".unzip", dir=dest_dir.parent))
            try:
                _unpack(archive, files, folders, temp, refuse, max_total_bytes, max_file_bytes)
                return _move_into_place(temp, dest_dir, files, folders, refuse)
            finally:
                shutil.rmtree(temp, ignore_errors=True)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise refuse("the archive is damaged or uses an unsupported compression") from exc
    except OSError as exc:
        reason = one_line(exc.strerror or type(exc).__name__)
        where = f"could not unpack {zip_path.name} into {dest_dir}: {reason}"
        raise ConfigError(f"{where}; free space or pick another folder") from exc


def _safe_parts(name: str) -> tuple[str, ...]:
    """The path components of an archive entry name, or ValueError saying why it is unsafe."""
    # Some Windows tools write backslashes; treating them as separators lets "..\\x" be caught like "../x".
    norm = name.replace("\\", "/")
    if "\x00" in norm:
        raise ValueError("has a NUL character in its name")
    if norm.startswith("/"):
        raise ValueError("is an absolute path")
    if _DRIVE.match(norm):
        raise ValueError("starts with a drive letter")
    parts = tuple(part for part in norm.split("/") if part not in ("", "."))
    for part in parts:
        if part == "..":
            raise ValueError("climbs out of the folder with '..'")
        if ":" in part:  # a drive or an NTFS alternate data stream
            raise ValueError("has ':' in its name")
        if part != part.rstrip(". "):  # Windows silently strips these, so two names could become one
            raise ValueError("has a name ending in a dot or a space")
        if part.split(".", 1)[0].upper() in _RESERVED:
            raise ValueError("uses a name reserved by Windows")
    return parts


Refuse = Callable[[str], RetopoError]
Entry = tuple[zipfile.ZipInfo, tuple[str, ...]]


def _plan(
    archive: zipfile.ZipFile, refuse: Refuse, max_entries: int, max_total: int, max_file: int
) -> tuple[list[Entry], list[tuple[str, ...]]]:
    infos = archive.infolist()
    if len(infos) > max_entries:
        raise refuse(f"it has {len(infos)} entries, more than {max_entries}")
    kinds: dict[str, bool] = {}  # case-folded path -> is a folder
    files: list[Entry] = []
    folders: list[tuple[str, ...]] = []
    declared = 0
    for info in infos:
        label = repr(one_line(info.filename, 80))
        try:
            parts = _safe_parts(info.filename)
        except ValueError as why:
            raise refuse(f"entry {label} {why}") from None
        kind = stat.S_IFMT(info.external_attr >> 16)
        if kind == stat.S_IFLNK:
            raise refuse(f"entry {label} is a symbolic link")
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise refuse(f"entry {label} is a device or other special file")
        if info.flag_bits & 0x1:
            raise refuse(f"entry {label} is encrypted")
        is_dir = info.is_dir() or kind == stat.S_IFDIR
        if not parts:
            if is_dir:
                continue  # "./" and the like: the destination itself
            raise refuse(f"entry {label} has no usable name")
        key = "/".join(parts).casefold()  # Windows and macOS folders ignore case
        if key in kinds:
            raise refuse(f"entry {label} appears twice")
        kinds[key] = is_dir
        if is_dir:
            folders.append(parts)
            continue
        declared += info.file_size
        if info.file_size > max_file:
            raise refuse(
                f"entry {label} declares {human_bytes(info.file_size)}, more than {human_bytes(max_file)}"
            )
        if declared > max_total:
            raise refuse(f"its entries declare more than {human_bytes(max_total)} in total")
        files.append((info, parts))
    for key in kinds:
        segments = key.split("/")
        for depth in range(1, len(segments)):
            if kinds.get("/".join(segments[:depth])) is False:
                raise refuse(f"{'/'.join(segments[:depth])!r} is both a file and a folder")
    return files, folders


def _unpack(
    archive: zipfile.ZipFile,
    files: list[Entry],
    folders: list[tuple[str, ...]],
    temp: Path,
    refuse: Refuse,
    max_total: int,
    max_file: int,
) -> None:
    total = 0
    for parts in folders:
        temp.joinpath(*parts).mkdir(parents=True, exist_ok=True)
    for info, parts in files:
        target = temp.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        with archive.open(info) as src, open(target, "xb") as out:
            while block := src.read(_COPY_CHUNK):
                written += len(block)
                total += len(block)
                # Counted while unpacking: a zip bomb's headers declare far less than it inflates to.
                if written > max_file or total > max_total:
                    cap = max_file if written > max_file else max_total
                    raise refuse(f"it unpacks to more than {human_bytes(cap)}")
                out.write(block)


def _move_into_place(
    temp: Path, dest: Path, files: list[Entry], folders: list[tuple[str, ...]], refuse: Refuse
) -> list[Path]:
    written = [dest.joinpath(*parts) for _, parts in files]
    if not dest.exists():
        try:
            temp.rename(dest)  # one rename: the folder appears complete or not at all
            return written
        except OSError:
            log.debug("%s appeared meanwhile; merging into it", dest)
    root = dest.resolve()
    for parts in [*folders, *(parts for _, parts in files)]:
        # A link already inside dest could lead out of it; checked for every entry before anything moves.
        if not _existing_part(dest.joinpath(*parts)).resolve().is_relative_to(root):
            raise refuse(f"{'/'.join(parts)!r} would land outside {dest.name} through a link")
    for parts in folders:
        dest.joinpath(*parts).mkdir(parents=True, exist_ok=True)
    for (_, parts), final in zip(files, written, strict=True):
        final.parent.mkdir(parents=True, exist_ok=True)
        _replace(temp.joinpath(*parts), final)
    return written


def _existing_part(path: Path) -> Path:
    while not path.exists() and not path.is_symlink() and path.parent != path:
        path = path.parent
    return path
