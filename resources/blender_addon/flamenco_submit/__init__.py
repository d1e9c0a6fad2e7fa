"""Submit the open .blend to a Flamenco Desktop Manager as a render job.

Install from the manager's Help menu (it writes this add-on as a .zip), then set the
manager's URL and farm token in the add-on's preferences. The job takes the scene's
frame range, output path and file format; the .blend must be saved where the render
nodes can read it.
"""

import contextlib
import json
import urllib.error
import urllib.request

import bpy

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

    def draw(self, context):
        for prop in ("manager_url", "token", "chunk_size", "priority"):
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
            self.report({"ERROR"}, "Save the .blend first: the render nodes read it from disk")
            return {"CANCELLED"}
        if bpy.data.is_dirty:
            bpy.ops.wm.save_mainfile()
        try:
            job = job_for(context.scene, bpy.data.filepath, prefs)
            answer = post_job(prefs.manager_url, prefs.token, job)
        except (ValueError, RuntimeError, OSError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        tasks = answer["tasks_total"]
        self.report({"INFO"}, f"Flamenco job {answer['id']} submitted: {tasks} tasks")
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
