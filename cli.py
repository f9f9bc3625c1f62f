# SPDX-License-Identifier: GPL-3.0-or-later
"""Headless command line: ``blender -c retopo_hub ...`` and ``bin/retopo-hub ...`` share this contract.

    retopo-hub INPUT [INPUT ...] --out DIR [--provider local|csm|tripo|sboxcool] [--faces N]
               [--quads | --no-quads] [--lods N] [--lod-final-ratio R] [--lod-max-threshold D]
               [--format obj|fbx|glb] [--cache DIR] [--online-mode] [--json] [--object NAME]

Writes ``DIR/<stem>_retopo.<ext>``, ``DIR/<stem>_LOD<i>.<ext>`` and ``DIR/<stem>_report.json`` per input.
Exit 0 when every input succeeded, 1 when any failed (one line each on stderr), 2 for bad arguments.
With ``--json`` the last line of stdout is one JSON object with the results and errors. Main thread only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import bpy

from . import job_engine, job_resume
from .blender_io.files import OUTPUT_FORMATS, export_object, load_input
from .blender_io.mesh_arrays import face_stats
from .core.errors import InputError, RetopoError
from .core.files import atomic_write_bytes, atomic_write_json, atomic_write_text, check_writable_dir
from .core.validation import validate_options
from .core.vmdl import write_vmdl

PROVIDERS = ("local", "csm", "tripo", "sboxcool")


class _ArgumentError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # raise instead of sys.exit: Blender must keep running
        raise _ArgumentError(message)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="retopo-hub", description="Retopologize meshes and build LoD chains headless.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help=".glb .gltf .fbx .obj .ply .stl or .blend")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the results and reports")
    p.add_argument("--provider", choices=PROVIDERS, default="local")
    p.add_argument("--mode", choices=("quad", "decimate"), default="quad",
                   help="local provider: quad retopology (default) or triangle decimation")  # fmt: skip
    p.add_argument(
        "--faces",
        type=int,
        metavar="N",
        help="target face count (local: default 5000; tripo: faceLimit, adaptive when omitted)",
    )
    p.add_argument("--quads", dest="quads", action="store_true", default=True, help="quad output (default)")
    p.add_argument("--no-quads", dest="quads", action="store_false", help="triangle output")
    p.add_argument("--lods", type=int, default=0, metavar="N", help="extra LoD levels, 0..5")
    p.add_argument(
        "--reproducible",
        action="store_true",
        help="local: the same input always gives the same mesh (one core for Instant Meshes, slower)",
    )
    p.add_argument("--lod-final-ratio", type=float, default=0.15, metavar="R", help="0.001..1 (default 0.15)")
    p.add_argument("--lod-max-threshold", type=float, default=50.0, metavar="D", help="1..500 (default 50)")
    p.add_argument("--format", choices=OUTPUT_FORMATS, default="obj",
                   help="output format; obj (default) and fbx keep quads, glb is triangles only")  # fmt: skip
    p.add_argument("--cache", metavar="DIR", help="where jobs and downloads are kept")
    p.add_argument("--online-mode", action="store_true", help="allow network access for cloud providers")
    p.add_argument("--json", action="store_true", help="print one JSON summary as the last stdout line")
    p.add_argument("--object", metavar="NAME", help="only this object of each input")
    p.add_argument(
        "--attach",
        metavar="ID",
        help="poll and import this remote job/session id instead of submitting (one INPUT)",
    )
    csm = p.add_argument_group("csm")
    csm.add_argument("--model", choices=("swift", "precision"), default="swift", help="CSM model")
    csm.add_argument(
        "--mesh-url",
        metavar="URL_OR_ASSET_ID",
        help="a public GLB URL or CSM ASSET_ id to retopologize instead of uploading the input",
    )
    tripo = p.add_argument_group("tripo")
    tripo.add_argument(
        "--bake", dest="bake", action="store_true", default=True, help="bake textures (default)"
    )
    tripo.add_argument("--no-bake", dest="bake", action="store_false")
    sbox = p.add_argument_group("sboxcool")
    sbox.add_argument("--ratio", type=float, default=0.5, metavar="R", help="decimation ratio 0.01..1")
    sbox.add_argument(
        "--pipeline",
        choices=("standard", "source1"),
        default="standard",
        help="source1 also writes an s&box .vmdl",
    )
    sbox.add_argument("--generate-pbr", action="store_true", help="generate normal/roughness/AO maps")
    sbox.add_argument("--pbr-normal-strength", type=float, default=1.5, metavar="X", help="0.5..4.0")
    sbox.add_argument("--pbr-roughness-base", type=int, default=180, metavar="N", help="100..240")
    sbox.add_argument("--pbr-ao-strength", type=float, default=0.3, metavar="X", help="0..1")
    sbox.add_argument("--skip-bone-mapping", action="store_true", help="keep the original bone names")
    sbox.add_argument("--mapping-id", metavar="ID", default="", help="bone mapping id (map_...)")
    sbox.add_argument("--most-popular-mapping", action="store_true", help="use the best-rated mapping")
    sbox.add_argument("--auto-match-threshold", type=int, default=80, metavar="N", help="50..100")
    sbox.add_argument("--skeleton-target", choices=("citizen", "human"), default="citizen")
    return p


def options_from_args(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {
        "mode": args.mode,
        "quads": args.quads,
        "lod_levels": args.lods,
        "lod_final_ratio": args.lod_final_ratio,
        "lod_max_threshold": args.lod_max_threshold,
    }
    if args.faces is not None or args.provider == "local":
        options["target_faces"] = args.faces if args.faces is not None else 5000
    if args.provider == "local" and args.reproducible:
        options["reproducible"] = True
    if args.provider == "csm":
        options.update(csm_model=args.model, csm_mesh_url=args.mesh_url or "")
    elif args.provider == "tripo":
        options["tripo_bake"] = args.bake
    elif args.provider == "sboxcool":
        options.update(
            sbox_ratio=args.ratio, sbox_pipeline=args.pipeline,
            sbox_format=args.format if args.format in ("fbx", "obj") else "fbx",
            sbox_generate_pbr=args.generate_pbr, sbox_pbr_normal_strength=args.pbr_normal_strength,
            sbox_pbr_roughness_base=args.pbr_roughness_base, sbox_pbr_ao_strength=args.pbr_ao_strength,
            sbox_skip_bone_mapping=args.skip_bone_mapping, sbox_mapping_id=args.mapping_id,
            sbox_most_popular_mapping=args.most_popular_mapping,
            sbox_auto_match_threshold=args.auto_match_threshold, sbox_skeleton_target=args.skeleton_target,
        )  # fmt: skip
    return options


def _output_name(stem: str, obj: bpy.types.Object, provider: str) -> str:
    lod = int(obj.get("retopo_hub_lod", 0))
    suffix = obj.name.rsplit("_", 2)
    if len(suffix) == 3 and suffix[1] == provider and suffix[2].isdigit():
        return f"{stem}_{provider}_{suffix[2]}"
    return f"{stem}_retopo" if lod == 0 else f"{stem}_LOD{lod}"


def dedupe_key(path: Path, args: argparse.Namespace, options: dict[str, Any]) -> str:
    """Same input file (path, size, mtime), provider and options give the same key: a re-run resumes."""
    stat = path.stat()
    material = json.dumps(
        [str(path), stat.st_size, stat.st_mtime_ns, args.provider, args.object, options], sort_keys=True
    )
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def run_input(path: Path, args: argparse.Namespace, options: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    source = load_input(path, args.object)
    context = bpy.context
    if args.attach:
        job_ids = [job_resume.attach(context, args.provider, args.attach, source, options)]
    else:
        key = dedupe_key(path, args, options)
        job_ids = job_engine.submit_objects(
            context, [source], provider=args.provider, options=options, dedupe_key=key
        )
    started = time.time()
    (record,) = job_engine.run_blocking(context, job_ids, on_update=job_engine.print_progress)
    if record is None or record.state != "done":
        if record is not None:
            _print_mappings(record)
        message = record.message if record is not None else "the job record disappeared"
        raise RetopoError(message or f"job ended as {record.state}")
    outputs = []
    for name in json.loads(record.result_objects or "[]"):
        obj = bpy.data.objects[name]
        target = out_dir / f"{_output_name(path.stem, obj, args.provider)}.{args.format}"
        export_object(obj, target, args.format)
        stats = face_stats(obj.data)
        outputs.append({
            "path": str(target),
            "lod": int(obj.get("retopo_hub_lod", 0)),
            "faces": stats["faces"],
            "quads": stats["quads"],
            "tris": stats["tris"],
            "switch_threshold": float(obj.get("retopo_hub_switch_threshold", 0.0)),
            "engine": str(obj.get("retopo_hub_engine", "")),
        })  # fmt: skip
    extras = _copy_extras(record, out_dir, path.stem)
    if "vmdl" in extras:
        extras["vmdl"] = _write_vmdl(out_dir, path.stem, outputs)
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
    }
    atomic_write_json(out_dir / f"{path.stem}_report.json", result)
    return result


def _print_mappings(record: Any) -> None:
    mappings = json.loads(record.details_json or "{}").get("mappings") or []
    if mappings:
        sys.stderr.write("retopo-hub: bone mappings you can pass with --mapping-id:\n")
    for m in mappings:
        sys.stderr.write(
            f"  {m.get('publicId')}  {m.get('name')} by {m.get('author')}, {m.get('matchPercent')}% match, "
            f"+{m.get('upvotes', 0)}/-{m.get('downvotes', 0)}\n"
        )


def _copy_extras(record: Any, out_dir: Path, stem: str) -> dict[str, str]:
    """Copy what comes besides meshes (the s&box .vmdl, PBR maps) into --out, atomically per file."""
    extras: dict[str, str] = {}
    for item in json.loads(record.results_json or "[]"):
        source = Path(item["path"])
        if item["kind"] == "vmdl" and source.is_file():
            target = out_dir / f"{stem}.vmdl"
            atomic_write_bytes(target, source.read_bytes())
            extras["vmdl"] = str(target)
        elif item["kind"] == "textures" and source.is_dir():
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
        validate_options(args.provider, options)
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
        job_engine.set_cache_dir(str(Path(args.cache).resolve()))
        try:
            job_engine.cache_root(probe=True)
        except RetopoError as exc:
            job_engine.set_cache_dir(None)
            sys.stderr.write(f"retopo-hub: error: {exc}\n")
            return 2
    job_engine.set_online_override(args.online_mode)
    job_engine.set_cli_mode(True)
    try:
        summary = run_all(args, options, out_dir)
    finally:
        # In-process callers (scripts, tests) get the add-on back as they had it.
        job_engine.set_cache_dir(None)
        job_engine.set_online_override(False)
        job_engine.set_cli_mode(False)
    if args.json:
        sys.stdout.write(json.dumps(summary) + "\n")
    sys.stdout.flush()
    return 1 if summary["errors"] else 0


def run_all(args: argparse.Namespace, options: dict[str, Any], out_dir: Path) -> dict[str, list]:
    summary: dict[str, list] = {"results": [], "errors": []}
    for raw in args.inputs:
        path = Path(raw).resolve()
        try:
            result = run_input(path, args, options, out_dir)
        except RetopoError as exc:
            summary["errors"].append({"input": str(path), "message": str(exc)})
            sys.stderr.write(f"retopo-hub: {path.name}: {exc}\n")
            continue
        summary["results"].append(result)
        for output in result["outputs"]:
            counts = f"{output['faces']} faces ({output['quads']} quads, {output['tris']} triangles)"
            sys.stdout.write(f"{output['path']}: {counts}\n")
        sys.stdout.write(f"report: {Path(out_dir) / (path.stem + '_report.json')}\n")
    return summary
