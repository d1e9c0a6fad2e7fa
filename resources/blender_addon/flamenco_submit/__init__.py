"""Submit the open .blend to a Flamenco Desktop Manager as a render job.

Install from the manager's Help menu (it writes this add-on as a .zip), then set the
manager's URL and farm token in the add-on's preferences. The job takes the scene's
frame range and file format. Two storage modes (docs/storage.md):
- Through the manager: the .blend and everything it reads are packed with
  blender-asset-tracer (bundled in this .zip, under `_vendor/`) and uploaded, only
  the files the manager lacks; frames come back to the manager's output folder.
- Shared: the render nodes read the .blend where it is saved (a NAS, path variables)
  and write the frames to the scene's output path.
Automatic picks shared when the .blend is under one of the manager's path-variable
folders, else through the manager.
"""

import contextlib
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

import bpy

# blender-asset-tracer and the manager's own submitter, bundled by the .zip.
_VENDOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_vendor")
if os.path.isdir(_VENDOR) and _VENDOR not in sys.path:
    sys.path.insert(0, _VENDOR)

bl_info = {
    "name": "Flamenco Desktop Manager: submit",
    "author": "Flamenco Desktop Manager",
    "version": (0, 1, 0),
    "blender": (3, 0, 0),
    "location": "Properties > Render > Flamenco",
    "description": "Submit this scene as a render job to a Flamenco Desktop Manager",
    "category": "Render",
}

FORMATS = {
    "PNG", "JPEG", "OPEN_EXR", "OPEN_EXR_MULTILAYER", "TIFF", "BMP", "TARGA", "TARGA_RAW",
    "IRIS", "JP2", "HDR", "DPX", "CINEON", "WEBP",
}  # fmt: skip


class FlamencoPreferences(bpy.types.AddonPreferences):
    bl_idname = __name__

    manager_url: bpy.props.StringProperty(name="Manager URL", default="http://localhost:7777")
    token: bpy.props.StringProperty(name="Farm token", subtype="PASSWORD")
    chunk_size: bpy.props.IntProperty(name="Frames per task", default=4, min=1, max=100000)
    priority: bpy.props.IntProperty(name="Priority", default=50, min=-1000000, max=1000000)
    storage: bpy.props.EnumProperty(
        name="Storage",
        items=[
            (
                "AUTO",
                "Automatic",
                "Shared under a path variable's folder, else through the manager",
            ),
            ("MANAGER", "Through the manager", "Pack and upload the files; frames come back"),
            ("SHARED", "Shared", "The render nodes read the .blend where it is saved"),
        ],
        default="AUTO",
    )

    def draw(self, context):
        for prop in ("manager_url", "token", "chunk_size", "priority", "storage"):
            self.layout.prop(self, prop)


def job_for(scene, blend_path, prefs):
    """The job as the manager's POST /jobs takes it, from the scene's own settings."""
    output = bpy.path.abspath(scene.render.filepath)
    if "#" not in output:
        output = output + "######"
    fmt = scene.render.image_settings.file_format
    if fmt not in FORMATS:
        raise ValueError(f"the farm renders image sequences; {fmt} is not one of them")
    return {
        "name": bpy.path.display_name_from_filepath(blend_path) + " / " + scene.name,
        "type": "blender_render",
        "priority": prefs.priority,
        "chunk_size": prefs.chunk_size,
        "settings": {
            "filepath": blend_path,
            "frame_start": scene.frame_start,
            "frame_end": scene.frame_end,
            "render_output": output,
            "format": fmt,
        },
    }


def under_path_variable(blend_path, variables):
    path = Path(blend_path).resolve().as_posix()
    for values in variables.values():
        for value in values.values():
            root = value.replace("\\", "/").rstrip("/")
            if root and (path == root or path.startswith(root + "/")):
                return True
    return False


def storage_for(prefs, blend_path):
    if prefs.storage != "AUTO":
        return prefs.storage.lower()
    from flamenco_gui.submit.client import ManagerAPI

    api = ManagerAPI(prefs.manager_url, prefs.token)
    try:
        shared = under_path_variable(blend_path, api.path_variables())
    finally:
        api.close()
    return "shared" if shared else "manager"


def submit_through_manager(job, blend_path, prefs):
    """Pack with BAT, upload what the manager lacks, submit; returns the answer."""
    from flamenco_gui.submit.client import ManagerAPI, ManagerError, manifest
    from flamenco_gui.submit.packing import pack

    api = ManagerAPI(prefs.manager_url, prefs.token)
    try:
        with pack(Path(blend_path)) as packed:
            sent = api.upload(packed.files, lambda _f, _n: None)
            print(f"flamenco: uploaded {sent} of {packed.total_bytes} bytes")
            job["storage"] = "manager"
            job["files"] = manifest(packed)
            job["settings"]["filepath"] = packed.blend
            job["settings"]["render_output"] = "######"
            return api.submit(job)
    except ManagerError as exc:
        raise RuntimeError(f"the manager refused the job: {exc}") from None
    finally:
        api.close()


def post_job(url, token, job):
    request = urllib.request.Request(
        url.rstrip("/") + "/jobs",
        data=json.dumps(job).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": "Bearer " + token},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")
        with contextlib.suppress(ValueError, KeyError):
            detail = json.loads(detail)["error"]
        raise RuntimeError(f"the manager refused the job ({error.code}): {detail}") from None


class FLAMENCO_OT_submit_job(bpy.types.Operator):
    """Submit this scene to the Flamenco manager as a render job"""

    bl_idname = "flamenco.submit_job"
    bl_label = "Submit to Flamenco"

    def execute(self, context):
        prefs = context.preferences.addons[__name__].preferences
        if not bpy.data.filepath:
            self.report({"ERROR"}, "Save the .blend first: it is read (or packed) from disk")
            return {"CANCELLED"}
        if bpy.data.is_dirty:
            bpy.ops.wm.save_mainfile()
        try:
            job = job_for(context.scene, bpy.data.filepath, prefs)
            if storage_for(prefs, bpy.data.filepath) == "manager":
                answer = submit_through_manager(job, bpy.data.filepath, prefs)
            else:
                answer = post_job(prefs.manager_url, prefs.token, job)
        except (ValueError, RuntimeError, OSError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        tasks = answer["tasks_total"]
        where = answer.get("output") or job["settings"]["render_output"]
        self.report(
            {"INFO"}, f"Flamenco job {answer['id']} submitted: {tasks} tasks, frames in {where}"
        )
        print(f"flamenco: submitted job {answer['id']}")
        return {"FINISHED"}


class FLAMENCO_PT_panel(bpy.types.Panel):
    bl_label = "Flamenco"
    bl_space_type = "PROPERTIES"
    bl_region_type = "WINDOW"
    bl_context = "render"

    def draw(self, context):
        prefs = context.preferences.addons[__name__].preferences
        self.layout.label(text=f"Manager: {prefs.manager_url}")
        self.layout.operator(FLAMENCO_OT_submit_job.bl_idname, icon="RENDER_ANIMATION")


CLASSES = (FlamencoPreferences, FLAMENCO_OT_submit_job, FLAMENCO_PT_panel)


def register():
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister():
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
