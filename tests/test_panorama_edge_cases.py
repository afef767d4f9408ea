"""Panorama photos and videos that review found mishandled: odd sizes, 16-bit grey, a file outside the scene
folder, a cut-short video, a few draws a second, a longer sound track, a huge photo."""

import media_synth
import numpy as np
from PIL import Image

from tidewell.core.frame_state import Posture
from tidewell.engine.render.scene_states import scene_state
from tidewell.engine.render.targets import OffscreenTarget
from tidewell.scenes.catalog import SceneError, load_scene
from tidewell.scenes.media_probe import measure, read_header

SIZE = (160, 90)


def _video(tmp_path, name, width, height, frames=6):
    folder = media_synth.scene_folder(tmp_path, name, f"{name}.mp4")
    pictures = [media_synth.smooth_field(width, height) for _ in range(frames)]
    media_synth.write_video(folder / f"{name}.mp4", pictures)
    return load_scene(folder, "user")


def test_a_video_whose_height_is_not_a_multiple_of_4_is_drawn_not_a_crash(tmp_path):
    # 132x66 is 2:1 with even sides; 66 % 4 == 2 (as for 1004x502, 2700x1350). VideoPanorama._upload
    # slices U and V by `height // 4` rows of the (H*3/2, W) array, which is wrong when H/2 is odd:
    # ValueError: cannot reshape array ... out of the frame loop (the session ends "interrupted").
    info = _video(tmp_path, "h66", 132, 66)
    target = OffscreenTarget(size=SIZE, comfort=False, scenes={info.id: info}, strict=False)
    try:
        target.render(scene_state(info.id, Posture.SEATED, t_s=0.0))
        drawn = target.renderer.as_drawn(scene_state(info.id)).scene
    finally:
        target.close()
    assert drawn == info.id


def test_an_even_sized_video_that_fits_the_gpu_is_not_said_to_be_too_large(tmp_path):
    # fitted_size rounds odd sides down to even; VideoPanorama then says the video "is larger than this
    # GPU's largest texture", which is false for a 1001x500 video.
    folder = tmp_path / "odd"
    folder.mkdir()
    import av

    with av.open(str(folder / "odd.mp4"), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 129, 64, "yuv444p"
        stream.options = {"preset": "ultrafast"}
        for _ in range(3):
            frame = av.VideoFrame.from_ndarray(media_synth.smooth_field(129, 64), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    (folder / "scene.toml").write_text(
        'id = "odd"\ntitle = "t"\ndescription = "d"\npostures = ["seated"]\nkind = "panorama"\nvideo = "odd.mp4"\n'
    )
    info = load_scene(folder, "user")
    target = OffscreenTarget(size=SIZE, comfort=False, scenes={info.id: info}, strict=False)
    try:
        target.render(scene_state(info.id, Posture.SEATED, t_s=0.0))
        problems = target.drain_problems()
    finally:
        target.close()
    assert not any("largest texture" in p for p in problems), problems


def test_a_16_bit_grey_png_is_shown_at_its_brightness_not_white(tmp_path):
    # Pillow opens it as mode I;16 and convert("RGB") clips every value above 255 to white: a mid-grey
    # photo is drawn white, and `scenes import` measures it as "very bright: mean luminance 1.00".
    folder = media_synth.scene_folder(tmp_path, "grey16", "grey16.png")
    Image.fromarray(np.full((64, 128), 32768, dtype=np.uint16)).save(folder / "grey16.png")
    header = read_header(folder / "grey16.png", False)
    assert measure(header, "mono").picture.mean() < 200  # mid grey is ~128, never 255
    info = load_scene(folder, "user")
    target = OffscreenTarget(size=SIZE, comfort=False, scenes={info.id: info}, strict=True)
    try:
        target.render(scene_state(info.id, Posture.SEATED, t_s=0.0, breath=0.0, calm=0.0))
        pixels = target.read_rgb()
    finally:
        target.close()
    assert np.median(pixels) < 200


def test_a_panorama_file_outside_the_scene_folder_is_refused(tmp_path):
    # panorama_spec says "a file in the scene's folder", but ../ and absolute paths are accepted.
    media_synth.write_image(tmp_path / "outside.png", media_synth.smooth_field(128, 64))
    for name in ("../../outside.png", str(tmp_path / "outside.png")):
        folder = media_synth.scene_folder(tmp_path / "scenes", "escape", name)
        try:
            load_scene(folder, "user")
        except SceneError:
            continue
        raise AssertionError(f"image = {name!r} was accepted")


def test_import_warns_about_a_video_that_stops_short_of_its_declared_length(tmp_path):
    # A copy cut short (faststart: its index says 3 s) decodes 1.9 s and ends without an FFmpeg error:
    # Footage.problem stays None, no warning, and `scenes import` writes the scene as if it were whole.
    from tidewell.scenes.media_comfort import comfort_warnings

    path = tmp_path / "cut.mp4"
    media_synth.write_video(path, media_synth.level_frames(256, 128, np.linspace(40, 200, 90)), faststart=True)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    header = read_header(path, True)
    footage = measure(header, "mono")
    assert footage.measured_s < header.duration_s - 0.5  # the premise: it stopped short
    assert footage.problem is not None or comfort_warnings(footage), "no word that the file stops short"


def test_a_video_drawn_a_few_times_a_second_keeps_to_the_session_clock(tmp_path):
    # The console's OffscreenPreview draws the session's frame state every 0.33 s; VideoPanorama.update
    # moves its media clock at most MAX_STEP_S (0.25 s) per draw, so the live view of a video scene
    # plays at 75% speed and drifts ever further from what the client sees.
    info = _video(tmp_path, "clock", 128, 64, frames=150)
    target = OffscreenTarget(size=SIZE, comfort=False, scenes={info.id: info}, strict=False)
    try:
        for index in range(10):
            target.render(scene_state(info.id, Posture.SEATED, t_s=index * 0.33))
        media_t = target.renderer._compiled[info.id].media.media_t
    finally:
        target.close()
    assert abs(media_t - 9 * 0.33) < 0.1, media_t


def test_a_webm_with_a_longer_sound_track_loops_at_the_end_of_its_video(tmp_path):
    # WebM streams carry no duration of their own, so VideoDecoder._duration takes the container's, which
    # is the longer audio track's: a 2 s video with 4 s of sound holds its last frame for 2 s each loop,
    # and the loop's fade (timed on 4 s) never comes before the jump back to the first frame.
    import shutil
    import subprocess

    import pytest

    from tidewell.engine.render.video_decoder import VideoDecoder

    if shutil.which("ffmpeg") is None:
        pytest.skip("needs the ffmpeg command-line tool")
    path = tmp_path / "av.webm"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=128x64:rate=30:duration=2",
         "-f", "lavfi", "-i", "sine=duration=4", "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8",
         "-c:a", "libopus", str(path)],
        check=True,
    )  # fmt: skip
    decoder = VideoDecoder(path, 8192, hardware=False)
    try:
        duration = decoder.duration_s
    finally:
        decoder.close()
    assert abs(duration - 2.0) < 0.1, duration


def test_import_says_clearly_that_a_huge_photo_is_too_large_instead_of_a_traceback(tmp_path, monkeypatch):
    # _image_header opens the file with Pillow's decompression-bomb limit still in force (it is lifted
    # only later, in _measure_image): a 20000x10000 (or 40000x20000) photo ends `tidewell scenes import`
    # with PIL.Image.DecompressionBombError and a traceback, not MediaError's one line.
    import struct
    import zlib

    import pytest
    from PIL import Image

    from tidewell.scenes.media_probe import MediaError

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 89478485)  # Pillow's default: a fresh `tidewell` process

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    path = tmp_path / "huge.png"
    header = struct.pack(">IIBBBBB", 40000, 20000, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)))
    with pytest.raises(MediaError):
        measure(read_header(path, False), "mono")
