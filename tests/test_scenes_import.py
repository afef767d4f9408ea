"""`tidewell scenes import FILE --id NAME`: a panorama scene folder from a 360-degree photo or video,
with the media the tests make themselves (tests/media_synth.py, Pillow, PyAV)."""

import os
import stat
from pathlib import Path

import av
import media_synth
import numpy as np
import pytest
from PIL import Image

from tidewell.engine import scenes_import
from tidewell.engine.cli import main
from tidewell.scenes.catalog import USER, available_scenes
from tidewell.scenes.media_comfort import luminance_changes
from tidewell.scenes.media_probe import picture_shift, relative_luminance, sphere_mean


@pytest.fixture
def scenes_dir(tmp_path, monkeypatch) -> Path:
    """The user's scene folder, named by TIDEWELL_SCENES_DIR as the catalog reads it."""
    folder = tmp_path / "my_scenes"
    monkeypatch.setenv("TIDEWELL_SCENES_DIR", str(folder))
    monkeypatch.setenv("TIDEWELL_DATA_DIR", str(tmp_path / "data"))
    return folder


def run(capsys, *args) -> tuple[int, str, str]:
    code = main(["scenes", "import", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def blue_world(width: int = 1024, height: int = 512) -> np.ndarray:
    """A mostly blue world: sky blues that vary with direction, one small red marker ahead."""
    d = media_synth.directions(width, height)
    picture = np.empty((height, width, 3), dtype=np.float64)
    picture[..., 0] = 20 + 20 * d[..., 1]
    picture[..., 1] = 70 + 40 * d[..., 1]
    picture[..., 2] = 170 + 50 * d[..., 1]
    marker = media_synth.marker_picture(width, height, 0.0, radius_deg=4.0)
    inside = marker[..., 0] == 255
    picture[inside] = (255, 40, 40)
    return np.clip(picture, 0, 255).astype(np.uint8)


# -- a good photo -------------------------------------------------------------------------------


def test_a_mono_photo_becomes_a_scene_the_catalog_loads(tmp_path, scenes_dir, capsys):
    photo = media_synth.write_image(tmp_path / "Blue lake.jpg", blue_world())
    code, out, err = run(capsys, photo, "--id", "blue_lake", "--postures", "supine,seated", "--yaw", "-20")
    assert code == 0, err
    assert err == ""  # a calm, mid-bright photo breaks no comfort rule
    folder = scenes_dir / "blue_lake"
    assert sorted(p.name for p in folder.iterdir()) == ["blue_lake.jpg", "scene.toml", "thumbnail.png"]
    assert (folder / "blue_lake.jpg").read_bytes() == photo.read_bytes()
    assert f"wrote {folder}" in out and "TIDEWELL_SCENES_DIR=" not in out  # already on the catalog's path
    info = available_scenes()["blue_lake"]
    assert info.source == USER and info.folder == folder
    assert info.title == "Blue lake" and "Imported from Blue lake.jpg" in info.description
    assert [p.value for p in info.postures] == ["supine", "seated"]
    assert info.panorama.layout == "mono" and info.panorama.yaw_deg == -20.0 and not info.panorama.is_video
    assert dict(info.audio) == {"drone": 0.3, "breath": 0.6} and info.tags == ()
    with Image.open(folder / "thumbnail.png") as thumbnail:
        assert thumbnail.size == (320, 180)
    assert 1 <= len(info.palette) <= 8
    colours = [tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in info.palette]
    assert all(b > r and b > g for r, g, b in colours), info.palette  # the marker is too small to count
    lightness = [0.2126 * r + 0.7152 * g + 0.0722 * b for r, g, b in colours]
    assert lightness == sorted(lightness)  # dark to light
    for path in (folder, *folder.iterdir()):
        assert stat.S_IMODE(os.stat(path).st_mode) == (0o700 if path.is_dir() else 0o600)
    assert [p.name for p in scenes_dir.iterdir()] == ["blue_lake"]  # no staging folder left


def test_the_thumbnail_shows_what_lies_ahead_at_the_yaw(tmp_path, scenes_dir, capsys):
    picture = media_synth.marker_picture(1024, 512, yaw_deg=90.0, radius_deg=10.0)
    photo = media_synth.write_image(tmp_path / "side.png", picture)
    assert run(capsys, photo, "--id", "side", "--yaw", "90")[0] == 0
    with Image.open(scenes_dir / "side" / "thumbnail.png") as thumbnail:
        centre = np.asarray(thumbnail.convert("RGB"))[90, 160]
    assert centre[0] > 200 and centre[1] < 100, centre


def test_without_a_scenes_dir_it_writes_to_the_data_folder_which_the_catalog_reads(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("TIDEWELL_SCENES_DIR", raising=False)
    monkeypatch.setenv("TIDEWELL_DATA_DIR", str(tmp_path / "data"))
    photo = media_synth.write_image(tmp_path / "lake.png", blue_world(512, 256))
    code, out, _ = run(capsys, photo, "--id", "lake")
    assert code == 0
    assert (tmp_path / "data" / "scenes" / "lake" / "scene.toml").is_file()
    assert "export TIDEWELL_SCENES_DIR" not in out  # nothing to set up: the catalog reads it
    assert available_scenes()["lake"].panorama is not None


def test_into_a_folder_off_the_catalogs_path_it_says_how_to_use_it(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("TIDEWELL_SCENES_DIR", raising=False)
    monkeypatch.setenv("TIDEWELL_DATA_DIR", str(tmp_path / "data"))
    photo = media_synth.write_image(tmp_path / "lake.png", blue_world(512, 256))
    code, out, _ = run(capsys, photo, "--id", "lake", "--into", str(tmp_path / "mine"))
    assert code == 0
    assert f"export TIDEWELL_SCENES_DIR={tmp_path / 'mine'}" in out
    assert "lake" not in available_scenes()
    monkeypatch.setenv("TIDEWELL_SCENES_DIR", str(tmp_path / "mine"))
    assert available_scenes()["lake"].panorama is not None


def test_force_replaces_a_scene_folder(tmp_path, scenes_dir, capsys):
    photo = media_synth.write_image(tmp_path / "a.png", blue_world(512, 256))
    assert run(capsys, photo, "--id", "lake", "--title", "First")[0] == 0
    code, _, err = run(capsys, photo, "--id", "lake", "--title", "Second")
    assert code == 2 and "exists already" in err and "--force" in err
    assert available_scenes()["lake"].title == "First"
    assert run(capsys, photo, "--id", "lake", "--title", "Second", "--force")[0] == 0
    assert available_scenes()["lake"].title == "Second"
    assert [p.name for p in scenes_dir.iterdir()] == ["lake"]


@pytest.mark.parametrize(
    ("layout", "size"),
    [("top-bottom", (512, 512)), ("side-by-side", (1024, 256)), ("mono", (1000, 504))],  # 504: within 2%
)
def test_stereo_and_mono_layouts_with_their_aspects_are_accepted(tmp_path, scenes_dir, capsys, layout, size):
    picture = media_synth.smooth_field(*size)
    photo = media_synth.write_image(tmp_path / "pano.png", picture)
    assert run(capsys, photo, "--id", "pano", "--layout", layout)[0] == 0
    assert available_scenes()["pano"].panorama.layout == layout


@pytest.mark.parametrize(
    ("layout", "size", "says"),
    [
        ("mono", (512, 512), "512x512 is 1:1; a mono equirectangular panorama is 2:1 (e.g. 4096x2048); it fits --layout top-bottom"),
        ("mono", (1024, 256), "1024x256 is 4:1; a mono equirectangular panorama is 2:1 (e.g. 4096x2048); it fits --layout side-by-side"),
        ("top-bottom", (1024, 512), "1024x512 is 2:1; a top-bottom stereo equirectangular panorama is 1:1 (e.g. 2048x2048); it fits --layout mono"),
        ("side-by-side", (512, 512), "is 1:1; a side-by-side stereo equirectangular panorama is 4:1 (e.g. 8192x2048); it fits --layout top-bottom"),
        ("mono", (400, 300), "400x300 is 4:3; a mono equirectangular panorama is 2:1 (e.g. 4096x2048); for stereo use --layout top-bottom (1:1"),
        ("top-bottom", (60, 60), "60x60 pixels is too small for a panorama (at least 64x32 per eye)"),
    ],
)  # fmt: skip
def test_a_picture_of_the_wrong_aspect_is_refused_naming_the_layout_that_fits(
    tmp_path, scenes_dir, capsys, layout, size, says
):
    photo = media_synth.write_image(tmp_path / "photo.png", media_synth.smooth_field(*size))
    code, out, err = run(capsys, photo, "--id", "pano", "--layout", layout)
    assert code == 2 and out == ""
    assert err.startswith("tidewell: photo.png: ") and says in err and err.count("\n") == 1, err
    assert not scenes_dir.exists()


# -- what an author can get wrong -----------------------------------------------------------------


def audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=44100)
        for index in range(10):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 44100, index * 1024
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def bad_inputs(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    """{case: (arguments, what the message says)}."""
    good = media_synth.write_image(tmp_path / "good.png", blue_world(256, 128))
    video = media_synth.write_video(tmp_path / "good.mp4", [media_synth.smooth_field(128, 64)] * 10)
    (tmp_path / "truncated.mp4").write_bytes(video.read_bytes()[: video.stat().st_size // 2])
    (tmp_path / "notes.mp4").write_text("not a video\n")
    (tmp_path / "notes.jpg").write_text("not a photo\n")
    (tmp_path / "pano.gif").write_bytes(b"GIF89a")
    (tmp_path / "a_folder.jpg").mkdir()
    media_synth.write_image(tmp_path / "dot.png", np.zeros((1, 1, 3), np.uint8))
    audio_only(tmp_path / "song.mp4")
    return {
        "missing": ([str(tmp_path / "nowhere.jpg"), "--id", "x"], "nowhere.jpg: no such file"),
        "folder": ([str(tmp_path / "a_folder.jpg"), "--id", "x"], "a_folder.jpg: a folder, not a photo or video"),
        "text as video": ([str(tmp_path / "notes.mp4"), "--id", "x"], "notes.mp4: FFmpeg cannot read it as a video"),
        "truncated": ([str(tmp_path / "truncated.mp4"), "--id", "x"], "truncated.mp4: FFmpeg cannot read it"),
        "text as photo": ([str(tmp_path / "notes.jpg"), "--id", "x"], "notes.jpg: not an image Pillow can read"),
        "extension": ([str(tmp_path / "pano.gif"), "--id", "x"], "pano.gif: unsupported file type '.gif'"),
        "1x1": ([str(tmp_path / "dot.png"), "--id", "x"], "dot.png: 1x1 pixels is too small for a panorama"),
        "audio only": ([str(tmp_path / "song.mp4"), "--id", "x"], "song.mp4: no video stream in the file (it holds audio)"),
        "bad id": ([str(good), "--id", "My-Lake"], "--id: expected a folder name"),
        "reserved id": ([str(good), "--id", "common"], "--id: expected a folder name"),
        "built-in id": ([str(good), "--id", "ember"], "--id ember: a built-in scene has that id"),
        "postures": ([str(good), "--id", "x", "--postures", "standing"], "--postures: expected"),
        "yaw": ([str(good), "--id", "x", "--yaw", "nan"], "--yaw: expected degrees from -360 to 360"),
    }  # fmt: skip


CASES = [
    "missing",
    "folder",
    "text as video",
    "truncated",
    "text as photo",
    "extension",
    "1x1",
    "audio only",
    "bad id",
    "reserved id",
    "built-in id",
    "postures",
    "yaw",
]


@pytest.mark.parametrize("case", CASES)
def test_each_mistake_is_one_line_exit_2_and_nothing_written(tmp_path, scenes_dir, capsys, case):
    arguments, says = bad_inputs(tmp_path)[case]
    code, out, err = run(capsys, *arguments)
    assert code == 2 and out == ""
    assert err.startswith("tidewell: ") and err.count("\n") == 1 and says in err, err
    assert not scenes_dir.exists()


def test_an_existing_user_folder_is_not_written_over(tmp_path, scenes_dir, capsys):
    (scenes_dir / "lake").mkdir(parents=True)
    (scenes_dir / "lake" / "mine.txt").write_text("keep")
    photo = media_synth.write_image(tmp_path / "lake.png", blue_world(256, 128))
    code, _, err = run(capsys, photo, "--id", "lake")
    assert code == 2 and f"{scenes_dir / 'lake'} exists already" in err
    assert [p.name for p in (scenes_dir / "lake").iterdir()] == ["mine.txt"]


def test_a_picture_wider_than_a_gpu_texture_is_imported_with_a_warning(tmp_path, scenes_dir, capsys, monkeypatch):
    monkeypatch.setattr(scenes_import, "TEXTURE_LIMIT", 512)  # a 16k picture, scaled to the test's size
    photo = media_synth.write_image(tmp_path / "huge.png", blue_world(1024, 512))
    code, _, err = run(capsys, photo, "--id", "huge")
    assert code == 0
    assert "warning: huge.png: 1024x512 is wider than the largest texture" in err and "GL_MAX_TEXTURE_SIZE" in err


def test_a_dark_photo_is_tagged_dark_with_a_warning(tmp_path, scenes_dir, capsys):
    picture = np.full((256, 512, 3), 12, dtype=np.uint8)
    picture[100:120, 200:300] = 40
    photo = media_synth.write_image(tmp_path / "night.png", picture)
    code, _, err = run(capsys, photo, "--id", "night")
    assert code == 0 and "warning: very dark" in err
    assert available_scenes()["night"].tags == ("dark",)


# -- videos: light and motion ---------------------------------------------------------------------


def test_a_calm_video_imports_without_a_warning(tmp_path, scenes_dir, capsys):
    base = media_synth.smooth_field(256, 128).astype(np.float64)
    swell = [np.clip(base * (1.0 + 0.05 * np.sin(2 * np.pi * i / 90)), 0, 255).astype(np.uint8) for i in range(90)]
    video = media_synth.write_video(tmp_path / "calm.mp4", swell, fps=30)
    code, out, err = run(capsys, video, "--id", "calm")
    assert code == 0 and err == "", err
    assert "measured 00:00-00:03" in out and "90 frames for light" in out
    info = available_scenes()["calm"]
    assert info.panorama.is_video and (info.folder / "calm.mp4").read_bytes() == video.read_bytes()
    assert "mean luminance" in info.description


def test_a_bright_flash_is_warned_of_at_its_time(tmp_path, scenes_dir, capsys):
    levels = [60] * 75 + [240] * 3 + [60] * 30  # a flash of 0.1 s at 2.5 s
    video = media_synth.write_video(tmp_path / "flash.mp4", media_synth.level_frames(128, 64, levels), fps=30)
    code, _, err = run(capsys, video, "--id", "flash")
    assert code == 0  # warned, not refused
    lines = err.splitlines()
    assert any(line.startswith("warning: flashing light at 00:02:") for line in lines), err
    assert any(line.startswith("warning: sudden light change at 00:02:") for line in lines), err
    assert "flash" in available_scenes()


def test_a_picture_turning_in_yaw_is_warned_of_as_a_moving_camera(tmp_path, scenes_dir, capsys):
    base = media_synth.smooth_field(256, 128)
    base[40:88, ::32] = 255  # some detail to follow
    frames = [np.roll(base, 2 * i, axis=1) for i in range(60)]  # 2 px a frame at 30 fps: 84 deg/s
    video = media_synth.write_video(tmp_path / "pan.mp4", frames, fps=30)
    code, out, err = run(capsys, video, "--id", "pan")
    assert code == 0
    assert "warning: moving camera at 00:00-00:01: the whole picture turns up to 8" in err, err
    assert "flashing" not in err and "sudden" not in err


def test_a_thing_moving_in_a_still_picture_is_no_moving_camera(tmp_path, scenes_dir, capsys):
    base = media_synth.smooth_field(256, 128)
    checks = np.indices((16, 32)).sum(axis=0) % 2 * 200 + 30  # a checkered box: broadband, easy to follow
    frames = []
    for i in range(60):
        frame = base.copy()
        frame[60:76, 20 + 2 * i : 52 + 2 * i] = checks[..., None]
        frames.append(frame)
    video = media_synth.write_video(tmp_path / "boat.mp4", frames, fps=30)
    code, out, err = run(capsys, video, "--id", "boat")
    assert code == 0 and "moving camera" not in err, err


# -- the measures themselves ----------------------------------------------------------------------


def test_relative_luminance_is_rec709_of_linear_srgb():
    rgb = np.array([[[255, 255, 255], [0, 0, 0], [0, 255, 0], [188, 188, 188]]], dtype=np.uint8)
    assert np.allclose(relative_luminance(rgb)[0], [1.0, 0.0, 0.7152, 0.5029], atol=1e-3)


def test_the_sphere_mean_counts_the_poles_by_their_area():
    values = np.zeros((90, 180))
    values[:10] = 1.0  # a bright cap around the zenith: 11% of the rows, 1.5% of the sphere
    assert sphere_mean(values) == pytest.approx((1 - np.cos(np.radians(20))) / 2, rel=0.02)


@pytest.mark.parametrize("shift", [3.0, -17.0, 40.0])
def test_phase_correlation_finds_a_turn_to_a_tenth_of_a_pixel(shift):
    rng = np.random.default_rng(1)
    columns = np.fft.rfft(rng.standard_normal((64, 256)), axis=1)
    frequencies = np.fft.rfftfreq(256)
    before = np.fft.irfft(columns, n=256, axis=1)
    after = np.fft.irfft(columns * np.exp(-2j * np.pi * frequencies * (shift + 0.3)), n=256, axis=1)
    dx, dy = picture_shift(np.fft.fft2(before), np.fft.fft2(after))
    assert dx == pytest.approx(shift + 0.3, abs=0.1) and dy == pytest.approx(0.0, abs=0.1)


def test_a_slow_fade_is_no_flash_but_a_cut_is():
    times = np.arange(60) / 30.0
    fade = np.linspace(0.1, 0.5, 60)  # +0.4 over 2 s
    assert luminance_changes(times, fade) == []
    cut = np.where(times < 1.0, 0.1, 0.5)
    [change] = luminance_changes(times, cut)
    assert change.delta == pytest.approx(0.4) and change.start_s == pytest.approx(29 / 30)


def test_an_id_another_user_folder_has_or_the_built_in_folder_are_refused(tmp_path, monkeypatch, capsys):
    first, second = tmp_path / "first", tmp_path / "second"
    monkeypatch.setenv("TIDEWELL_SCENES_DIR", f"{first}{os.pathsep}{second}")
    photo = media_synth.write_image(tmp_path / "lake.png", blue_world(256, 128))
    assert run(capsys, photo, "--id", "lake", "--into", second)[0] == 0
    code, _, err = run(capsys, photo, "--id", "lake")  # into the first folder
    assert code == 2 and f"{second / 'lake'} has that id already" in err
    assert not first.exists()
    code, _, err = run(capsys, photo, "--id", "lake2", "--into", scenes_import.SCENES_FOLDER, "--force")
    assert code == 2 and "the built-in scenes' folder" in err
    assert not (scenes_import.SCENES_FOLDER / "lake2").exists()


# -- photos Pillow alone gets wrong ---------------------------------------------------------------


def forged_png(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header declares width x height (8-bit RGB) but holds almost no pixels."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)))
    return path


@pytest.mark.parametrize("size, says", [((40000, 20000), "40000x20000 is too large"), ((20000, 10000), "huge.png")])
def test_a_huge_photo_is_one_line_exit_2_not_a_decompression_bomb(
    tmp_path, scenes_dir, capsys, monkeypatch, size, says
):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 89478485)  # Pillow's default, as in a fresh `tidewell`
    photo = forged_png(tmp_path / "huge.png", *size)
    code, out, err = run(capsys, photo, "--id", "huge")
    assert code == 2 and err.startswith("tidewell: ") and err.count("\n") == 1 and says in err, err
    assert "Traceback" not in err and "DecompressionBomb" not in err
    assert Image.MAX_IMAGE_PIXELS == 89478485  # no process-wide change of Pillow's limit
    assert not (scenes_dir / "huge").exists() and not any(scenes_dir.glob(".import-*"))


def test_a_16_bit_grey_photo_is_measured_at_its_brightness_not_white(tmp_path, scenes_dir, capsys):
    photo = tmp_path / "grey16.png"
    Image.fromarray(np.full((256, 512), 32768, dtype=np.uint16)).save(photo)
    code, out, err = run(capsys, photo, "--id", "grey16")
    assert code == 0 and "very bright" not in err, err
    assert "mean luminance 0.21" in out, out  # 50% grey: sRGB 128, linear 0.216


def test_a_photo_turned_by_its_exif_orientation_is_taken_as_shown(tmp_path, scenes_dir, capsys):
    stored = np.ascontiguousarray(np.rot90(blue_world(1024, 512), k=-1))  # 512 wide, 1024 high: turned right
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to show"
    photo = tmp_path / "turned.jpg"
    Image.fromarray(stored).save(photo, exif=exif.tobytes(), quality=95)
    code, out, err = run(capsys, photo, "--id", "turned")
    assert code == 0, err
    assert "measured turned.jpg: 1024x512 mono" in out
    with Image.open(scenes_dir / "turned" / "thumbnail.png") as thumbnail:
        r, g, b = np.asarray(thumbnail.convert("RGB"))[90, 160]  # the red marker ahead, the right way up
    assert r > 150 and b < 150, (r, g, b)


def test_transparent_parts_of_a_photo_are_warned_of(tmp_path, scenes_dir, capsys):
    rgba = np.dstack([blue_world(512, 256), np.full((256, 512), 255, np.uint8)])
    rgba[:64, :, 3] = 0  # the sky cut out
    photo = tmp_path / "cutout.png"
    Image.fromarray(rgba, "RGBA").save(photo)
    code, out, err = run(capsys, photo, "--id", "cutout")
    assert code == 0
    assert "warning: cutout.png: transparent parts are shown black" in err, err


# -- a video cut short ----------------------------------------------------------------------------


def cut_video(path: Path) -> Path:
    """A 3 s faststart MP4 (its index first) cut to 2/3 of its bytes: it opens, and its frames end early."""
    media_synth.write_video(path, media_synth.level_frames(256, 128, np.linspace(40, 200, 90)), faststart=True)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    return path


def test_a_video_cut_short_is_imported_with_a_warning(tmp_path, scenes_dir, capsys):
    video = cut_video(tmp_path / "cut.mp4")
    code, out, err = run(capsys, video, "--id", "cut")
    assert code == 0
    assert "warning: cut.mp4: the video stops at 00:0" in err and "of its declared 00:03 (cut short or damaged)" in err


def test_a_video_without_a_declared_duration_is_not_said_to_stop_short(tmp_path):
    from dataclasses import replace

    from tidewell.scenes.media_probe import measure, read_header

    video = cut_video(tmp_path / "cut.mp4")
    assert measure(read_header(video, True), "mono").stops_at_s is not None
    assert measure(replace(read_header(video, True), duration_s=0.0), "mono").stops_at_s is None


# -- interrupted, racing, or nowhere to write -----------------------------------------------------


@pytest.mark.parametrize("where", ["measure", "load_scene"])
def test_ctrl_c_leaves_nothing_behind(tmp_path, scenes_dir, capsys, monkeypatch, where):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(scenes_import, where, interrupted)  # while measuring, or with the staging folder full
    photo = media_synth.write_image(tmp_path / "lake.png", blue_world(256, 128))
    code, out, err = run(capsys, photo, "--id", "lake")
    assert code == 130 and err == "import interrupted: nothing was written\n", err
    assert not scenes_dir.exists() or list(scenes_dir.iterdir()) == []  # no staging folder left
    assert not any(tmp_path.glob(".import-*"))


def test_a_destination_that_cannot_be_written_is_said_before_measuring(tmp_path, scenes_dir, capsys, monkeypatch):
    def not_reached(*args, **kwargs):
        raise AssertionError("measured before the destination was checked")

    monkeypatch.setattr(scenes_import, "measure", not_reached)
    photo = media_synth.write_image(tmp_path / "lake.png", blue_world(256, 128))
    (tmp_path / "a_file").write_text("")
    for into, says in [
        ("/proc", "/proc: cannot write there: it takes no new folders"),
        (tmp_path / "a_file", "a_file: is not a folder"),
        (tmp_path / "a_file" / "below", f"cannot be made: {tmp_path / 'a_file'} is not a folder"),
    ]:
        code, out, err = run(capsys, photo, "--id", "lake", "--into", into)
        assert code == 2 and err.count("\n") == 1 and says in err, err
    assert not scenes_dir.exists()


def test_the_check_it_line_quotes_its_path(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TIDEWELL_DATA_DIR", str(tmp_path / "data"))
    folder = tmp_path / "my scenes; $HOME"
    monkeypatch.setenv("TIDEWELL_SCENES_DIR", str(folder))
    photo = media_synth.write_image(tmp_path / "lake.png", blue_world(256, 128))
    code, out, _ = run(capsys, photo, "--id", "lake")
    assert code == 0
    assert f"check it: tidewell scenes render '{folder / 'lake'}' --out lake.png --eye both" in out, out


def test_a_scene_folder_that_appears_while_importing_is_left_alone(tmp_path, scenes_dir, capsys, monkeypatch):
    loaded = scenes_import.load_scene

    def and_another_import(folder, source):
        loaded(folder, source=source)
        (scenes_dir / "lake").mkdir()
        (scenes_dir / "lake" / "theirs.txt").write_text("the other import's")

    monkeypatch.setattr(scenes_import, "load_scene", and_another_import)
    photo = media_synth.write_image(tmp_path / "lake.png", blue_world(256, 128))
    code, _, err = run(capsys, photo, "--id", "lake")
    assert code == 2 and err.count("\n") == 1, err
    assert (
        f"{scenes_dir / 'lake'} appeared while importing (another import of the same id?): nothing was written" in err
    )
    assert [p.name for p in scenes_dir.iterdir()] == ["lake"]
    assert [p.name for p in (scenes_dir / "lake").iterdir()] == ["theirs.txt"]


def test_force_keeps_the_old_scene_when_the_new_one_cannot_take_its_place(tmp_path, scenes_dir, capsys, monkeypatch):
    photo = media_synth.write_image(tmp_path / "a.png", blue_world(256, 128))
    assert run(capsys, photo, "--id", "lake", "--title", "First")[0] == 0
    rename, failed = os.rename, []

    def fails_once(source, destination):
        if Path(destination) == scenes_dir / "lake" and ".old" not in Path(source).name and not failed:
            failed.append(source)
            raise OSError(28, "No space left on device")
        rename(source, destination)

    monkeypatch.setattr(os, "rename", fails_once)
    code, _, err = run(capsys, photo, "--id", "lake", "--title", "Second", "--force")
    assert failed and code == 2 and "cannot write the scene: No space left on device" in err, err
    assert available_scenes()["lake"].title == "First"
    assert [p.name for p in scenes_dir.iterdir()] == ["lake"]  # the old one back, no staging folder left
    monkeypatch.setattr(os, "rename", rename)
    assert run(capsys, photo, "--id", "lake", "--title", "Second", "--force")[0] == 0
    assert available_scenes()["lake"].title == "Second"
    assert [p.name for p in scenes_dir.iterdir()] == ["lake"]


# -- the colours of a video, as the renderer reads them -------------------------------------------


def test_the_colour_matrix_is_the_tag_else_bt709_for_hd_else_bt601():
    from tidewell.scenes.media_probe import colour_matrix

    assert colour_matrix("bt709", 480) == "bt709" and colour_matrix("BT709", 64) == "bt709"
    assert colour_matrix("smpte170m", 1080) == "bt601" and colour_matrix("bt470bg", 2160) == "bt601"
    assert colour_matrix("bt2020nc", 480) == "bt709"
    for untagged in (None, "", "unknown", "reserved"):
        assert colour_matrix(untagged, 720) == "bt709" and colour_matrix(untagged, 719) == "bt601"


def matrix_video(path: Path, height: int, matrix: str, tagged: bool, colour=(200, 40, 60)) -> Path:
    """Three frames of one colour, turned into YUV with `matrix` ("ITU709" or "ITU601"), tagged BT.709 or untagged."""
    picture = np.zeros((height, 2 * height, 3), np.uint8)
    picture[:] = colour
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 2 * height, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "12"}
        if tagged:
            stream.codec_context.colorspace = 1  # AVCOL_SPC_BT709
        for index in range(3):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(
                format="yuv420p", dst_colorspace=matrix
            )
            frame.pts = index
            if tagged:
                frame.colorspace = 1
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.mark.parametrize(
    "height, matrix, tagged",
    [(720, "ITU709", False), (480, "ITU601", False), (64, "ITU709", True)],
    ids=["untagged HD is BT.709", "untagged SD is BT.601", "a BT.709 tag wins over the height"],
)
def test_video_colours_are_read_with_the_matrix_the_renderer_uses(tmp_path, height, matrix, tagged):
    from tidewell.scenes.media_probe import measure, read_header

    video = matrix_video(tmp_path / "colour.mp4", height, matrix, tagged)
    picture = measure(read_header(video, True), "mono").picture
    centre = picture[picture.shape[0] // 2, picture.shape[1] // 2].astype(int)
    assert np.abs(centre - (200, 40, 60)).max() <= 4, centre  # the other matrix is off by 13 to 20
