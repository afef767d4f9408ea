"""Find scene folders (scene.toml + scene.frag) and check their descriptions."""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from tidewell.engine.frame_state import Posture

SCENES_FOLDER = Path(__file__).resolve().parent
COMMON_FOLDER = SCENES_FOLDER / "common"
FULLSCREEN_VERTEX_PATH = COMMON_FOLDER / "fullscreen.vert"
CROSSFADE_FRAGMENT_PATH = COMMON_FOLDER / "crossfade.frag"


class SceneError(Exception):
    """A scene folder that cannot be used; the message starts with "file:line:" where known."""


@dataclass(frozen=True, slots=True)
class SceneInfo:
    id: str
    title: str
    description: str
    postures: tuple[Posture, ...]
    folder: Path
    fragment_path: Path


def available_scenes(extra_folders: Iterable[Path] = ()) -> dict[str, SceneInfo]:
    """Built-in scenes plus the scene folders inside each of `extra_folders`, by id."""
    scenes: dict[str, SceneInfo] = {}
    for parent in (SCENES_FOLDER, *map(Path, extra_folders)):
        if not parent.is_dir():
            raise SceneError(f"{parent}: scene folder not found")
        for toml_path in sorted(parent.glob("*/scene.toml")):
            info = load_scene(toml_path.parent)
            if info.id in scenes:
                raise SceneError(
                    f"{toml_path}:{_key_line(toml_path, 'id')}: scene id {info.id!r} "
                    f"is already used by {scenes[info.id].folder}"
                )
            scenes[info.id] = info
    return scenes


def load_scene(folder: Path) -> SceneInfo:
    toml_path = folder / "scene.toml"
    try:
        data = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except OSError as error:
        raise SceneError(f"{toml_path}: cannot read: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        match = re.search(r"\(at line (\d+), column \d+\)", str(error))
        line = match.group(1) if match else "1"
        raise SceneError(f"{toml_path}:{line}: {error}") from None

    def fail(key: str, message: str) -> SceneError:
        return SceneError(f"{toml_path}:{_key_line(toml_path, key)}: {message}")

    for key in ("id", "title", "description"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise fail(key, f"'{key}' must be a non-empty string")
    if data["id"] != folder.name:
        raise fail("id", f"id {data['id']!r} must match the folder name {folder.name!r}")

    raw_postures = data.get("postures")
    known = [p.value for p in Posture]
    if not isinstance(raw_postures, list) or not raw_postures:
        raise fail("postures", f"'postures' must be a non-empty list drawn from {known}")
    unknown = [p for p in raw_postures if p not in known]
    if unknown:
        raise fail("postures", f"unknown posture(s) {unknown}; choose from {known}")
    unknown_keys = sorted(set(data) - {"id", "title", "description", "postures"})
    if unknown_keys:
        raise fail(unknown_keys[0], f"unknown key(s) {unknown_keys}")

    fragment_path = folder / "scene.frag"
    if not fragment_path.is_file():
        raise SceneError(f"{folder}: missing scene.frag next to scene.toml")
    return SceneInfo(
        id=data["id"],
        title=data["title"].strip(),
        description=data["description"].strip(),
        postures=tuple(Posture(p) for p in dict.fromkeys(raw_postures)),
        folder=folder,
        fragment_path=fragment_path,
    )


def _key_line(toml_path: Path, key: str) -> int:
    """Line of `key = ...` in the file, or 1 when the key is missing."""
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for number, text in enumerate(toml_path.read_text(encoding="utf-8").splitlines(), 1):
        if pattern.match(text):
            return number
    return 1
