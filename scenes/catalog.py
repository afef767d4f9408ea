"""Find scene folders (scene.toml + scene.frag) and check their descriptions (scene.toml format v2).

A scene folder holds scene.toml, scene.frag (GLSL 330 core, drawn over a full-screen triangle) and
optional assets. scene.toml keys:

    id = "aurora_night"                 # the folder's name
    title = "Aurora night"
    description = "..."
    postures = ["supine", "seated"]     # postures the scene looks right in
    palette = ["#0b1026", "#1f6f5c"]    # optional: a few colours for thumbnails and the console
    audio = { wind = 0.4, drone = 0.5 } # optional: suggested audio layers and volumes (0..1)
    kind = "panorama"                   # optional: a 360-degree photo or video (scenes/panorama_spec.py)
    [uniforms.u_glow]                   # optional: a float uniform driven by a FrameState field
    field = "breath_level"              # a float field of FrameState (None-able fields give range[0])
    range = [0.2, 1.0]                  # output for the low and the high end of the domain
    curve = "smoothstep"                # linear | smoothstep | ease_in | ease_out
    domain = [0.0, 1.0]                 # the field's input range; needed for fields not on 0..1

Where scenes come from, later ones replacing earlier ones of the same id: the built-in folder,
scenes/ in the data folder (`tidewell scenes import` writes there), the folders named in
TIDEWELL_SCENES_DIR (os.pathsep-separated), then the caller's `extra_folders`; each is a folder of
scene folders. A broken scene is left out and reported by `scan_scenes`; it never hides the others.
"""

from __future__ import annotations

import dataclasses
import os
import re
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tidewell.core import toml_file
from tidewell.core.constants import AUDIO_LAYERS, SCENE_TAGS
from tidewell.core.data_folder import imported_scenes_folder
from tidewell.core.errors import TidewellError
from tidewell.core.frame_state import FrameState, Posture
from tidewell.core.toml_file import is_number as _is_number
from tidewell.core.toml_file import read_toml
from tidewell.scenes.panorama_spec import PANORAMA_KEYS, PanoramaSpec, read_panorama

SCENES_FOLDER = Path(__file__).resolve().parent
COMMON_FOLDER = SCENES_FOLDER / "common"
FULLSCREEN_VERTEX_PATH = COMMON_FOLDER / "fullscreen.vert"
CROSSFADE_FRAGMENT_PATH = COMMON_FOLDER / "crossfade.frag"
PANORAMA_FRAGMENT_PATH = COMMON_FOLDER / "panorama.frag"
FALLBACK_SCENE_ID = "ember"  # the built-in safe scene a session shows when a scene cannot be drawn
USER_SCENES_ENV = "TIDEWELL_SCENES_DIR"
BUILT_IN = "built-in"
USER = "user"

# Set by the renderer itself; a [uniforms] binding may not take these names.
BUILT_IN_UNIFORMS = frozenset(
    "u_time u_breath u_calm u_fade u_inv_view_proj u_eye_pos u_head_pos u_rest_forward u_rest_up u_resolution "
    "u_panorama u_yuv u_y u_u u_v u_first_y u_first_u u_first_v u_loop_blend u_full_range u_bt601 u_layout u_yaw "
    "u_eye_index u_media_texels".split()
)
# FrameState fields that already run from 0 to 1; any other field needs `domain = [lo, hi]`.
UNIT_FIELDS = frozenset(
    {
        "breath_phase",
        "breath_level",
        "phase_progress",
        "calm",
        "crossfade",
        "fade",
        "adherence",
        "visual_calm",
        "brightness",
        "volume",
    }
)
CURVES = {
    "linear": lambda x: x,
    "smoothstep": lambda x: x * x * (3.0 - 2.0 * x),
    "ease_in": lambda x: x * x,
    "ease_out": lambda x: 1.0 - (1.0 - x) * (1.0 - x),
}
TOP_LEVEL_KEYS = (
    "id",
    "title",
    "description",
    "postures",
    "tags",
    "palette",
    "audio",
    "uniforms",
    "render_scale",
    "overlay",
    *PANORAMA_KEYS,
)
UNIFORM_KEYS = ("field", "range", "curve", "domain")
PAIR_LIMIT = 1e6  # a uniform's range and domain: beyond this a shader's float arithmetic turns to inf
_HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_GLSL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SceneError(TidewellError):
    """A scene folder that cannot be used; the message starts with "file:line:" where known."""


def _float_fields() -> dict[str, bool]:
    """FrameState's float fields, each mapped to whether it may be None."""
    hints = typing.get_type_hints(FrameState)
    fields = {}
    for field in dataclasses.fields(FrameState):
        hint = hints[field.name]
        if hint is float:
            fields[field.name] = False
        elif typing.get_origin(hint) in (typing.Union, types.UnionType) and set(typing.get_args(hint)) == {
            float,
            type(None),
        }:
            fields[field.name] = True
    return fields


FLOAT_FIELDS = _float_fields()


@dataclass(frozen=True, slots=True)
class UniformBinding:
    """A float uniform set every frame from one FrameState field through a domain, curve and range."""

    name: str
    field: str
    range: tuple[float, float]
    curve: str = "linear"
    domain: tuple[float, float] = (0.0, 1.0)

    def value(self, state: FrameState) -> float:
        raw = getattr(state, self.field)
        if raw is None and self.field == "visual_calm":
            raw = state.calm  # FrameState: visual_calm None means calm itself
        if raw is None:
            return self.range[0]
        low, high = self.domain
        x = min(max((float(raw) - low) / (high - low), 0.0), 1.0)
        return self.range[0] + (self.range[1] - self.range[0]) * CURVES[self.curve](x)


@dataclass(frozen=True, slots=True)
class SceneInfo:
    id: str
    title: str
    description: str
    postures: tuple[Posture, ...]
    folder: Path
    fragment_path: Path
    palette: tuple[str, ...] = ()
    audio: tuple[tuple[str, float], ...] = ()
    uniforms: tuple[UniformBinding, ...] = ()
    source: str = BUILT_IN  # BUILT_IN or USER
    # Fraction of the target's width and height the scene is drawn at before the engine's final
    # pass scales it up: soft, dim scenes lose nothing visible and cost a quarter at 0.5.
    render_scale: float = 1.0
    # Made for AR: transparent (alpha 0, colour premultiplied) where the real room should show. In a
    # headset whose runtime offers ALPHA_BLEND or ADDITIVE it floats in the room; elsewhere, on black.
    overlay: bool = False
    tags: tuple[str, ...] = ()  # what it shows that some clients fear or cannot take (core.constants.SCENE_TAGS)
    panorama: PanoramaSpec | None = None  # kind = "panorama": drawn by scenes/common/panorama.frag

    @property
    def toml_path(self) -> Path:
        return self.folder / "scene.toml"


def user_scene_folders() -> list[Path]:
    """The folders named by TIDEWELL_SCENES_DIR, in order (empty entries skipped)."""
    value = os.environ.get(USER_SCENES_ENV, "")
    return [Path(part).expanduser() for part in value.split(os.pathsep) if part.strip()]


def scan_scenes(extra_folders: Iterable[Path] = ()) -> tuple[dict[str, SceneInfo], list[str]]:
    """(scenes by id, one message per scene folder that could not be loaded).

    Reads the built-in scenes, then TIDEWELL_SCENES_DIR's folders, then `extra_folders`; a later
    scene with an id already seen replaces the earlier one."""
    scenes: dict[str, SceneInfo] = {}
    errors: list[str] = []
    imported = [(imported_scenes_folder(), USER)] if imported_scenes_folder().is_dir() else []
    parents = [(SCENES_FOLDER, BUILT_IN), *imported] + [
        (Path(p), USER) for p in (*user_scene_folders(), *extra_folders)
    ]
    for parent, source in parents:
        if not parent.is_dir():
            errors.append(f"{parent}: scene folder not found (from {USER_SCENES_ENV} or the command line)")
            continue
        for folder in sorted(p for p in parent.iterdir() if p.is_dir() and p.name != "common"):
            if not (folder / "scene.toml").is_file():
                if (folder / "scene.frag").is_file():
                    errors.append(f"{folder}: missing scene.toml next to scene.frag")
                continue
            try:
                info = load_scene(folder, source=source)
            except SceneError as error:
                errors.append(str(error))
                continue
            scenes[info.id] = info
    return scenes, errors


def available_scenes(extra_folders: Iterable[Path] = ()) -> dict[str, SceneInfo]:
    """Every scene that loads, by id (see `scan_scenes` for the ones that do not)."""
    return scan_scenes(extra_folders)[0]


def find_scene(id_or_path: str | Path) -> SceneInfo:
    """A scene by id (built-in or user), or the scene folder (or its scene.toml) at a path."""
    path = Path(id_or_path)
    if path.name == "scene.toml":
        path = path.parent
    if path.is_dir() and (path / "scene.toml").exists():
        source = BUILT_IN if path.resolve().parent == SCENES_FOLDER else USER
        return load_scene(path, source=source)
    scenes = available_scenes()
    if str(id_or_path) in scenes:
        return scenes[str(id_or_path)]
    raise SceneError(
        f"unknown scene {str(id_or_path)!r}: expected a scene id ({', '.join(sorted(scenes))}) "
        "or a folder holding scene.toml"
    )


def fallback_scene() -> SceneInfo:
    """The built-in safe scene, never a user's override of it."""
    return load_scene(SCENES_FOLDER / FALLBACK_SCENE_ID)


def load_scene(folder: Path, source: str = BUILT_IN) -> SceneInfo:
    folder = Path(folder)
    toml_path = folder / "scene.toml"
    text, data = read_toml(toml_path, SceneError, "missing scene.toml (a scene folder needs scene.toml and scene.frag)")
    return _Validator(toml_path, text, source).scene(data)


def key_line(toml_path: Path, *key_path: str) -> int:
    """Line number of a key (e.g. "uniforms", "u_glow") in a scene.toml, 1 when not found."""
    try:
        text = Path(toml_path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return 1
    return _Validator(Path(toml_path), text, BUILT_IN).line_of(tuple(key_path))


class _Validator:
    def __init__(self, toml_path: Path, text: str, source: str):
        self.path = toml_path
        self.lines = text.splitlines()
        self.source = source

    def fail(self, key_path: tuple[str, ...], expected: str, got=None) -> SceneError:
        detail = "" if got is None else f", got {got!r}"
        return SceneError(
            f"{self.path}:{self.line_of(key_path)}: key '{'.'.join(key_path)}': expected {expected}{detail}"
        )

    def line_of(self, key_path: tuple[str, ...]) -> int:
        """Line of the last key in `key_path`, looked up under its table header when it has one."""
        *tables, key = key_path
        start, end = 0, len(self.lines)
        if tables:
            header = toml_file.table_header(self.lines, ".".join(tables))
            if header is not None:
                start, end = header + 1, toml_file.section_end(self.lines, header + 1)
        line = toml_file.key_line(self.lines, key, start, end)
        if line is not None:
            return line
        header = toml_file.table_header(self.lines, ".".join([*tables, key]))
        if header is not None:
            return header + 1
        if tables:  # e.g. audio = { wind = 2 } on one line: point at the table's own key
            return self.line_of(tuple(tables))
        return 1

    def scene(self, data: dict) -> SceneInfo:
        for key in data:
            if key not in TOP_LEVEL_KEYS:
                raise self.fail((key,), f"one of the known keys ({', '.join(TOP_LEVEL_KEYS)})")
        strings = {}
        for key in ("id", "title", "description"):
            value = data.get(key)
            if not isinstance(value, str) or not value.strip():
                raise self.fail((key,), "a non-empty string", value)
            strings[key] = value.strip()
        folder = self.path.parent
        if strings["id"] != folder.name:
            raise self.fail(("id",), f"the folder's name {folder.name!r}", strings["id"])
        panorama = read_panorama(data, folder, self.fail)
        fragment_path = PANORAMA_FRAGMENT_PATH if panorama else folder / "scene.frag"
        if not fragment_path.is_file():
            raise SceneError(f"{fragment_path}: missing scene.frag next to scene.toml")
        return SceneInfo(
            id=strings["id"],
            title=strings["title"],
            description=strings["description"],
            postures=self.postures(data.get("postures")),
            folder=folder,
            fragment_path=fragment_path,
            palette=self.palette(data["palette"]) if "palette" in data else (),
            audio=self.audio(data.get("audio", {})),
            uniforms=self.uniforms(data.get("uniforms", {})),
            source=self.source,
            render_scale=self.render_scale(data.get("render_scale", 1.0)),
            overlay=self.overlay(data.get("overlay", False)),
            tags=self.tags(data.get("tags", [])),
            panorama=panorama,
        )

    def tags(self, value) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(t, str) and t in SCENE_TAGS for t in value):
            raise self.fail(("tags",), f"a list of tags among {', '.join(SCENE_TAGS)}", value)
        return tuple(dict.fromkeys(value))

    def overlay(self, value) -> bool:
        if not isinstance(value, bool):
            raise self.fail(("overlay",), "true or false", value)
        return value

    def render_scale(self, value) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.25 <= value <= 1.0:
            raise self.fail(("render_scale",), "a number from 0.25 to 1.0", value)
        return float(value)

    def postures(self, value) -> tuple[Posture, ...]:
        known = [p.value for p in Posture]
        expected = f"a non-empty list drawn from {', '.join(known)}"
        if not isinstance(value, list) or not value or any(p not in known for p in value):
            raise self.fail(("postures",), expected, value)
        return tuple(Posture(p) for p in dict.fromkeys(value))

    def palette(self, value) -> tuple[str, ...]:
        expected = 'a list of 1 to 8 colours written "#rrggbb"'
        if not isinstance(value, list) or not 1 <= len(value) <= 8:
            raise self.fail(("palette",), expected, value)
        for colour in value:
            if not isinstance(colour, str) or not _HEX_COLOUR.match(colour):
                raise self.fail(("palette",), expected, colour)
        return tuple(c.lower() for c in value)

    def audio(self, value) -> tuple[tuple[str, float], ...]:
        if not isinstance(value, dict):
            raise self.fail(("audio",), "a table of layer = volume (0..1)", value)
        layers = []
        for layer, volume in value.items():
            if layer not in AUDIO_LAYERS:
                raise self.fail(("audio", layer), f"a layer among {', '.join(AUDIO_LAYERS)}", layer)
            if not _is_number(volume) or not 0.0 <= volume <= 1.0:
                raise self.fail(("audio", layer), "a volume between 0 and 1", volume)
            layers.append((layer, float(volume)))
        return tuple(layers)

    def uniforms(self, value) -> tuple[UniformBinding, ...]:
        if not isinstance(value, dict):
            raise self.fail(("uniforms",), "[uniforms.NAME] tables", value)
        bindings = []
        for name, spec in value.items():
            where = ("uniforms", name)
            if not _GLSL_NAME.match(name) or name.startswith("gl_"):
                raise self.fail(where, "a GLSL identifier as the uniform's name", name)
            if name in BUILT_IN_UNIFORMS:
                raise self.fail(where, "a name other than the built-in uniforms (set by the engine)", name)
            if not isinstance(spec, dict):
                raise self.fail(where, "a table with field, range and curve", spec)
            for key in spec:
                if key not in UNIFORM_KEYS:
                    raise self.fail((*where, key), f"one of the known keys ({', '.join(UNIFORM_KEYS)})")
            field = spec.get("field")
            if field not in FLOAT_FIELDS:
                raise self.fail((*where, "field"), f"a float FrameState field ({', '.join(FLOAT_FIELDS)})", field)
            out_range = self.pair((*where, "range"), spec.get("range"), increasing=False)
            curve = spec.get("curve", "linear")
            if curve not in CURVES:
                raise self.fail((*where, "curve"), f"one of {', '.join(CURVES)}", curve)
            if "domain" in spec:
                domain = self.pair((*where, "domain"), spec["domain"], increasing=True)
            elif field in UNIT_FIELDS:
                domain = (0.0, 1.0)
            else:
                raise self.fail((*where, "domain"), f"domain = [lo, hi]: field {field!r} does not run from 0 to 1")
            bindings.append(UniformBinding(name, field, out_range, curve, domain))
        return tuple(bindings)

    def pair(self, key_path: tuple[str, ...], value, increasing: bool) -> tuple[float, float]:
        expected = "[lo, hi]: two numbers" + (" with lo < hi" if increasing else "")
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not all(_is_number(v) for v in value)
            or (increasing and not value[0] < value[1])
        ):
            raise self.fail(key_path, expected, value)
        if any(abs(v) > PAIR_LIMIT for v in value):
            raise self.fail(key_path, f"[lo, hi] within -{PAIR_LIMIT:g} to {PAIR_LIMIT:g}", value)
        return float(value[0]), float(value[1])
