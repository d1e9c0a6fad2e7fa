"""Submitting a .blend from the artist's machine: pack (BAT), upload, submit.

Standard library and blender-asset-tracer only: the Blender add-on bundles it."""
