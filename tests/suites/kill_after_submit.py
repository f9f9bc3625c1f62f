# SPDX-License-Identifier: GPL-3.0-or-later
"""Run in a child Python with the bpy module: submit cloud jobs, then die by SIGKILL, as a crash would.

    python kill_after_submit.py PLAN_JSON

``PLAN_JSON``: ``{"job_dir", "prefs": {attribute: value}, "objects": [[name, provider], ...]}``. Imports are
held back until every job has its remote id; at the first import after that the process kills itself, so
some jobs have downloaded their results (waiting in the job folder) and the others still run remotely.
Before dying it prints ``HOST <pid>`` (the worker host, if any) and one ``JOB <job_id> <name> <remote_id>
<downloaded 0|1>`` line per job.
"""

import importlib
import json
import os
import signal
import sys
import time

import bpy

addon_utils = importlib.import_module("addon_utils")  # importable only once bpy is

plan = json.loads(sys.argv[1])
addon_utils.enable("bl_ext.user_default.retopo_hub", default_set=True)
package = sys.modules["bl_ext.user_default.retopo_hub"]
prefs = bpy.context.preferences.addons[package.__name__].preferences
for attr, value in plan["prefs"].items():
    setattr(prefs, attr, value)
prefs.cache_dir = plan["job_dir"]
bpy.context.preferences.system.use_online_access = True

bpy.ops.wm.read_homefile(use_empty=True)
objects = []
for index, (name, provider) in enumerate(plan["objects"]):
    bpy.ops.mesh.primitive_ico_sphere_add(subdivisions=2, location=(3.0 * index, 0.0, 0.0))
    obj = bpy.context.active_object
    obj.name = name
    obj.retopo_hub.provider = provider
    obj.retopo_hub.sbox_format = "obj"
    obj.retopo_hub.target_faces = 500
    objects.append(obj)
engine = package.jobs
job_ids = engine.submit.submit_objects(bpy.context, objects)


def crash_at_first_import(_context, job_id):
    records = [engine.records.find(j) for j in job_ids]
    if all(r.remote_id for r in records):
        host = getattr(getattr(engine.session.worker_host(), "_proc", None), "pid", "")
        lines = [f"HOST {host}"] + [
            f"JOB {r.job_id} {r.source_name} {r.remote_id} {int(bool(r.results_json))}" for r in records
        ]
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    engine.session.pending_imports().append(job_id)  # not yet: every job must have its remote id first


engine.step._import_job = crash_at_first_import
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    engine.step.step(bpy.context.scene)
    failed = [(r.source_name, r.message) for r in map(engine.records.find, job_ids) if r.state == "failed"]
    if failed:
        sys.stderr.write(f"jobs failed before the kill: {failed}\n")
        sys.exit(4)
    time.sleep(0.02)
sys.exit(3)
