"""A panorama scene in the headset against Monado: each eye is drawn from its own half of a stereo
(top-bottom) 360-degree photo."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image
from test_xr import Child, child_factory  # noqa: F401 - the fixture, shared with the other headset tests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the media the tests make
import media_synth  # noqa: E402


def test_a_stereo_panorama_shows_each_eye_its_own_half(child_factory, tmp_path, monkeypatch):  # noqa: F811
    scenes = tmp_path / "scenes"
    folder = media_synth.scene_folder(scenes, "stereo_lake", "stereo_lake.png", layout="top-bottom")
    left = np.full((256, 512, 3), (190, 70, 70), np.uint8)  # the left eye's world is red
    right = np.full((256, 512, 3), (70, 190, 70), np.uint8)  # the right eye's green
    media_synth.write_image(folder / "stereo_lake.png", np.concatenate([left, right], axis=0))
    monkeypatch.setenv("TIDEWELL_SCENES_DIR", str(scenes))
    child: Child = child_factory(
        "--program", "taster", "--minutes", "0.5", "--capture-at", "8", "--scene", "stereo_lake"
    )
    captured = child.wait_for("captured", 60)
    result = child.finish(60)
    assert result["status"] == "completed" and result["lost"] is None
    eyes = [
        np.asarray(Image.open(captured["files"][eye]).convert("RGB"), dtype=np.float64) for eye in ("left", "right")
    ]
    for eye in eyes:
        assert eye.shape == (240, 320, 3)  # a panorama draws at full render scale
        assert eye.max() > 60, "the panorama is visible"
    (lr, lg, _), (rr, rg, _) = (eye.reshape(-1, 3).mean(axis=0) for eye in eyes)
    assert lr > 1.5 * lg, f"left eye red {lr:.0f} green {lg:.0f}"
    assert rg > 1.5 * rr, f"right eye red {rr:.0f} green {rg:.0f}"


def test_the_console_live_view_shows_the_left_eye_of_the_headset(child_factory, tmp_path, monkeypatch):  # noqa: F811
    scenes = tmp_path / "scenes"
    folder = media_synth.scene_folder(scenes, "stereo_live", "stereo_live.png", layout="top-bottom")
    left = np.full((256, 512, 3), (190, 70, 70), np.uint8)
    right = np.full((256, 512, 3), (70, 190, 70), np.uint8)
    media_synth.write_image(folder / "stereo_live.png", np.concatenate([left, right], axis=0))
    monkeypatch.setenv("TIDEWELL_SCENES_DIR", str(scenes))
    child: Child = child_factory("--program", "taster", "--minutes", "0.3", "--scene", "stereo_live", "--live-view")
    result = child.finish(60)
    assert result["status"] == "completed" and result["lost"] is None
    live = result["live_view"]
    assert live["images"] >= 2 and live["problems"] == []
    pictures = [
        np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)
        for path in sorted((child.folder / "out").glob("live-*.jpg"))
    ]
    assert len(pictures) == live["images"]
    picture = max(pictures, key=lambda p: p.mean())  # mid-session: the start and the end fade from and to dark
    assert picture.shape[1] == 320  # the simulated eye's width (under the live view's 480)
    red, green, _ = picture.reshape(-1, 3).mean(axis=0)
    assert red > 1.5 * green, f"the live view is the left eye: red {red:.0f}, green {green:.0f}"
