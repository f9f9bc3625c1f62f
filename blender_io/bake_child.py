# SPDX-License-Identifier: GPL-3.0-or-later
"""The background bake process: ``blender -b --factory-startup --python bake_child.py -- REQUEST.json``
(or ``python bake_child.py -- REQUEST.json`` with the ``bpy`` module).

Contract: REQUEST.json names a .blend holding the source and target objects (written by ``jobs.bake``), the
maps, size, convention and ray distance, the folder for the PNGs and the answer file. The process appends
both objects, bakes with ``baking.bake_maps`` (loaded from beside this file, so it needs no package) and
writes the answer atomically: ``{"maps": {map: path}, "ray_distance": d}`` or ``{"error": one line}``.
Killed midway it leaves at most ``*.part.png`` files, which the caller removes with the folder.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path


def _load_baking():
    path = Path(__file__).with_name("baking.py")
    spec = importlib.util.spec_from_file_location("retopo_hub_baking", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def _answer(path: Path, content: dict) -> None:
    part = path.with_name(path.name + ".part")
    part.write_text(json.dumps(content))
    part.replace(path)


def main(request_path: str) -> int:
    request = json.loads(Path(request_path).read_text())
    answer = Path(request["answer"])
    if hasattr(os, "nice"):
        os.nice(10)  # as the engine children: Blender's UI keeps the CPU first
    try:
        import bpy

        baking = _load_baking()
        with bpy.data.libraries.load(request["blend"], link=False) as (_available, wanted):
            wanted.objects = [request["source"], request["target"]]
        source, target = wanted.objects
        if source is None or target is None:
            raise RuntimeError("the bake file lacks the source or the result")
        maps, distance = baking.bake_maps(
            source,
            target,
            baking.BakeRequest(
                tuple(request["maps"]), int(request["size"]), request["convention"], request["ray_distance"]
            ),
            Path(request["out_dir"]),
        )
        _answer(answer, {"maps": maps, "ray_distance": distance})
    except Exception as exc:  # any failure becomes the answer's one line
        lines = str(exc).strip().splitlines() or [type(exc).__name__]
        _answer(answer, {"error": lines[-1][:300]})
        return 1
    return 0


if __name__ == "__main__":
    arguments = sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else sys.argv[1:]
    code = main(arguments[0])
    sys.stdout.flush()
    os._exit(code)  # Blender would otherwise stay open (without -b) or run its exit handlers for nothing
