"""The audio process and the shared memory between it and the frame loop (audio/controls.py,
audio/player.py, audio/device.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from frame_states import make_state
from jack_testbed import jack_server_bare  # noqa: F401  (fixture)

from tidewell.audio import controls as c
from tidewell.audio.output import WavOutput, open_audio_output


def test_published_state_arrives_as_its_controls():
    block = c.SharedBlock.create()
    try:
        seen = np.full(c.SIZE, -1.0)
        assert not block.read_controls(seen), "nothing was published yet"
        assert (seen == -1.0).all()
        state = make_state(breath_level=0.25, audio_layers=(("ocean", 0.5), ("chime", 2.0), ("harp", 1.0)))
        block.publish(state)
        assert block.read_controls(seen)
        assert not block.read_controls(seen), "nothing newer: the reader keeps what it has"
        expected = np.zeros(c.SIZE)
        c.controls_from_state(state, expected)
        np.testing.assert_array_equal(seen, expected)
        assert seen[c.LEVEL] == 0.25
        assert seen[c.VOLUME + c.LAYERS.index("ocean")] == 0.5
        assert seen[c.VOLUME + c.LAYERS.index("chime")] == 1.0  # clamped
        assert seen[c.VOLUME + c.LAYERS.index("breath")] == 0.0  # the program chose its layers
    finally:
        block.close()


def test_no_layers_means_the_plain_breathing_guide_and_nan_means_quiet():
    controls = np.zeros(c.SIZE)
    c.controls_from_state(make_state(breath_level=float("nan"), audio_layers=()), controls)
    assert controls[c.VOLUME + c.LAYERS.index("breath")] == 1.0
    assert controls[c.LEVEL] == 0.0


WRITER = textwrap.dedent("""
    import select, sys, time
    import numpy as np
    from tidewell.audio import controls as c
    block = c.SharedBlock.attach(int(sys.argv[1]))
    vector = np.zeros(c.SIZE)
    k, end = 0, time.monotonic() + float(sys.argv[2])
    while time.monotonic() < end and not (k % 1000 == 0 and select.select([sys.stdin], [], [], 0)[0]):
        k += 1
        vector.fill(k)
        block.publish_controls(vector)
    print(k)
""")


def test_a_reader_in_another_process_never_sees_a_half_written_slot():
    """A writer process publishes vectors whose every element is the publish count, as fast as it
    can, until this process has accepted enough of them (or a deadline that only stops a hung test);
    every vector accepted must be whole (all elements equal) and newer than the last."""
    block = c.SharedBlock.create()
    try:
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(block.fileno()), "120.0"],
            pass_fds=(block.fileno(),),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        seen, accepted, refused, torn = np.zeros(c.SIZE), 0, 0, 0
        latest, told = 0.0, False
        while writer.poll() is None:
            if accepted >= 20_000 and not told:  # enough seen: tell the writer to stop
                writer.stdin.write("stop\n")
                writer.stdin.flush()
                told = True
            if block.read_controls(seen):
                accepted += 1
                torn += int(not (seen == seen[0]).all())
                assert seen[0] > latest, "a vector was followed by an older one"
                latest = seen[0]
            else:
                refused += 1
        published = int(writer.stdout.read())
    finally:
        block.close()
    print(f"{published} published, {accepted} accepted, {refused} refused as in flux, {torn} torn")
    assert writer.returncode == 0
    assert published > accepted >= 20_000
    assert torn == 0


def test_sound_rendered_ahead_reaches_the_callback_whole_and_in_order():
    """The callback takes blocks of any size from the render ring (shared memory, written by the
    render process): across the ring's wrap the samples are exactly the synth's own, in order; two
    of the callback's blocks are kept ready (a 1024-frame JACK period is longer than the 20 ms
    lead); a renderer that falls behind leaves silence after what there was, and says so."""
    from tidewell.audio.ahead import Renderer, RenderRing
    from tidewell.audio.synth import BreathSynth

    block = c.SharedBlock.create()
    ring = RenderRing.create(chunk=480, lead=960, channels=2)
    reader = RenderRing(os.dup(ring.fileno()), 480, 960, 2)  # the audio process's own mapping
    try:
        block.publish(make_state(breath_level=0.6, audio_layers=(("breath", 1.0), ("ocean", 0.7), ("drone", 0.5))))
        controls = np.zeros(c.SIZE)
        assert block.read_controls(controls)
        block._accepted = 0.0  # let the renderer see the same publication
        renderer = Renderer(block, BreathSynth(seed=3), ring)
        assert ring.capacity < 20_000
        taken = []
        for size in [300, 480, 960, 7, 955, 1024, 2048, 4096] * 10:  # 99 k frames: the ring wraps five times
            renderer.fill()
            out = np.full((size, 2), 9.0, dtype=np.float32)
            assert reader.take_into(out), f"a {size}-frame callback found its frames ready"
            taken.append(out)
        played = np.concatenate(taken)
        reference = BreathSynth(seed=3)
        expected = np.concatenate(
            [
                reference.render_controls_into(controls, chunk) or chunk
                for chunk in np.zeros((len(played) // 480 + 3, 480, 2), dtype=np.float32)
            ]
        )
        np.testing.assert_array_equal(played, expected[: len(played)])
        assert np.abs(played).max() > 0.01, "the synth was audible"
        assert block.stats[c.RENDERS] == renderer.renders and block.render_s[: renderer.renders].max() > 0

        renderer.fill()
        assert 2 * 4096 <= reader.ready() < 2 * 4096 + 480, "two of the latest callback's blocks are ready"
        for _ in range(8):  # what was ready for 4096-frame blocks drains, then 2 x 1024 are kept
            assert reader.take_into(np.zeros((1024, 2), dtype=np.float32))
            renderer.fill()
        ready = reader.ready()
        assert 2 * 1024 <= ready < 2 * 1024 + 480, "the ring follows the callback's block size down"
        out = np.full((ready + 100, 2), 9.0, dtype=np.float32)
        assert not reader.take_into(out), "more than was rendered was asked for"
        np.testing.assert_array_equal(out[ready:], 0.0)
        assert np.abs(out[:ready]).max() > 0.01 and (out != 9.0).all()

        renderer.fill()
        renderer.synth = None  # the next chunk fails: the ring is marked failed, the callback goes silent
        reader.take_into(np.zeros((2048, 2), dtype=np.float32))
        with pytest.raises(AttributeError):
            renderer.fill()
        assert reader.failed
        out = np.full((480, 2), 9.0, dtype=np.float32)
        assert not reader.take_into(out) and (out == 0.0).all()
    finally:
        reader.close()
        ring.close()
        block.close()


def test_an_unknown_device_falls_back_to_a_wav_file_saying_what_exists(tmp_path):
    output, message = open_audio_output(tmp_path / "breath.wav", device="no such card")
    output.close()
    assert isinstance(output, WavOutput)
    assert "no sound device" in message and "breath.wav" in message and "\n" not in message
    assert "no output device" in message


SESSION = textwrap.dedent("""
    import json, os, signal, sys, time
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if the test runner ignores SIGINT
    sys.path.insert(0, {tests!r})
    from frame_states import make_state
    from tidewell.audio.device import DeviceOutput
    output = DeviceOutput(device="JACK")
    print(json.dumps({{"audio_pid": output._process.pid}}), flush=True)
    t, fade_until = 0.0, None
    while fade_until is None or t < fade_until:
        try:
            output.advance(make_state(t=t, breath_level=0.5), 1 / 60)
            t += 1 / 60
            time.sleep(1 / 60)
        except KeyboardInterrupt:  # as a session does: a gentle end, then close
            fade_until = t + 1.0
            callbacks = output.stats()["callbacks"]
    print(json.dumps({{"callbacks_after_ctrl_c": output.stats()["callbacks"] - callbacks,
                      "audio_alive": output._process.poll() is None}}), flush=True)
    output.close()
""")


def _wait_gone(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("how", ["SIGKILL", "SIGINT"])
def test_the_audio_process_follows_the_session(how, jack_server_bare):
    """A session killed outright takes its audio process with it (no orphan playing on); a Ctrl-C
    at the terminal does not reach the audio process, so the session's gentle end still sounds."""
    session = subprocess.Popen(
        [sys.executable, "-c", SESSION.format(tests=str(Path(__file__).parent / "audio_jack"))],
        env=jack_server_bare.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        audio_pid = json.loads(session.stdout.readline())["audio_pid"]
        time.sleep(0.5)
        renderers = Path(f"/proc/{audio_pid}/task/{audio_pid}/children").read_text().split()
        assert len(renderers) == 1, "the audio process renders in a process of its own (audio/ahead.py)"
        if how == "SIGKILL":
            session.kill()
        else:
            os.killpg(session.pid, signal.SIGINT)  # what the terminal does on Ctrl-C: the whole group
        try:
            session.wait(timeout=30)
        except subprocess.TimeoutExpired:
            session.kill()
            pytest.fail(f"the session did not end after {how}: {session.communicate()}")
        if how == "SIGINT":
            report = json.loads(session.stdout.readline())
            assert report["audio_alive"], "Ctrl-C cut the sound off"
            assert report["callbacks_after_ctrl_c"] > 0, report  # it played on through the gentle end
        assert _wait_gone(audio_pid, 30.0), "the audio process outlived the session"
        assert _wait_gone(int(renderers[0]), 30.0), "the render process outlived the session"
    finally:
        if session.poll() is None:
            session.kill()
            session.wait()
