"""Scene folders: the built-in catalogue and clear errors for bad scene.toml files."""
from pathlib import Path

import pytest

from tidewell.engine.frame_state import Posture
from tidewell.scenes.catalog import SceneError, available_scenes, load_scene


def write_scene(parent: Path, folder: str, toml: str, frag: str = "#version 330 core\n") -> Path:
    scene = parent / folder
    scene.mkdir(parents=True)
    (scene / "scene.toml").write_text(toml)
    (scene / "scene.frag").write_text(frag)
    return scene


def test_built_in_scenes_are_listed_with_their_files():
    scenes = available_scenes()
    assert {"dusk_ocean", "ember"} <= set(scenes)
    ocean = scenes["dusk_ocean"]
    assert ocean.postures == (Posture.SEATED, Posture.SUPINE, Posture.PRONE)
    assert ocean.title and ocean.description
    assert ocean.fragment_path.read_text().startswith("#version 330 core")
    assert Posture.PRONE in scenes["ember"].postures


def test_extra_folder_adds_scenes(tmp_path):
    write_scene(tmp_path, "mist", 'id = "mist"\ntitle = "Mist"\ndescription = "Grey"\npostures = ["seated"]\n')
    scenes = available_scenes([tmp_path])
    assert scenes["mist"].postures == (Posture.SEATED,)
    assert scenes["mist"].folder == tmp_path / "mist"


def test_toml_syntax_error_names_file_and_line(tmp_path):
    folder = write_scene(tmp_path, "bad", 'id = "bad"\ntitle = \n')
    with pytest.raises(SceneError, match=rf"{folder / 'scene.toml'}:2: "):
        load_scene(folder)


def test_unknown_posture_names_its_line(tmp_path):
    folder = write_scene(
        tmp_path, "odd", 'id = "odd"\ntitle = "Odd"\ndescription = "x"\npostures = ["standing"]\n'
    )
    with pytest.raises(SceneError, match=r"scene.toml:4: unknown posture\(s\) \['standing'\]"):
        load_scene(folder)


def test_missing_title_and_mismatched_id_are_reported(tmp_path):
    folder = write_scene(tmp_path, "a", 'id = "a"\ndescription = "x"\npostures = ["prone"]\n')
    with pytest.raises(SceneError, match="'title' must be a non-empty string"):
        load_scene(folder)
    folder = write_scene(tmp_path, "b", 'id = "c"\ntitle = "T"\ndescription = "x"\npostures = ["prone"]\n')
    with pytest.raises(SceneError, match=r"scene.toml:1: id 'c' must match the folder name 'b'"):
        load_scene(folder)


def test_missing_fragment_shader_is_reported(tmp_path):
    folder = write_scene(tmp_path, "nofrag", 'id = "nofrag"\ntitle = "T"\ndescription = "x"\npostures = ["prone"]\n')
    (folder / "scene.frag").unlink()
    with pytest.raises(SceneError, match="missing scene.frag"):
        available_scenes([tmp_path])
