"""Golden images: every shipped scene in every posture it lists, rendered offscreen at 160x90 with a
fixed state (t = 10 s, breath 0.5, calm 0.5, fade 1), compared with tests/goldens/<scene>_<posture>.png.

The references come from Mesa llvmpipe. A frame matches when both hold:
  - the mean absolute difference over all pixels and channels is at most MEAN_TOLERANCE (of 255);
  - at most MAX_PIXEL_FRACTION of the pixels differ by more than PIXEL_TOLERANCE in any channel.
A mismatch writes tests/goldens/failed/<scene>_<posture>.png: expected | actual | difference x8.
Regenerate after an intended change: TIDEWELL_UPDATE_GOLDENS=1 pytest tests/test_scene_goldens.py
"""

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tidewell.core.frame_state import Posture
from tidewell.engine.render.scene_states import scene_state
from tidewell.scenes.catalog import SCENES_FOLDER, SceneError, load_scene

GOLDENS = Path(__file__).parent / "goldens"
FAILED = GOLDENS / "failed"
SIZE = (160, 90)
MEAN_TOLERANCE = 1.5
PIXEL_TOLERANCE = 16
MAX_PIXEL_FRACTION = 0.01
UPDATE = os.environ.get("TIDEWELL_UPDATE_GOLDENS") == "1"


def shipped_cases() -> list[tuple[str, str]]:
    """(scene id, posture) for every built-in scene folder; a folder whose scene.toml does not
    load still gets one case, which fails with the loading error."""
    cases = []
    for folder in sorted(p for p in SCENES_FOLDER.iterdir() if (p / "scene.toml").is_file()):
        try:
            postures = [p.value for p in load_scene(folder).postures]
        except SceneError:
            postures = [Posture.SEATED.value]
        cases += [(folder.name, posture) for posture in postures]
    return cases


CASES = shipped_cases()


@pytest.fixture(scope="module")
def offscreen():
    from tidewell.engine.render.targets import OffscreenTarget

    scenes = {}
    for scene_id in dict.fromkeys(scene_id for scene_id, _ in CASES):
        try:
            scenes[scene_id] = load_scene(SCENES_FOLDER / scene_id)
        except SceneError:
            pass
    try:
        target = OffscreenTarget(comfort=False, scenes=scenes, strict=True)
    except Exception as error:
        pytest.skip(f"no EGL context: {error}")
    yield target
    target.close()


def compare(expected: np.ndarray, actual: np.ndarray) -> tuple[float, float, bool]:
    """(mean abs difference, fraction of pixels beyond PIXEL_TOLERANCE, whether that is a match)."""
    difference = np.abs(expected.astype(int) - actual.astype(int))
    mean = float(difference.mean())
    fraction = float((difference.max(axis=2) > PIXEL_TOLERANCE).mean())
    return mean, fraction, mean <= MEAN_TOLERANCE and fraction <= MAX_PIXEL_FRACTION


def write_diff(name: str, expected: np.ndarray, actual: np.ndarray) -> Path:
    difference = np.clip(np.abs(expected.astype(int) - actual.astype(int)) * 8, 0, 255).astype(np.uint8)
    FAILED.mkdir(parents=True, exist_ok=True)
    path = FAILED / f"{name}.png"
    Image.fromarray(np.concatenate([expected, actual, difference], axis=1), "RGB").save(path)
    return path


@pytest.mark.parametrize("scene_id, posture", CASES, ids=[f"{s}-{p}" for s, p in CASES])
def test_scene_matches_its_golden_image(offscreen, scene_id, posture):
    load_scene(SCENES_FOLDER / scene_id)  # a broken scene.toml fails here with its file:line message
    actual = offscreen.snapshot(scene_state(scene_id, posture, t_s=10.0, breath=0.5, calm=0.5), SIZE)
    name = f"{scene_id}_{posture}"
    golden = GOLDENS / f"{name}.png"
    if UPDATE:
        GOLDENS.mkdir(parents=True, exist_ok=True)
        Image.fromarray(actual, "RGB").save(golden)
        return
    if not golden.exists():
        pytest.fail(
            f"no golden for {scene_id} ({posture}): run with TIDEWELL_UPDATE_GOLDENS=1 "
            f"pytest tests/test_scene_goldens.py to create {golden}"
        )
    expected = np.asarray(Image.open(golden).convert("RGB"))
    assert expected.shape == actual.shape, f"{golden} is {expected.shape[1]}x{expected.shape[0]}, expected {SIZE}"
    mean, fraction, match = compare(expected, actual)
    if not match:
        path = write_diff(name, expected, actual)
        pytest.fail(
            f"{scene_id} ({posture}) differs from {golden}: mean abs difference {mean:.2f} "
            f"(limit {MEAN_TOLERANCE}), {fraction:.2%} of pixels off by more than {PIXEL_TOLERANCE} "
            f"(limit {MAX_PIXEL_FRACTION:.0%}); expected | actual | difference x8 written to {path}"
        )


def test_every_golden_belongs_to_a_shipped_scene():
    wanted = {f"{scene_id}_{posture}.png" for scene_id, posture in CASES}
    orphans = sorted(p.name for p in GOLDENS.glob("*.png") if p.name not in wanted)
    assert not orphans, f"goldens without a shipped scene/posture (delete them): {orphans} in {GOLDENS}"


def test_tolerances_and_diff_image(offscreen, tmp_path, monkeypatch):
    """The comparison itself: dither-sized noise passes, a dimmed frame fails and gets a diff image."""
    import sys

    monkeypatch.setattr(sys.modules[__name__], "FAILED", tmp_path)
    actual = offscreen.snapshot(scene_state("dusk_ocean", Posture.SEATED), SIZE)
    noise = np.random.default_rng(1).integers(-1, 2, actual.shape)
    assert compare(np.clip(actual + noise, 0, 255).astype(np.uint8), actual)[2]
    dimmed = (actual * 0.8).astype(np.uint8)
    assert not compare(dimmed, actual)[2]
    path = write_diff("dusk_ocean_check", dimmed, actual)
    sheet = np.asarray(Image.open(path))
    assert path.parent == tmp_path and sheet.shape == (SIZE[1], SIZE[0] * 3, 3)
    assert np.array_equal(sheet[:, SIZE[0] : 2 * SIZE[0]], actual)
