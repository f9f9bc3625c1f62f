# SPDX-License-Identifier: GPL-3.0-or-later
"""Run in a child Python with the bpy module: submit a cloud job, wait until the service gave its id, then
kill this process with SIGKILL, as a crash would (no cleanup, no unregister, no save after the kill).

    python submit_and_die.py PROVIDER BASE_URL API_KEY JOB_DIR BLEND_OR_- [save]
"""

import importlib
import os
import signal
import sys
import time

import bpy

addon_utils = importlib.import_module("addon_utils")  # importable only once bpy is

provider, base_url, api_key, job_dir, blend = sys.argv[1:6]
save = sys.argv[6:] == ["save"]
module = addon_utils.enable("bl_ext.user_default.retopo_hub", default_set=True)
package = sys.modules["bl_ext.user_default.retopo_hub"]
prefs = bpy.context.preferences.addons[package.__name__].preferences
setattr(prefs, f"{provider}_api_key", api_key)
setattr(prefs, f"{provider}_base_url", base_url)
prefs.cache_dir = job_dir
bpy.context.preferences.system.use_online_access = True

bpy.ops.wm.read_homefile(use_empty=True)
bpy.ops.mesh.primitive_ico_sphere_add(subdivisions=4, location=(2.0, 0.0, 0.0))
rock = bpy.context.active_object
rock.name = "Rock"
rock.retopo_hub.provider = provider
engine = package.jobs
(job_id,) = engine.submit.submit_objects(bpy.context, [rock])
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    engine.step.step(bpy.context.scene)
    record = engine.records.find(job_id)
    if record.remote_id:
        break
    time.sleep(0.02)
if save and blend != "-":
    bpy.ops.wm.save_as_mainfile(filepath=blend)
sys.stdout.write(f"REMOTE {record.remote_id} {job_id}\n")
sys.stdout.flush()
os.kill(os.getpid(), signal.SIGKILL)
