"""Which keys do what, for the session window and the web console alike.

USB foot pedals type keys (most send Page Down / Page Up, arrows or a letter), so a pedal is set
up by naming its keys here. The map lives in keys.toml in the user's config folder, or in the
file TIDEWELL_KEYS names:

    next = ["SPACE", "PAGEDOWN", "RIGHT"]
    pause = ["P", "B"]
    marker = ["M", "PAGEUP"]
    end = ["ESCAPE"]

Key names are upper case: letters, digits, F1-F12, SPACE, ENTER, ESCAPE, TAB, BACKSPACE, PAGEUP,
PAGEDOWN, HOME, END, LEFT, RIGHT, UP, DOWN. An action left out keeps its default keys.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import platformdirs

from tidewell.core.errors import TidewellError
from tidewell.core.toml_file import key_line, read_toml

ACTIONS = ("next", "pause", "marker", "end")
DEFAULT_KEYS = {
    "next": ("SPACE", "PAGEDOWN", "RIGHT"),
    "pause": ("P", "B"),
    "marker": ("M", "PAGEUP"),
    "end": ("ESCAPE",),
}
NAMED_KEYS = (
    "SPACE",
    "ENTER",
    "ESCAPE",
    "TAB",
    "BACKSPACE",
    "PAGEUP",
    "PAGEDOWN",
    "HOME",
    "END",
    "LEFT",
    "RIGHT",
    "UP",
    "DOWN",
)
_PYGLET_NAMES = {"RETURN": "ENTER", "NUM_ENTER": "ENTER"}  # pyglet's name -> ours


class KeyMapError(TidewellError, ValueError):
    pass


def valid_key(name: str) -> bool:
    return (
        name in NAMED_KEYS
        or re.fullmatch(r"[A-Z0-9]", name) is not None
        or re.fullmatch(r"F([1-9]|1[0-2])", name) is not None
    )


def keymap_path() -> Path:
    override = os.environ.get("TIDEWELL_KEYS")
    return Path(override) if override else platformdirs.user_config_path("tidewell", appauthor=False) / "keys.toml"


def default_keymap() -> dict[str, str]:
    return {name: action for action, keys in DEFAULT_KEYS.items() for name in keys}


def load_keymap(path: Path | None = None) -> dict[str, str]:
    """{key name: action}. A missing file gives the defaults; a bad one raises KeyMapError with
    file:line."""
    path = path or keymap_path()
    actions = {action: list(keys) for action, keys in DEFAULT_KEYS.items()}
    if path.exists():
        text, data = read_toml(path, KeyMapError, "no such file")
        lines = text.splitlines()
        for action, keys in data.items():
            line = key_line(lines, action) or 1
            if action not in ACTIONS:
                raise KeyMapError(f"{path}:{line}: unknown action {action!r}; expected one of {', '.join(ACTIONS)}")
            if isinstance(keys, str):
                keys = [keys]
            if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
                raise KeyMapError(f'{path}:{line}: {action} must be a list of key names, e.g. ["PAGEDOWN"]')
            names = [k.strip().upper() for k in keys]
            for name in names:
                if not valid_key(name):
                    raise KeyMapError(
                        f"{path}:{line}: unknown key {name!r} for {action}; expected a letter, a digit, "
                        f"F1-F12 or one of {', '.join(NAMED_KEYS)}"
                    )
            actions[action] = names
    mapping: dict[str, str] = {}
    for action in ACTIONS:
        for name in actions[action]:
            if name in mapping and mapping[name] != action:
                raise KeyMapError(f"{path}: key {name} is given to both {mapping[name]} and {action}")
            mapping[name] = action
    return mapping


def from_pyglet(symbol_string: str) -> str:
    """Our name for pyglet's key.symbol_string(symbol): "_1" -> "1", "RETURN" -> "ENTER"."""
    name = _PYGLET_NAMES.get(symbol_string, symbol_string)
    if re.fullmatch(r"_[0-9]", name):
        return name[1:]
    return name
