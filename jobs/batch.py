# SPDX-License-Identifier: GPL-3.0-or-later
"""Many CLI inputs at full speed: folders, ``--jobs N`` in flight, skipping finished inputs, a summary.

Contract: ``expand_inputs`` turns folders into every supported file under them (recursively, sorted; other
files are ignored and counted; the ``--out`` folder is never read as input; a folder with none is that
input's error, or exit 2 when every input is such a folder). ``run`` drives the inputs with at
most ``jobs`` of them in flight at once (loading, submitted, polled, downloaded or imported): each input is
loaded into the current file beside the others (a .blend replaces the file, so it waits until nothing else is
in flight), its job runs in the worker host, and its outputs are written as soon as it is done; its objects
are then removed again. An input whose report in ``--out`` was written for the same dedupe key, the same
input bytes (sha256) and the same format, with every output still there, is skipped and counted.
On a terminal, one progress line on stderr shows done/total, the running inputs and an ETA; elsewhere stderr
keeps the per-job lines and no progress line. ``summary_table`` lists faces, quads, distance to source and
time per input. ``dry_run`` validates every input and option and prints what would be submitted, starting
no worker and sending nothing. Main thread only; the jobs' work runs in the worker host (``worker``).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any, TextIO

import bpy

from ..blender_io.files import INPUT_SUFFIXES, load_input
from ..blender_io.mesh_arrays import triangle_count
from ..core.errors import InputError, RetopoError
from ..providers import registry
from . import measure, records, session, specs, step, submit
from .lodreport import check_export

MAX_JOBS = 64
PROGRESS_INTERVAL_S = 0.25  # the progress line is redrawn at most this often


def default_jobs() -> int:
    """``--jobs`` when not given: one input per core."""
    return max(1, os.cpu_count() or 1)


def checked_inputs(args) -> list[str]:
    """``args.inputs`` with folders expanded, and ``--jobs`` checked (InputError: exit 2)."""
    if args.jobs is not None and not 1 <= args.jobs <= MAX_JOBS:
        raise InputError(f"--jobs must be a whole number between 1 and {MAX_JOBS}")
    inputs, ignored = expand_inputs(args.inputs, Path(args.out).resolve())
    if all(Path(text).is_dir() for text in inputs):
        folders = " ".join(args.inputs)
        raise InputError(f"no {' '.join(INPUT_SUFFIXES)} file in {folders}: check the folder")
    if ignored:
        sys.stderr.write(f"retopo-hub: ignored {ignored} file(s) of other types in the input folder(s)\n")
    return inputs


def expand_inputs(raw: list[str], out_dir: Path) -> tuple[list[str], int]:
    """Files as given, folders as every supported file under them; returns (inputs, unsupported skipped)."""
    inputs: list[str] = []
    ignored = 0
    for text in raw:
        folder = Path(text)
        if not folder.is_dir():
            inputs.append(text)  # a missing or unsupported file is reported as that input's error
            continue
        found = len(inputs)
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if out_dir == path.resolve().parent or out_dir in path.resolve().parents:
                continue  # our own results, when --out lies inside the folder
            if path.suffix.lower() in INPUT_SUFFIXES:
                inputs.append(str(path))
            elif not path.name.startswith("."):
                ignored += 1
        if len(inputs) == found:
            inputs.append(text)  # reported as that input's error: nothing in it to run
    return inputs, ignored


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def finished_report(path: Path, out_dir: Path, key: str, fmt: str) -> dict[str, Any] | None:
    """The report of an earlier run of this very input and these options whose outputs are all there."""
    try:
        report = json.loads((out_dir / f"{path.stem}_report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    outputs = report.get("outputs") if isinstance(report, dict) else None
    if not outputs or report.get("dedupe_key") != key:
        return None
    for output in outputs:
        written = Path(str(output.get("path", "")))
        if written.suffix != f".{fmt}" or not written.is_file():
            return None
        if not all(Path(str(m)).is_file() for m in (output.get("maps") or {}).values()):
            return None  # a baked map was deleted: write it again
    extras = [report[k] for k in ("vmdl", "textures") if report.get(k)]
    if not all(Path(extra).exists() for extra in extras):
        return None
    try:
        same_bytes = report.get("input_sha256") == file_sha256(path)
    except OSError:
        return None
    return report if same_bytes else None


# -- progress -----------------------------------------------------------------------------------------


class Progress:
    """One self-rewriting stderr line on a terminal; silent elsewhere (the per-job lines log instead)."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self.total = total
        self.done = 0
        self.started = time.monotonic()
        self._worked = 0  # inputs that ran (not skipped): they alone say how long one takes
        self._shown = ""
        self._last = 0.0

    def finished(self, *, ran: bool) -> None:
        self.done += 1
        self._worked += int(ran)

    def show(self, running: list[str], *, force: bool = False) -> None:
        if not self.live:
            return
        now = time.monotonic()
        if not force and now - self._last < PROGRESS_INTERVAL_S:
            return
        self._last = now
        names = ", ".join(running[:3]) + (f" +{len(running) - 3}" if len(running) > 3 else "")
        line = f"[retopo-hub] {self.done}/{self.total} done"
        if names:
            line += f", running: {names}"
        if self._worked and self.done < self.total:
            left = (now - self.started) / self._worked * (self.total - self.done)
            line += f", ETA {int(left) // 60}:{int(left) % 60:02d}"
        if line != self._shown:
            self.stream.write("\r\x1b[K" + line)
            self.stream.flush()
            self._shown = line

    def clear(self) -> None:
        """Take the line away before anything else is written to the terminal."""
        if self.live and self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = ""


def _job_lines(progress: Progress):
    """The per-job state lines of ``jobs.step.print_progress``, only when there is no progress line."""
    last: dict[str, tuple] = {}

    def update(record: Any) -> None:
        key = (record.state, round(record.progress, 2), record.message)
        if progress.live or last.get(record.job_id) == key:
            return
        last[record.job_id] = key
        step.print_progress(record)

    return update


# -- the scheduler ------------------------------------------------------------------------------------


class _Halves:
    __slots__ = ("dedupe_key", "finish_input", "start_input")

    def __init__(self, key, start, finish) -> None:
        self.dedupe_key, self.start_input, self.finish_input = key, start, finish


class _Input:
    __slots__ = ("job_id", "key", "objects", "path", "sha256", "started", "submitted")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.key = self.sha256 = self.job_id = ""
        self.started = self.submitted = 0.0
        self.objects: list[str] = []  # what loading the input brought into the file, removed when done


def run(args, options: dict[str, Any], out_dir: Path, *, key, start, finish) -> dict[str, list]:
    """Run every input of ``args.inputs``; ``key``, ``start`` and ``finish`` are ``jobs.cli``'s dedupe key
    and the two halves of one input (load and submit; write the outputs of the ended job)."""
    cli = _Halves(key, start, finish)
    jobs = args.jobs or default_jobs()
    summary: dict[str, list] = {"results": [], "errors": [], "skipped": []}
    rows: list[dict[str, Any]] = []
    waiting = deque(Path(raw).resolve() for raw in args.inputs)
    progress = Progress(len(waiting))
    on_update = _job_lines(progress)
    in_flight: dict[str, _Input] = {}
    loaded_any = False
    host = session.worker_host()
    if args.provider == "local" and not args.attach:
        host.engine_niceness = 0  # a host started here: no UI to yield to; `nice retopo-hub` still works
        host.set_limit("local", jobs)  # the runner's own limit is one engine per two cores
        if len(waiting) < jobs:
            host.set_spares("local", len(waiting))  # fewer inputs than --jobs: no engine child beyond them
        host.prewarm(specs.python_paths())  # host and engine child load while Blender reads the input
    try:
        while waiting or in_flight:
            while waiting and len(in_flight) < jobs:
                if waiting[0].suffix.lower() == ".blend" and in_flight:
                    break  # opening a .blend replaces the file the jobs in flight still need
                item = _Input(waiting.popleft())
                if args.provider == "local" and len(waiting) < jobs:
                    host.set_spares("local", len(waiting))  # no engine child for a job that never comes
                progress.show([i.path.name for i in in_flight.values()] + [item.path.name])
                outcome = _start(item, args, options, out_dir, cli, keep_scene=loaded_any)
                loaded_any = loaded_any or item.path.suffix.lower() != ".blend"
                if isinstance(outcome, dict):  # skipped or failed before a job existed
                    _record(summary, rows, progress, item, outcome, out_dir)
                else:
                    in_flight[item.job_id] = item
            step.step(max_imports=1)
            ended = False
            for job_id, item in list(in_flight.items()):
                record = records.find(job_id)
                if record is not None:
                    on_update(record)
                # A finished job's quality report is still being measured: its outputs wait for it.
                if record is None or (records.terminal(record.state) and not measure.pending(job_id)):
                    ended = True  # a slot is free: the next input starts without waiting
                    del in_flight[job_id]
                    progress.clear()
                    outcome = _finish(item, record, args, options, out_dir, cli)
                    _record(summary, rows, progress, item, outcome, out_dir)
            progress.show([i.path.name for i in in_flight.values()])
            if in_flight and not ended and not session.pending_imports():
                host.wait_for_event(0.1)
    except KeyboardInterrupt:
        progress.clear()
        session.shutdown()  # stops the workers; the journal keeps every job for a re-run
        raise
    finally:
        if args.provider == "local":
            host.set_limit("local", None)  # in-process callers (scripts, tests) get the default back
    progress.clear()
    summary["table"] = rows
    return summary


def _start(item: _Input, args, options, out_dir: Path, cli, *, keep_scene: bool) -> dict[str, Any] | None:
    """Skip, or load and submit; a dict is the input's outcome when no job was started."""
    item.started = time.monotonic()
    path = item.path
    if path.is_dir():
        return {"error": f"{path}: a folder with no {' '.join(INPUT_SUFFIXES)} file in it; check the path"}
    try:
        if path.is_file():
            item.key = cli.dedupe_key(path, args, options)
            if not args.attach and (report := finished_report(path, out_dir, item.key, args.format)):
                return {"skipped": report}
            item.sha256 = file_sha256(path)
        # A .blend replaces the file: every object then is the input's (and the old ones are gone).
        before = set() if path.suffix.lower() == ".blend" else set(bpy.data.objects)
        try:
            item.job_id = cli.start_input(path, args, options, keep_scene=keep_scene)
        finally:
            item.objects = [o.name for o in bpy.data.objects if o not in before]
        item.submitted = time.time()
    except RetopoError as exc:
        _remove_objects(item.objects)
        return {"error": str(exc)}
    except OSError as exc:
        return {"error": f"{path}: cannot read it ({exc.strerror}); check its permissions"}
    return None


def _finish(item: _Input, record, args, options, out_dir: Path, cli) -> dict[str, Any]:
    stamp = {"dedupe_key": item.key, "input_sha256": item.sha256}
    try:
        return {"result": cli.finish_input(item.path, args, options, out_dir, record, item.submitted, stamp)}
    except RetopoError as exc:
        return {"error": str(exc)}
    finally:
        _remove_objects(item.objects + list(records.result_names(record) if record is not None else ()))


def _remove_objects(names: list[str]) -> None:
    """Take an input's objects (and meshes no one else uses) out of the file, so a long batch stays small."""
    for name in names:
        obj = bpy.data.objects.get(name)
        if obj is None:
            continue
        data = obj.data
        bpy.data.objects.remove(obj, do_unlink=True)
        if isinstance(data, bpy.types.Mesh) and data.users == 0:
            bpy.data.meshes.remove(data)


def _record(summary, rows, progress: Progress, item: _Input, outcome: dict[str, Any], out_dir: Path) -> None:
    path = item.path
    report_path = out_dir / f"{path.stem}_report.json"
    seconds = time.monotonic() - item.started
    progress.clear()
    if "skipped" in outcome:
        report = outcome["skipped"]
        summary["skipped"].append({"input": str(path), "report": str(report_path)})
        rows.append(_row(path, "skipped", report.get("outputs") or [], report.get("seconds")))
        sys.stderr.write(f"retopo-hub: {path.name}: skipped, its results are complete and unchanged\n")
    elif "error" in outcome:
        text = outcome["error"]
        summary["errors"].append({"input": str(path), "message": text})
        rows.append(_row(path, "failed", [], None))
        # Messages about the file itself already start with its name: never "rock.obj: rock.obj: ...".
        shown = text if text.startswith((path.name, str(path))) else f"{path.name}: {text}"
        sys.stderr.write(f"retopo-hub: {shown}\n")
    else:
        result = outcome["result"]
        summary["results"].append(result)
        rows.append(_row(path, "done", result["outputs"], seconds))
        for output in result["outputs"]:
            counts = f"{output['faces']} faces ({output['quads']} quads, {output['tris']} triangles)"
            sys.stdout.write(f"{output['path']}: {counts}\n")
        sys.stdout.write(f"report: {report_path}\n")
    progress.finished(ran="result" in outcome)


def _row(path: Path, status: str, outputs: list[dict[str, Any]], seconds: float | None) -> dict[str, Any]:
    lod0 = next((o for o in outputs if not o.get("lod")), outputs[0] if outputs else {})
    q = lod0.get("quality") or {}  # jobs.measure's report against the input (none for --attach)
    return {
        "input": path.name, "status": status, "faces": lod0.get("faces"), "quads": lod0.get("quads"),
        "distance_max_pct": q.get("hausdorff_pct"), "distance_mean_pct": q.get("mean_distance_pct"),
        "seconds": None if seconds is None else round(float(seconds), 2),
    }  # fmt: skip


# -- what the user reads ------------------------------------------------------------------------------

COLUMNS = (
    ("input", "input"), ("status", "status"), ("faces", "faces"), ("quads", "quads"),
    ("distance_max_pct", "max dist %"), ("distance_mean_pct", "mean dist %"), ("seconds", "time s"),
)  # fmt: skip


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if value < 10 else f"{value:.1f}"
    return str(value)


def summary_table(rows: list[dict[str, Any]], skipped: int) -> str:
    """The table of every input (LoD0's figures; distances in % of the source's size), then the counts."""
    cells = [[title for _key, title in COLUMNS]]
    cells += [[_cell(row[key]) for key, _title in COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    lines = []
    for line in cells:
        # The input and its status read left to right; the figures line up on their last digit.
        padded = [text.ljust(widths[i]) if i < 2 else text.rjust(widths[i]) for i, text in enumerate(line)]
        lines.append("  ".join(padded).rstrip())
    done = sum(1 for row in rows if row["status"] == "done")
    failed = sum(1 for row in rows if row["status"] == "failed")
    lines.append(f"{len(rows)} input(s): {done} done, {skipped} skipped, {failed} failed")
    return "\n".join(lines) + "\n"


def dry_run(args, options: dict[str, Any]) -> dict[str, list]:
    """Validate every input and option as a submit would, print what would be submitted; send nothing."""
    summary: dict[str, list] = {"results": [], "errors": [], "skipped": [], "planned": []}
    entry = registry.BY_NAME[args.provider]
    prefs = specs.read_preferences(probe=True)
    for raw in args.inputs:
        path = Path(raw).resolve()
        try:
            source = load_input(path, args.object)
            check_export(args.export, source)
            depsgraph = bpy.context.evaluated_depsgraph_get()
            obj, provider, checked = submit.check_object(
                source, prefs, depsgraph, provider=args.provider, options=options
            )
        except RetopoError as exc:
            text = str(exc)
            summary["errors"].append({"input": str(path), "message": text})
            shown = text if text.startswith((path.name, str(path))) else f"{path.name}: {text}"
            sys.stderr.write(f"retopo-hub: {shown}\n")
            continue
        plan = {
            "input": str(path), "object": obj.name, "triangles": triangle_count(obj.data),
            "provider": provider, "options": checked, "attach": args.attach or None,
            "expected": registry.expectation(entry, checked) or None,
        }  # fmt: skip
        summary["planned"].append(plan)
        shown = ", ".join(f"{k}={v}" for k, v in checked.items())
        sys.stdout.write(
            f"would {'attach' if args.attach else 'submit'} {path.name} ({plan['triangles']:,} triangles) to "
            f"{provider}: {shown}; expected: {plan['expected'] or 'not documented'}\n"
        )
    sys.stdout.write(f"dry run: {len(summary['planned'])} input(s) valid, {len(summary['errors'])} not; "
                     "nothing was submitted\n")  # fmt: skip
    return summary
