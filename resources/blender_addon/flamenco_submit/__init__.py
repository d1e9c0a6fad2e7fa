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

import os
import sys

import bpy

# blender-asset-tracer and the manager's own submitter, bundled by the .zip.
_VENDOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_vendor")
if os.path.isdir(_VENDOR) and _VENDOR not in sys.path:
    sys.path.insert(0, _VENDOR)

from .submission import Settings, Submission  # noqa: E402 (after the vendored path)

_running = None  # the submission under way (one at a time), or the last one

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


class FLAMENCO_OT_submit_job(bpy.types.Operator):
    """Submit this scene to the Flamenco manager as a render job"""

    bl_idname = "flamenco.submit_job"
    bl_label = "Submit to Flamenco"

    def execute(self, context):
        """Read the scene here (Blender's data belongs to this thread), then pack,
        upload and submit on a thread (submission.py) while a timer polls it: the UI
        keeps drawing, the status bar and the cursor show the upload, Esc cancels it.
        In `blender --background` (no UI to keep alive, and no event loop to run the
        timer) it waits for the thread."""
        global _running
        prefs = context.preferences.addons[__name__].preferences
        if _running is not None and _running.is_alive():
            self.report({"ERROR"}, "A Flamenco submission is under way")
            return {"CANCELLED"}
        if not bpy.data.filepath:
            self.report({"ERROR"}, "Save the .blend first: it is read (or packed) from disk")
            return {"CANCELLED"}
        if bpy.data.is_dirty:
            bpy.ops.wm.save_mainfile()
        try:
            job = job_for(context.scene, bpy.data.filepath, prefs)
        except ValueError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        settings = Settings(prefs.manager_url, prefs.token, prefs.storage)
        self._submission = _running = Submission(job, bpy.data.filepath, settings)
        self._submission.start()
        if bpy.app.background or context.window is None:
            self._submission.join()
            return self._finish(context)
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.1, window=context.window)
        wm.progress_begin(0, 100)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        submission = self._submission
        if event.type == "ESC" and event.value == "PRESS":
            submission.cancel()
            return {"RUNNING_MODAL"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        if submission.is_alive():
            context.window_manager.progress_update(int(submission.fraction * 100))
            context.workspace.status_text_set(f"Flamenco: {submission.status} (Esc cancels)")
            return {"PASS_THROUGH"}
        wm = context.window_manager
        wm.event_timer_remove(self._timer)
        wm.progress_end()
        context.workspace.status_text_set(None)
        return self._finish(context)

    def _finish(self, context):
        submission = self._submission
        if submission.error is not None:
            self.report({"ERROR"}, f"Flamenco: {submission.error}")
            print(f"flamenco: submission failed: {submission.error}")
            return {"CANCELLED"}
        answer = submission.answer
        where = answer.get("output") or submission.job["settings"]["render_output"]
        self.report(
            {"INFO"},
            f"Flamenco job {answer['id']} submitted: {answer['tasks_total']} tasks,"
            f" frames in {where}",
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
