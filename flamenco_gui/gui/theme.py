"""Status colours that stay readable on light and dark palettes.

One colour cannot reach a readable contrast on both a white and a near-black table, so
each status has a tone per palette, picked by the lightness of the palette's base
colour. tests/gui/test_theme.py checks every tone against WCAG's 4.5:1 for text.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette

_LIGHT = {
    "queued": "#5f6368",
    "rendering": "#1559b0",
    "completed": "#1b7a36",
    "failed": "#c0262d",
    "canceled": "#8a5220",
    "paused": "#7c6300",
}
_DARK = {
    "queued": "#b4bac3",
    "rendering": "#6cb6ff",
    "completed": "#5fd38a",
    "failed": "#ff8077",
    "canceled": "#dcab78",
    "paused": "#f0cc5a",
}
# Worker states reuse the task tones: green is good, red needs a look, grey is idle.
_ALIASES = {
    "online": "completed",
    "unresponsive": "paused",  # amber: silent for a few heartbeats, not yet given up
    "offline": "failed",
    "enabled": "completed",
    "disabled": "queued",
}


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Base).lightness() < 128


def status_colors(palette: QPalette) -> dict[str, QColor]:
    tones = _DARK if is_dark(palette) else _LIGHT
    colors = {name: QColor(hex_) for name, hex_ in tones.items()}
    colors.update({alias: colors[name] for alias, name in _ALIASES.items()})
    return colors


def _luminance(color: QColor) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return (
        0.2126 * channel(color.redF())
        + 0.7152 * channel(color.greenF())
        + 0.0722 * channel(color.blueF())
    )


def contrast(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio between two colours (1 to 21)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def dark_palette() -> QPalette:
    """A dark palette like the desktops' dark themes (for screenshots and tests)."""
    p = QPalette()
    roles = QPalette.ColorRole
    for role, hex_ in (
        (roles.Window, "#2b2d30"),
        (roles.WindowText, "#dfe1e5"),
        (roles.Base, "#1e1f22"),
        (roles.AlternateBase, "#26282b"),
        (roles.Text, "#dfe1e5"),
        (roles.Button, "#3a3d41"),
        (roles.ButtonText, "#dfe1e5"),
        (roles.Highlight, "#2f65ca"),
        (roles.HighlightedText, "#ffffff"),
        (roles.ToolTipBase, "#3a3d41"),
        (roles.ToolTipText, "#dfe1e5"),
        (roles.PlaceholderText, "#8c8f94"),
        (roles.Link, "#6cb6ff"),
    ):
        p.setColor(role, QColor(hex_))
    disabled = QPalette.ColorGroup.Disabled
    for role in (roles.WindowText, roles.Text, roles.ButtonText):
        p.setColor(disabled, role, QColor("#6f737a"))
    return p
