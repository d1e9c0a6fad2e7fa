"""A submission's slow part on a thread of its own, so Blender's UI keeps drawing while
a big scene packs and uploads: the storage choice, packing with blender-asset-tracer,
the upload, `POST /jobs`. It never touches `bpy` (Blender's data may only be used on
its main thread): the operator reads the scene first, hands over plain values, and
polls `status`, `fraction`, `answer` and `error` from a timer.
"""

import contextlib
import json
import threading
import urllib.error
import urllib.request
from pathlib import Path


class Canceled(Exception):
    """The user pressed Esc: the upload stops at the next slice."""


class Settings:
    """What the thread needs of the add-on's preferences, copied on the main thread."""

    def __init__(self, url, token, storage):
        self.url, self.token, self.storage = url, token, storage


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


def _mb(n):
    return f"{n / 1e6:.1f}"


class Submission(threading.Thread):
    def __init__(self, job, blend_path, settings):
        super().__init__(name="flamenco-submit", daemon=True)
        self.job = job
        self.blend_path = blend_path
        self.settings = settings
        self.status = "starting"  # for Blender's status bar
        self.fraction = 0.0  # of the bytes to upload
        self.answer = None  # the manager's answer to POST /jobs
        self.error = None  # why it failed, for the operator's report
        self.thread_id = None  # the thread it ran on (the add-on's test reads it)
        self._cancel = threading.Event()

    def cancel(self):
        self._cancel.set()

    def run(self):
        self.thread_id = threading.get_ident()
        try:
            if self._storage() == "manager":
                self.answer = self._through_manager()
            else:
                self.status = "submitting"
                self.answer = post_job(self.settings.url, self.settings.token, self.job)
        except Canceled:
            self.error = "upload canceled"
        except (ValueError, RuntimeError, OSError) as exc:
            self.error = str(exc)
        except Exception as exc:  # a thread's error must reach the user, whatever it is
            self.error = f"{type(exc).__name__}: {exc}"

    def _storage(self):
        if self.settings.storage != "AUTO":
            return self.settings.storage.lower()
        from flamenco_gui.submit.client import ManagerAPI

        self.status = "asking the manager for its path variables"
        api = ManagerAPI(self.settings.url, self.settings.token)
        try:
            from flamenco_gui.submit.packing import under_path_variable

            shared = under_path_variable(self.blend_path, api.path_variables())
        finally:
            api.close()
        return "shared" if shared else "manager"

    def _through_manager(self):
        """Pack with BAT, upload what the manager lacks, submit; returns the answer."""
        from flamenco_gui.submit.client import ManagerAPI, ManagerError, manifest
        from flamenco_gui.submit.packing import pack

        api = ManagerAPI(self.settings.url, self.settings.token)
        try:
            self.status = "packing the .blend and the files it reads"
            with pack(Path(self.blend_path)) as packed:
                held = api.missing(packed.files)
                to_send = sum(f.size - held[f.sha256] for f in packed.files if f.sha256 in held)
                sent = 0

                def on_bytes(file, n):
                    nonlocal sent
                    if self._cancel.is_set():
                        raise Canceled
                    sent += n
                    self.fraction = sent / to_send if to_send else 1.0
                    self.status = f"uploading {file.path}: {_mb(sent)} of {_mb(to_send)} MB"

                sent_total = api.upload(packed.files, on_bytes)
                print(f"flamenco: uploaded {sent_total} of {packed.total_bytes} bytes")
                self.status = "submitting"
                job = self.job
                job["storage"] = "manager"
                job["files"] = manifest(packed)
                job["settings"]["filepath"] = packed.blend
                job["settings"]["render_output"] = "######"
                return api.submit(job)
        except ManagerError as exc:
            raise RuntimeError(f"the manager refused the job: {exc}") from None
        finally:
            api.close()
