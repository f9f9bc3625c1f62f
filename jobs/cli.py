# SPDX-License-Identifier: GPL-3.0-or-later
"""Headless command line: ``blender -c retopo_hub ...`` and ``bin/retopo-hub ...`` share this contract.

    retopo-hub INPUT|DIR [...] --out DIR [--provider NAME] [--format obj|fbx|glb] [--cache DIR] [--jobs N]
               [--dry-run] [--online-mode] [--json] [--object NAME] [--attach ID] [--export TARGET]
               [option flags ...]

The option flags (``--faces``, ``--lods``, ``--model``, ``--ratio`` ...) come from the option catalogue
(``core.options``): ``retopo-hub --help`` lists them with their ranges and defaults.

Writes ``DIR/<stem>_retopo.<ext>``, ``DIR/<stem>_LOD<i>.<ext>`` and ``DIR/<stem>_report.json`` per input,
and with ``--export TARGET`` the engine package folder ``DIR/<stem>_TARGET`` (blender_io/packages.py).
A folder INPUT stands for every supported file under it; ``--jobs`` inputs run at once, inputs whose results
are complete and unchanged are skipped, and a summary table ends the run (``jobs.batch``). ``--dry-run``
validates and prints what would be submitted, sending nothing.
Exit 0 when every input succeeded, 1 when any failed (one line each on stderr), 2 for bad arguments.
With ``--json`` the last line of stdout is one JSON object with the results and errors. Main thread only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import signal
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import bpy

from ..blender_io.bakedmaps import MAPS_KEY, copy_maps
from ..blender_io.files import OUTPUT_FORMATS, export_object, load_input
from ..blender_io.importer import UV_STATS_KEY
from ..blender_io.mesh_arrays import face_stats, triangle_count
from ..core import journal, locks
from ..core.errors import InputError, RetopoError, one_line
from ..core.files import atomic_write_bytes, atomic_write_json, atomic_write_text, check_writable_dir
from ..core.jobs import State
from ..core.options import CATALOGUE, Option, options_for, validate, with_implied
from ..formats.vmdl import write_vmdl
from ..preferences import DEFAULT_QUOTE_LIMIT, MAX_DEADLINE_MIN
from ..providers import registry
from . import batch, measure, records, resume, session, submit
from .lodreport import check_export, export_targets, level_fields, write_export

# The dedupe-key lock of every input whose job is in flight, by job id (start_input -> finish_input).
_HELD: dict[str, locks.Held] = {}


class _ArgumentError(Exception):
    pass


class _Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C (exit code 143 instead of 130)."""


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into ``_Terminated`` while the jobs run (main thread only; the old handler comes back)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminated(_signum, _frame) -> None:
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # raise instead of sys.exit: Blender must keep running
        raise _ArgumentError(message)


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def _help(option: Option) -> str:
    limits = option.range
    accepted = f"{_number(limits.low)}..{_number(limits.high)}, " if limits is not None else ""
    shown = "on" if option.default is True else "off" if option.default is False else option.default
    text = f"{option.description} ({accepted}default {shown})" if shown != "" else option.description
    return text.replace("%", "%%")  # argparse %-formats help texts ("within 10%")


def build_parser() -> argparse.ArgumentParser:
    """The CLI's arguments: the fixed ones, then one per catalogue option with a flag, grouped by provider."""
    p = _Parser(prog="retopo-hub", description="Retopologize meshes and build LoD chains headless.")
    p.add_argument(
        "inputs", nargs="+", metavar="INPUT",
        help=".glb .gltf .fbx .obj .ply .stl or .blend, or a folder: every such file under it",
    )  # fmt: skip
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the results and reports")
    p.add_argument("--provider", choices=registry.NAMES, default="local")
    p.add_argument("--format", choices=OUTPUT_FORMATS, default="obj",
                   help="output format; obj (default) and fbx keep quads, glb is triangles only; "
                        "sboxcool: also the upload format (fbx or obj)")  # fmt: skip
    p.add_argument("--cache", metavar="DIR", help="where jobs and downloads are kept")
    p.add_argument(
        "--deadline", type=float, metavar="MIN",
        help="minutes each job may run before it is reported as timed out (a cloud job can be attached "
             f"again later); default: the preferences', out of the box {_default_deadlines()}",
    )  # fmt: skip
    p.add_argument(
        "--max-cost", type=float, metavar="CREDITS",
        help="the most a quoted job may cost (Scenario quotes Tripo jobs for free first; a job quoted "
             "above it fails before it is paid); default: the preferences', out of the box "
             f"{DEFAULT_QUOTE_LIMIT:g}",
    )  # fmt: skip
    p.add_argument(
        "--jobs", type=int, metavar="N",
        help=f"inputs run at once (default: the number of cores, {batch.default_jobs()} here)",
    )  # fmt: skip
    p.add_argument(
        "--dry-run", action="store_true",
        help="check every input and option, print what would be submitted; submit nothing",
    )  # fmt: skip
    p.add_argument("--online-mode", action="store_true", help="allow network access for cloud providers")
    p.add_argument(
        "--export",
        choices=export_targets(),
        metavar="TARGET",
        help=f"also write an engine package of the LoDs, DIR/<stem>_TARGET: {', '.join(export_targets())}",
    )
    p.add_argument("--json", action="store_true", help="print one JSON summary as the last stdout line")
    p.add_argument("--object", metavar="NAME", help="only this object of each input")
    p.add_argument(
        "--attach", metavar="ID", help="poll and import this remote job/session id instead of submitting"
    )
    p.add_argument(
        "--resubmit", action="store_true",
        help="submit even though an interrupted earlier run may have reached the service (check your "
             "account first: that job would be billed too)",
    )  # fmt: skip
    groups: dict[str, argparse._ArgumentGroup] = {}
    for option in CATALOGUE:
        if option.cli is None:
            continue
        owners = sorted(option.providers, key=registry.NAMES.index)
        title = owners[0] if len(owners) == 1 else "shared: " + ", ".join(owners)
        group = groups.setdefault(title, p.add_argument_group(title))
        # None means "not given": the provider's own default fills it in (options_from_args).
        common = {"dest": option.name, "default": None, "help": _help(option)}
        if option.kind is bool:
            group.add_argument(option.cli, action=argparse.BooleanOptionalAction, **common)
        elif option.flags:  # letters of the items or their names, e.g. --symmetry xz, --bake normal,ao
            words = ",".join(label.lower() for _value, label, _text in option.items)
            named = any(len(label) > 1 for _value, label, _text in option.items)
            metavar = words if named else "|".join(option.choices[1:])
            group.add_argument(
                option.cli, type=_flag_letters(option), choices=option.choices, metavar=metavar, **common
            )
        elif option.items:
            group.add_argument(option.cli, choices=option.choices, **common)
        else:
            metavar = {int: "N", float: "X", str: "TEXT"}[option.kind]
            group.add_argument(option.cli, type=option.kind, metavar=metavar, **common)
    return p


def _flag_letters(option: Option):
    """argparse type of a flags option: its letters ("xz") or item names ("normal,ao") -> its letters."""
    by_word = {label.lower(): value for value, label, _text in option.items}

    def parse(text: str) -> str:
        words = [w.strip().lower() for w in text.split(",") if w.strip()]
        if len(words) > 1 or (words and words[0] in by_word):
            chosen = {by_word.get(word, word) for word in words}
        else:
            chosen = set(text.strip().lower())
        if not chosen <= set(option.letters):
            raise argparse.ArgumentTypeError(f"use {', '.join(by_word)} or their letters (got {text!r})")
        return "".join(letter for letter in option.letters if letter in chosen)

    parse.__name__ = option.cli or option.name  # argparse names the type in its messages
    return parse


def _default_deadlines() -> str:
    parts = []
    for entry in registry.REGISTRY:
        slow = f" ({entry.slow_deadline[1]} {entry.slow_deadline[2]:g})" if entry.slow_deadline else ""
        parts.append(f"{entry.name} {entry.deadline_min:g}{slow}")
    return ", ".join(parts)


def options_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The job options for ``args.provider``: what was given, the catalogue's defaults for the rest.

    A flag of another provider's option is refused (InputError) rather than silently ignored.
    """
    for option in CATALOGUE:
        given = option.cli and getattr(args, option.name, None) is not None
        if given and args.provider not in option.providers:
            owners = ", ".join(sorted(option.providers, key=registry.NAMES.index))
            raise InputError(
                f"{option.cli} does not apply to --provider {args.provider} (only to {owners}): drop it"
            )
    options: dict[str, Any] = {}
    for option in options_for(args.provider):
        if option.cli is None and option.name != "sbox_format":
            continue  # UI-only settings (Tripo's adaptive face count is "no --faces" here)
        given = getattr(args, option.name, None)
        if option.name == "sbox_format":
            given = args.format if args.format in option.choices else None
        if given is None and args.provider == "tripo" and option.name == "target_faces":
            continue  # no --faces: Tripo picks the face count itself
        options[option.name] = option.default if given is None else given
    return with_implied(options)


def _output_name(stem: str, obj: bpy.types.Object, provider: str) -> str:
    lod = int(obj.get("retopo_hub_lod", 0))
    suffix = obj.name.rsplit("_", 2)
    if len(suffix) == 3 and suffix[1] == provider and suffix[2].isdigit():
        return f"{stem}_{provider}_{suffix[2]}"
    return f"{stem}_retopo" if lod == 0 else f"{stem}_LOD{lod}"


def dedupe_key(path: Path, args: argparse.Namespace, options: dict[str, Any]) -> str:
    """Same input file (path, size, mtime), provider and options give the same key: a re-run resumes. For a
    provider that runs here (local), the extension's version is part of it: after an update the engine may
    make another mesh, and a re-run must not hand back the old one. A cloud job's key leaves it out, so an
    interrupted paid job is picked up, never paid again, across an update."""
    stat = path.stat()
    made_here = "" if registry.BY_NAME[args.provider].cloud else extension_version()
    material = json.dumps(
        [str(path), stat.st_size, stat.st_mtime_ns, args.provider, args.object, options, made_here],
        sort_keys=True,
    )
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def extension_version() -> str:
    """The version in the extension's ``blender_manifest.toml`` ("" if it cannot be read)."""
    manifest = Path(__file__).resolve().parents[1] / "blender_manifest.toml"
    try:
        return str(tomllib.loads(manifest.read_text(encoding="utf-8"))["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return ""


def start_input(
    path: Path, args: argparse.Namespace, options: dict[str, Any], *, keep_scene: bool = False
) -> str:
    """Load ``path`` (beside the inputs in flight with ``keep_scene``) and start or resume its job.

    One run at a time per input and options: the dedupe key's lock is taken here and held until
    ``finish_input`` has written the outputs, so a second run waits, then finds the first one's journal
    entry (its downloaded results or its remote job) instead of submitting and paying again."""
    source = load_input(path, args.object, keep_scene=keep_scene)
    check_export(args.export, source)
    if args.attach:
        return resume.attach(bpy.context.scene, args.provider, args.attach, source, options)
    key = dedupe_key(path, args, options)
    held = locks.acquire(session.cache_root() / "locks", key, on_wait=lambda: _say_waiting(path))
    try:
        _settle_earlier(path, args, key)
        job_ids = submit.submit_objects(bpy.context, [source], provider=args.provider, options=options,
                                        dedupe_key=key)  # fmt: skip
    except BaseException:
        held.release()
        raise
    _HELD[job_ids[0]] = held
    return job_ids[0]


def finish_input(
    path: Path,
    args: argparse.Namespace,
    options: dict[str, Any],
    out_dir: Path,
    record,
    started: float,
    stamp: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write the outputs of a job that ended (``stamp`` goes into the report); only then forget the job."""
    try:
        return _finish(path, args, options, out_dir, record, started, stamp)
    finally:
        if record is not None and (held := _HELD.pop(record.job_id, None)) is not None:
            held.release()


def release_locks() -> None:
    """Let go of every input's lock still held (an interrupted batch), so a later run here never waits."""
    while _HELD:
        _HELD.popitem()[1].release()


def _finish(path: Path, args, options: dict[str, Any], out_dir: Path, record, started, stamp) -> dict:
    if record is None or record.state != State.DONE:
        if record is not None:
            _print_mappings(record)
        message = record.message if record is not None else "the job record disappeared"
        raise RetopoError(message or f"job ended as {record.state}")
    try:
        result = _write_outputs(path, args, options, out_dir, record, started, stamp or {})
    except OSError as exc:
        reason = one_line(exc.strerror or type(exc).__name__)
        raise RetopoError(
            f"could not write the results into {out_dir}: {reason}; free space there or pick another --out, "
            "then re-run the same command (the finished job is kept: nothing is paid again)"
        ) from exc
    # Every output is written: only now may the job count as done. Its entry stays (with the downloaded
    # results) so the same command, run again or at the same time, reuses them instead of paying again.
    journal_ = session.journal()
    if (journal_.get(record.job_id) or {}).get("dedupe_key"):
        journal_.update(record.job_id, state=State.DONE.value, message="outputs written")
    else:
        journal_.remove(record.job_id)
    return result


def _say_waiting(path: Path) -> None:
    sys.stderr.write(
        f"retopo-hub: {path.name}: another retopo-hub run has the same input and options; waiting for it\n"
    )


def _write_outputs(
    path: Path,
    args: argparse.Namespace,
    options: dict[str, Any],
    out_dir: Path,
    record,
    started: float,
    stamp: dict[str, Any],
) -> dict[str, Any]:
    """Every output file and the report, each written atomically; OSError when the folder cannot take them."""
    outputs = []
    maps = copy_maps(records.details(record).get("maps") or {}, out_dir, path.stem)
    for name in records.result_names(record):
        obj = bpy.data.objects[name]
        target = out_dir / f"{_output_name(path.stem, obj, args.provider)}.{args.format}"
        dressed = maps if obj.get(MAPS_KEY) and obj.data.uv_layers else {}
        export_object(obj, target, args.format, dressed)
        stats = _written_stats(obj.data, args.format)
        outputs.append({
            "path": str(target),
            "lod": int(obj.get("retopo_hub_lod", 0)),
            "faces": stats["faces"],
            "quads": stats["quads"],
            "tris": stats["tris"],
            "switch_threshold": float(obj.get("retopo_hub_switch_threshold", 0.0)),
            "engine": str(obj.get("retopo_hub_engine", "")),
            "quality": json.loads(obj.get(measure.QUALITY_KEY) or "null"),
            **level_fields(obj),
            **_uv_summary(obj),
            **({"maps": {role: str(file) for role, file in dressed.items()}} if dressed else {}),
        })  # fmt: skip
    extras: dict[str, Any] = _copy_extras(record, out_dir, path.stem)
    extras |= write_export(args.export, record, out_dir, path.stem)
    warnings: list[str] = list(records.details(record).get("warnings") or [])
    if problem := records.details(record).get("quality_error"):
        warnings.append(f"no quality report: {problem}")
    if "vmdl" in extras:
        try:
            extras["vmdl"] = _write_vmdl(out_dir, path.stem, outputs)
        except ValueError as exc:  # e.g. a service's NaN switch threshold: the meshes are still good
            del extras["vmdl"]
            warnings.append(f"the .vmdl was not written: {one_line(str(exc), 160)}")
            sys.stderr.write(f"retopo-hub: {path.name}: warning: {warnings[-1]}\n")
    result = {
        **extras,
        "input": str(path),
        "provider": args.provider,
        "job_id": record.job_id,
        "remote_id": record.remote_id,
        "settings": options,
        "faces_requested": record.faces_requested,
        "seconds": round(time.time() - started, 3),
        "outputs": outputs,
        "warnings": warnings,
        **stamp,
    }
    atomic_write_json(out_dir / f"{path.stem}_report.json", result)
    return result


def _uv_summary(obj) -> dict[str, Any]:
    """``{"uv": {"utilization": f, "islands": n, ...}}`` for an unwrapped result (--uv), else {}."""
    text = obj.get(UV_STATS_KEY)
    return {"uv": json.loads(text)} if text else {}


def _print_mappings(record: Any) -> None:
    mappings = records.mappings(record)
    if mappings:
        sys.stderr.write("retopo-hub: bone mappings you can pass with --mapping-id:\n")
    for m in mappings:
        sys.stderr.write(
            f"  {m.get('publicId')}  {m.get('name')} by {m.get('author')}, {m.get('matchPercent')}% match, "
            f"+{m.get('upvotes', 0)}/-{m.get('downvotes', 0)}\n"
        )


def _copy_extras(record: Any, out_dir: Path, stem: str) -> dict[str, str]:
    """Copy what comes besides meshes (PBR maps) into --out, atomically per file; a service's .vmdl is only
    noted, since ours (``_write_vmdl``) replaces it."""
    extras: dict[str, str] = {}
    for item in records.results(record):
        source = Path(item.path)
        if item.kind == "vmdl" and source.is_file():
            extras["vmdl"] = ""  # ours is written instead, naming the files written beside it
        elif item.kind == "textures" and source.is_dir():
            folder = out_dir / f"{stem}_pbr"
            for file in sorted(p for p in source.rglob("*") if p.is_file()):
                target = folder / file.relative_to(source)
                target.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_bytes(target, file.read_bytes())
            extras["textures"] = str(folder)
    return extras


def _write_vmdl(out_dir: Path, stem: str, outputs: list[dict[str, Any]]) -> str:
    """The service's .vmdl names the service's files; ours points at the files written beside it.

    Paths are relative to the s&box project's Assets folder: copy the outputs to ``Assets/models/<stem>/``.
    """
    lods = [
        {"name": f"LOD{o['lod']}", "filename": f"models/{stem}/{Path(o['path']).name}",
         "switch_threshold": float(o["switch_threshold"]) if o["lod"] else 0.0}
        for o in sorted(outputs, key=lambda o: o["lod"])
    ]  # fmt: skip
    target = out_dir / f"{stem}.vmdl"
    atomic_write_text(target, write_vmdl(lods))
    return str(target)


def main(argv: list[str]) -> int:
    try:
        args = build_parser().parse_args(argv)
        options = options_from_args(args)
        validate(args.provider, options)
        args.inputs = distinct_inputs(batch.checked_inputs(args))
        if args.deadline is not None and not 0 < args.deadline <= MAX_DEADLINE_MIN:
            raise InputError(f"--deadline must be more than 0 and at most {MAX_DEADLINE_MIN:g} minutes")
        if args.max_cost is not None and not (math.isfinite(args.max_cost) and args.max_cost >= 0):
            raise InputError("--max-cost must be a number of credits, 0 or more")
    except _ArgumentError as exc:
        sys.stderr.write(f"retopo-hub: error: {exc}\n")
        return 2
    except InputError as exc:
        sys.stderr.write(f"retopo-hub: error: {exc}\n")
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    out_dir = Path(args.out).resolve()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        check_writable_dir(out_dir)
    except (OSError, RetopoError) as exc:
        sys.stderr.write(f"retopo-hub: error: cannot use --out {out_dir}: {exc}\n")
        return 2
    if args.attach and (args.provider == "local" or len(args.inputs) != 1):
        sys.stderr.write("retopo-hub: error: --attach needs a cloud --provider and exactly one INPUT\n")
        return 2
    if args.cache:
        session.set_cache_dir(str(Path(args.cache).resolve()))
        try:
            session.cache_root(probe=True)
        except RetopoError as exc:
            session.set_cache_dir(None)
            sys.stderr.write(f"retopo-hub: error: {exc}\n")
            return 2
    session.set_online_override(args.online_mode)
    session.set_cli_mode(True)
    session.set_deadline_override(args.deadline)
    session.set_quote_limit_override(args.max_cost)
    try:
        with _terminate_as_interrupt():
            summary = run_all(args, options, out_dir)
    except (KeyboardInterrupt, BrokenPipeError) as exc:
        # The jobs stay journaled (jobs.batch.run stops the workers, cancelling nothing): a re-run resumes.
        with suppress(OSError):
            sys.stderr.write("retopo-hub: interrupted; re-run the same command to resume\n")
        return 143 if isinstance(exc, _Terminated) else 130
    finally:
        # In-process callers (scripts, tests) get the add-on back as they had it.
        session.set_cache_dir(None)
        session.set_online_override(False)
        session.set_cli_mode(False)
        session.set_deadline_override(None)
        session.set_quote_limit_override(None)
        release_locks()
    if args.json:
        sys.stdout.write(json.dumps(summary) + "\n")
    sys.stdout.flush()
    return 1 if summary["errors"] else 0


def _settle_earlier(path: Path, args: argparse.Namespace, key: str) -> None:
    """Decide what an earlier run of this input left behind before anything is submitted.

    A failed remote job: say that a new one is billed again. A paid submit that was on the wire when the
    earlier run died: refuse (InputError) unless ``--resubmit``, since the service may hold a job we never
    heard of. An interrupted job that never sent its submit: forget it, nothing was paid.
    """
    journal_ = session.journal()
    earlier = journal_.find(key)
    entry = registry.BY_NAME[args.provider]
    if earlier is None or not entry.cloud:
        return
    remote = earlier.get("remote_id") or ""
    if earlier.get("state") == State.FAILED and remote:
        sys.stderr.write(
            f"retopo-hub: {path.name}: the earlier {entry.service} job {remote} failed "
            f"({earlier.get('message') or 'no reason given'}); submitting a new job, which {entry.service} "
            "bills again\n"
        )
    elif journal.submit_in_doubt(earlier):
        if not args.resubmit:
            raise InputError(journal.in_doubt_message(entry.service, float(earlier["submit_sent"])))
        sys.stderr.write(
            f"retopo-hub: {path.name}: submitting again (--resubmit); if the earlier submit reached "
            f"{entry.service}, that job is billed too\n"
        )
        journal_.update(earlier["job_id"], state=State.FAILED.value, message="superseded by --resubmit")
    elif journal.is_unfinished(earlier) and not journal.is_confirmed(earlier):
        journal_.update(earlier["job_id"], state=State.CANCELLED.value, message="never sent; submitted anew")


def _written_stats(mesh, fmt: str) -> dict[str, int]:
    """Faces as the file holds them: glTF stores triangles only, so a GLB's quads are two triangles each."""
    if fmt == "glb":
        triangles = triangle_count(mesh)
        return {"faces": triangles, "quads": 0, "tris": triangles}
    return face_stats(mesh)


def distinct_inputs(raw: list[str]) -> list[str]:
    """The inputs once each (the same file given twice is one job), refusing two that would write the same
    outputs: results are named after the input's stem, so ``a/rock.obj`` and ``b/rock.obj`` would collide."""
    unique: dict[Path, str] = {}
    for text in raw:
        unique.setdefault(Path(text).resolve(), text)
    stems: dict[str, Path] = {}
    for path in unique:
        other = stems.setdefault(path.stem, path)
        if other != path:
            raise InputError(
                f"{other} and {path} would both write {path.stem}_retopo and its reports: rename one, "
                "or run them with different --out folders"
            )
    return list(unique.values())


def run_all(args: argparse.Namespace, options: dict[str, Any], out_dir: Path) -> dict[str, list]:
    if args.dry_run:
        return batch.dry_run(args, options)
    summary = batch.run(args, options, out_dir, key=dedupe_key, start=start_input, finish=finish_input)
    sys.stdout.write(batch.summary_table(summary.pop("table"), len(summary["skipped"])))
    return summary
