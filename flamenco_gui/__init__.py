"""Flamenco Desktop Manager: a render-farm manager for small studios."""

__version__ = "0.1.0"
