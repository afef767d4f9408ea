"""Scene folders (scene.toml v2), the renderer's fallbacks and uniform bindings (real GL through
EGL), and the `scenes list / validate / render` commands."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tidewell.core.frame_state import Posture
from tidewell.engine.render.scene_states import parse_state, scene_state
from tidewell.engine.scenes_cli import scenes_list, scenes_render, scenes_validate
from tidewell.scenes.catalog import SCENES_FOLDER, SceneError, UniformBinding, available_scenes, load_scene, scan_scenes

HEAD = 'id = "{id}"\ntitle = "T"\ndescription = "x"\npostures = ["prone"]\n'
SIZE = (64, 36)
# A tiny valid scene: a flat colour set by a bound uniform, times u_fade.
GLOW_FRAG = """#version 330 core
out vec4 frag_color;
uniform float u_fade;
uniform float u_glow;
void main() { frag_color = vec4(vec3(u_glow), 1.0) * u_fade; }
"""
GLOW_TOML = HEAD + '[uniforms.u_glow]\nfield = "breath_level"\nrange = [0.2, 0.6]\ncurve = "linear"\n'


@pytest.fixture(autouse=True)
def no_user_scenes(monkeypatch):
    monkeypatch.delenv("TIDEWELL_SCENES_DIR", raising=False)


def write_scene(parent: Path, folder: str, toml: str | None = None, frag: str = "#version 330 core\n") -> Path:
    scene = parent / folder
    scene.mkdir(parents=True)
    (scene / "scene.toml").write_text(HEAD.format(id=folder) if toml is None else toml)
    (scene / "scene.frag").write_text(frag)
    return scene


def error_of(folder: Path) -> str:
    with pytest.raises(SceneError) as caught:
        load_scene(folder)
    return str(caught.value)


# -- scene.toml -------------------------------------------------------------------------------


def test_built_in_scenes_are_listed_with_their_files():
    scenes = available_scenes()
    assert {"dusk_ocean", "ember", "sea_floor", "eyes_closed", "aurora_night", "forest_canopy"} <= set(scenes)
    ocean = scenes["dusk_ocean"]
    assert ocean.postures == (Posture.SEATED, Posture.SUPINE, Posture.PRONE)
    assert ocean.title and ocean.description and ocean.source == "built-in"
    assert ocean.fragment_path.read_text().startswith("#version 330 core")
    assert Posture.PRONE in scenes["ember"].postures


def test_v2_keys_are_read(tmp_path):
    toml = HEAD.format(id="glow") + (
        'palette = ["#0B1026", "#7fd1a8"]\naudio = { wind = 0.4, drone = 0.5 }\n'
        '[uniforms.u_glow]\nfield = "hr_bpm"\nrange = [0.2, 1.0]\ncurve = "smoothstep"\ndomain = [50, 90]\n'
    )
    info = load_scene(write_scene(tmp_path, "glow", toml))
    assert info.palette == ("#0b1026", "#7fd1a8")
    assert info.audio == (("wind", 0.4), ("drone", 0.5))
    assert info.uniforms == (UniformBinding("u_glow", "hr_bpm", (0.2, 1.0), "smoothstep", (50.0, 90.0)),)


def test_binding_maps_field_through_domain_curve_and_range():
    binding = UniformBinding("u_x", "hr_bpm", (0.2, 1.0), "smoothstep", (50.0, 90.0))
    state = scene_state("ember")
    assert binding.value(state) == pytest.approx(0.2)  # hr_bpm None: the range's low end
    assert binding.value(scene_state("ember", hr_bpm=70.0)) == pytest.approx(0.6)  # smoothstep(0.5) = 0.5
    assert binding.value(scene_state("ember", hr_bpm=60.0)) == pytest.approx(0.2 + 0.8 * 0.15625)
    assert binding.value(scene_state("ember", hr_bpm=200.0)) == pytest.approx(1.0)  # clamped
    ease_in = UniformBinding("u_x", "calm", (1.0, 0.0), "ease_in")
    assert ease_in.value(scene_state("ember", calm=0.5)) == pytest.approx(0.75)  # reversed range
    ease_out = UniformBinding("u_x", "breath_level", (0.0, 2.0), "ease_out")
    assert ease_out.value(scene_state("ember", breath=0.5)) == pytest.approx(1.5)


@pytest.mark.parametrize(
    "extra, line, message",
    [
        ('colour = "red"\n', 5, "key 'colour': expected one of the known keys"),
        (
            'palette = ["#12345"]\n',
            5,
            "key 'palette': expected a list of 1 to 8 colours written \"#rrggbb\", got '#12345'",
        ),
        ("audio = { thunder = 0.4 }\n", 5, "key 'audio.thunder': expected a layer among breath, drone, ocean"),
        ("\n[audio]\nwind = 1.5\n", 7, "key 'audio.wind': expected a volume between 0 and 1, got 1.5"),
        (
            '[uniforms.u_glow]\nfield = "heartbeat"\nrange = [0, 1]\n',
            6,
            "key 'uniforms.u_glow.field': expected a float FrameState field (t_s, ",
        ),
        ('[uniforms.u_glow]\nfield = "scene"\nrange = [0, 1]\n', 6, "got 'scene'"),
        (
            '[uniforms.u_glow]\nfield = "calm"\nrange = [1]\n',
            7,
            "key 'uniforms.u_glow.range': expected [lo, hi]: two numbers, got [1]",
        ),
        (
            '[uniforms.u_glow]\nfield = "calm"\nrange = [0, 1]\ncurve = "bouncy"\n',
            8,
            "key 'uniforms.u_glow.curve': expected one of linear, smoothstep, ease_in, ease_out, got 'bouncy'",
        ),
        (
            '[uniforms.u_glow]\nfield = "pace_bpm"\nrange = [0, 1]\n',
            5,
            "key 'uniforms.u_glow.domain': expected domain = [lo, hi]: field 'pace_bpm' does not run from 0 to 1",
        ),
        (
            '[uniforms.u_glow]\nfield = "pace_bpm"\nrange = [0, 1]\ndomain = [9, 3]\n',
            8,
            "key 'uniforms.u_glow.domain': expected [lo, hi]: two numbers with lo < hi, got [9, 3]",
        ),
        (
            '[uniforms.u_glow]\nfield = "calm"\nrange = [0, 1]\nspeed = 2\n',
            8,
            "key 'uniforms.u_glow.speed': expected one of the known keys (field, range, curve, domain)",
        ),
        (
            '[uniforms.u_time]\nfield = "calm"\nrange = [0, 1]\n',
            5,
            "key 'uniforms.u_time': expected a name other than the built-in uniforms",
        ),
    ],
)
def test_bad_v2_keys_name_file_line_and_expectation(tmp_path, extra, line, message):
    folder = write_scene(tmp_path, "bad", HEAD.format(id="bad") + extra)
    error = error_of(folder)
    assert error.startswith(f"{folder / 'scene.toml'}:{line}: "), error
    assert message in error


def test_toml_syntax_error_names_file_and_line(tmp_path):
    folder = write_scene(tmp_path, "bad", 'id = "bad"\ntitle = \n')
    assert error_of(folder).startswith(f"{folder / 'scene.toml'}:2: TOML syntax error")


def test_unknown_posture_names_its_line(tmp_path):
    folder = write_scene(tmp_path, "odd", 'id = "odd"\ntitle = "Odd"\ndescription = "x"\npostures = ["standing"]\n')
    assert (
        "scene.toml:4: key 'postures': expected a non-empty list drawn from seated, supine, prone, "
        "got ['standing']" in error_of(folder)
    )


def test_missing_title_and_mismatched_id_are_reported(tmp_path):
    folder = write_scene(tmp_path, "a", 'id = "a"\ndescription = "x"\npostures = ["prone"]\n')
    assert "scene.toml:1: key 'title': expected a non-empty string" in error_of(folder)
    folder = write_scene(tmp_path, "b", 'id = "c"\ntitle = "T"\ndescription = "x"\npostures = ["prone"]\n')
    assert "scene.toml:1: key 'id': expected the folder's name 'b', got 'c'" in error_of(folder)


def test_missing_files_are_reported_without_hiding_other_scenes(tmp_path):
    write_scene(tmp_path, "fine")
    (write_scene(tmp_path, "nofrag") / "scene.frag").unlink()
    (write_scene(tmp_path, "notoml") / "scene.toml").unlink()
    scenes, errors = scan_scenes([tmp_path])
    assert "fine" in scenes and "ember" in scenes and "nofrag" not in scenes
    assert f"{tmp_path / 'nofrag' / 'scene.frag'}: missing scene.frag next to scene.toml" in errors
    assert f"{tmp_path / 'notoml'}: missing scene.toml next to scene.frag" in errors


def test_user_folders_from_environment_load_and_override_built_ins(tmp_path, monkeypatch):
    first, second = tmp_path / "one", tmp_path / "two"
    write_scene(first, "mist")
    write_scene(second, "ember", HEAD.format(id="ember").replace('"T"', '"My ember"'))
    write_scene(second, "broken", 'id = "broken"\n')
    monkeypatch.setenv("TIDEWELL_SCENES_DIR", f"{first}:{second}:{tmp_path / 'missing'}")
    scenes, errors = scan_scenes()
    assert scenes["mist"].source == "user" and scenes["mist"].folder == first / "mist"
    assert scenes["ember"].title == "My ember" and scenes["ember"].source == "user"
    assert "dusk_ocean" in scenes
    assert any(e.startswith(f"{second / 'broken' / 'scene.toml'}:1: key 'title'") for e in errors)
    assert any(e.startswith(f"{tmp_path / 'missing'}: scene folder not found") for e in errors)
    assert set(available_scenes()) == set(scenes)


# -- the renderer (real GL) ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gl():
    import moderngl

    try:
        ctx = moderngl.create_context(standalone=True, backend="egl")
    except Exception as error:
        pytest.skip(f"no EGL context: {error}")
    fbo = ctx.simple_framebuffer(SIZE)
    yield ctx, fbo
    fbo.release()
    ctx.release()


def draw(gl, renderer, state) -> np.ndarray:
    ctx, fbo = gl
    renderer.render(state, fbo, SIZE)
    return np.frombuffer(fbo.read(components=3), np.uint8).reshape(SIZE[1], SIZE[0], 3)


def reference(gl, scene_id: str, **fields) -> np.ndarray:
    from tidewell.engine.render.scene_renderer import SceneRenderer

    renderer = SceneRenderer(gl[0], available_scenes(), strict=True)
    try:
        return draw(gl, renderer, scene_state(scene_id, Posture.PRONE, **fields))
    finally:
        renderer.release()


def test_bound_uniform_follows_the_frame_state(gl, tmp_path):
    from tidewell.engine.render.scene_renderer import SceneRenderer

    folder = write_scene(tmp_path, "glow", GLOW_TOML.format(id="glow"), GLOW_FRAG)
    renderer = SceneRenderer(gl[0], {"glow": load_scene(folder)}, strict=True)
    low = draw(gl, renderer, scene_state("glow", Posture.PRONE, breath=0.0))
    high = draw(gl, renderer, scene_state("glow", Posture.PRONE, breath=1.0))
    half = draw(gl, renderer, scene_state("glow", Posture.PRONE, breath=0.5, fade=0.5))
    renderer.release()
    assert abs(int(low.mean()) - round(0.2 * 255)) <= 1
    assert abs(int(high.mean()) - round(0.6 * 255)) <= 1
    assert abs(int(half.mean()) - round(0.4 * 0.5 * 255)) <= 1


def test_broken_scene_falls_back_to_the_safe_scene_and_is_reported_once(gl, tmp_path):
    from tidewell.engine.render.scene_renderer import SceneRenderer

    frag = "#version 330 core\nout vec4 c;\nuniform float u_fade;\nvoid main() { c = vec4(u_fade) * nope; }\n"
    folder = write_scene(tmp_path, "broken", frag=frag)
    renderer = SceneRenderer(gl[0], {"broken": load_scene(folder)})
    first = draw(gl, renderer, scene_state("broken", Posture.PRONE))
    second = draw(gl, renderer, scene_state("broken", Posture.PRONE))
    assert np.array_equal(first, reference(gl, "ember"))  # the built-in ember, not black
    assert np.array_equal(second, first)
    problems = renderer.drain_problems()
    assert len(problems) == 1 and problems[0].startswith(f"{folder / 'scene.frag'}:4: ")
    assert "nope" in problems[0] and "showing the safe scene" in problems[0]
    assert renderer.scene_error("broken") == problems[0].rsplit(" (", 1)[0]
    draw(gl, renderer, scene_state("nowhere", Posture.PRONE))
    assert renderer.drain_problems() == ["unknown scene 'nowhere'; known scenes: ['broken']"]
    renderer.release()


def test_the_renderer_says_which_scene_it_drew_so_the_log_names_what_the_client_saw(gl, tmp_path):
    from dataclasses import replace

    from tidewell.engine.render.scene_renderer import NOTHING_DRAWN, SceneRenderer

    frag = "#version 330 core\nout vec4 c;\nuniform float u_fade;\nvoid main() { c = vec4(u_fade) * nope; }\n"
    broken = write_scene(tmp_path, "broken", frag=frag)
    glow = write_scene(tmp_path, "glow", GLOW_TOML.format(id="glow"), GLOW_FRAG)
    renderer = SceneRenderer(gl[0], {"broken": load_scene(broken), "glow": load_scene(glow)})
    asked = scene_state("broken", Posture.PRONE)
    assert renderer.as_drawn(asked) is asked  # nothing drawn yet: nothing to say
    pixels = draw(gl, renderer, asked)
    assert np.array_equal(pixels, reference(gl, "ember"))
    shown = renderer.as_drawn(asked)
    assert (shown.scene, shown.previous_scene) == ("ember", None)
    assert replace(shown, scene="broken") == asked  # only the scene differs
    good = scene_state("glow", Posture.PRONE)
    draw(gl, renderer, good)
    assert renderer.as_drawn(good) is good
    crossing = replace(good, previous_scene="broken", crossfade=0.5)  # a crossfade out of the broken scene
    draw(gl, renderer, crossing)
    assert (renderer.as_drawn(crossing).scene, renderer.as_drawn(crossing).previous_scene) == ("glow", "ember")
    renderer.release()

    safe_missing = SceneRenderer(gl[0], {"broken": load_scene(broken)})
    safe_missing._fallback = load_scene(write_scene(tmp_path / "safe", "ember", frag=frag))  # not even it compiles
    draw(gl, safe_missing, asked)
    assert safe_missing.as_drawn(asked).scene == NOTHING_DRAWN
    safe_missing.release()


def test_failed_reload_keeps_the_last_good_program(gl, tmp_path):
    from tidewell.engine.render.scene_renderer import SceneRenderer

    folder = write_scene(tmp_path, "glow", GLOW_TOML.format(id="glow"), GLOW_FRAG)
    renderer = SceneRenderer(gl[0], {"glow": load_scene(folder)})
    good = draw(gl, renderer, scene_state("glow", Posture.PRONE, breath=1.0))
    (folder / "scene.frag").write_text(GLOW_FRAG.replace("vec3(u_glow)", "vec3(u_glow) + missing"))
    renderer.forget_programs()
    kept = draw(gl, renderer, scene_state("glow", Posture.PRONE, breath=1.0))
    assert np.array_equal(kept, good)
    assert renderer.scene_error("glow").startswith(f"{folder / 'scene.frag'}:5: ")
    assert "keeping its last good version" in renderer.drain_problems()[0]
    (folder / "scene.frag").write_text(GLOW_FRAG.replace("vec3(u_glow)", "vec3(u_glow, 0.0, 0.0)"))
    renderer.forget_programs()
    fixed = draw(gl, renderer, scene_state("glow", Posture.PRONE, breath=1.0))
    assert fixed[..., 0].mean() == pytest.approx(good[..., 0].mean(), abs=1) and fixed[..., 1].max() == 0
    assert renderer.scene_error("glow") is None and renderer.drain_problems() == []
    renderer.release()


def test_strict_renderer_raises_with_file_and_line(gl, tmp_path):
    from tidewell.engine.render.scene_renderer import SceneRenderer

    folder = write_scene(tmp_path, "broken", frag="#version 330 core\nvoid main() { x = 1; }\n")
    renderer = SceneRenderer(gl[0], {"broken": load_scene(folder)}, strict=True)
    with pytest.raises(SceneError, match=rf"^{folder / 'scene.frag'}:2: "):
        draw(gl, renderer, scene_state("broken"))
    with pytest.raises(SceneError, match="unknown scene 'nowhere'"):
        draw(gl, renderer, scene_state("nowhere"))


# -- scenes list / validate / render ------------------------------------------------------------


def test_parse_state():
    assert parse_state("calm=0.8, breath=0.3,t=4") == {"calm": 0.8, "breath_level": 0.3, "t_s": 4.0}
    for bad, message in (
        ("calm", "name=value"),
        ("mood=1", "unknown field 'mood'"),
        ("calm=hi", "expected a number"),
        ("calm=nan", "calm expected a number from -1e"),
        ("calm=nan", "got .nan."),
        ("t=inf", "t_s expected a number"),
        ("breath=1e300", "got '1e300'"),
    ):
        with pytest.raises(ValueError, match=message):
            parse_state(bad)


def test_scenes_list_shows_built_in_and_user_scenes(tmp_path, monkeypatch, capsys):
    write_scene(tmp_path, "mist", HEAD.format(id="mist") + 'palette = ["#aabbcc"]\n')
    monkeypatch.setenv("TIDEWELL_SCENES_DIR", str(tmp_path))
    assert scenes_list() == (1 if scan_scenes()[1] else 0)  # 1 only while a built-in folder is half-written
    out = capsys.readouterr().out.splitlines()
    ember = next(line for line in out if line.startswith("ember "))
    assert "Ember" in ember and "prone,supine,seated" in ember and ember.endswith("built-in")
    mist = next(line for line in out if line.startswith("mist "))
    assert "#aabbcc" in mist and mist.endswith(f"user: {tmp_path / 'mist'}")
    (tmp_path / "mist" / "scene.frag").unlink()
    assert scenes_list() == 1
    assert "missing scene.frag" in capsys.readouterr().err


def test_validate_accepts_the_shipped_scenes(gl, capsys):
    folders = [SCENES_FOLDER / "ember", SCENES_FOLDER / "dusk_ocean"]
    for folder in folders:
        assert scenes_validate(folder) == 0
    out = capsys.readouterr().out
    assert "ok  ember" in out and "ok  dusk_ocean" in out


def test_validate_reports_each_problem_with_file_and_line(gl, tmp_path, capsys):
    write_scene(tmp_path, "glow", GLOW_TOML.format(id="glow"), GLOW_FRAG)
    write_scene(tmp_path, "unused", GLOW_TOML.format(id="unused"), GLOW_FRAG.replace("vec3(u_glow)", "vec3(0.5)"))
    write_scene(
        tmp_path,
        "nofade",
        frag="#version 330 core\nout vec4 c;\nuniform float u_fade;\n"
        "void main() { c = vec4(0.5, 0.5, 0.5, u_fade); }\n",
    )
    write_scene(
        tmp_path,
        "black",
        frag="#version 330 core\nout vec4 c;\nuniform float u_fade;\n"
        "void main() { c = vec4(vec3(0.0), 1.0) * u_fade; }\n",
    )
    write_scene(tmp_path, "syntax", frag="#version 330 core\nout vec4 c;\nuniform float u_fade;\nvoid main() { c = }\n")
    write_scene(tmp_path, "badtoml", 'id = "badtoml"\ntitle = "T"\ndescription = "x"\npostures = ["prone"]\nfoo = 1\n')
    assert scenes_validate(tmp_path) == 1
    out = capsys.readouterr().out
    assert "ok  glow" in out
    assert f"{tmp_path / 'unused' / 'scene.toml'}:5: key 'uniforms.u_glow': expected a float uniform u_glow" in out
    assert f"{tmp_path / 'nofade' / 'scene.frag'}:1: prone: the frame is not black at u_fade = 0" in out
    assert f"{tmp_path / 'black' / 'scene.frag'}:1: prone: the frame is black at u_fade = 1" in out
    assert f"{tmp_path / 'syntax' / 'scene.frag'}:4: " in out
    assert f"{tmp_path / 'badtoml' / 'scene.toml'}:5: key 'foo'" in out
    assert scenes_validate(tmp_path / "nothing") == 1
    assert "nothing: no such folder" in capsys.readouterr().out


def test_render_writes_the_requested_frame(gl, tmp_path, capsys):
    out = tmp_path / "ember.png"
    assert scenes_render("ember", out, "calm=0.2,breath=1.0", "prone", "both", "96x54") == 0
    both = np.asarray(Image.open(out).convert("RGB"))
    assert both.shape == (54, 192, 3)
    left, right = both[:, :96].astype(int), both[:, 96:].astype(int)
    assert left.mean() > 1 and np.abs(left - right).mean() > 0.05  # two eyes, two viewpoints
    assert scenes_render("ember", out, "breath=0", "prone", "left", "96x54") == 0
    dimmer = np.asarray(Image.open(out).convert("RGB")).astype(int)
    assert dimmer.shape == (54, 96, 3) and dimmer.mean() < left.mean()  # the orb swells with breath
    for args, message in (
        (("nowhere", out), "unknown scene 'nowhere'"),
        (("ember", out, "mood=1"), "unknown field 'mood'"),
        (("ember", out, None, "standing"), "--posture: expected one of seated, supine, prone"),
        (("ember", out, None, None, "third"), "--eye: expected one of center, left, right, both"),
        (("ember", out, None, None, "left", "big"), "--size: expected WIDTHxHEIGHT"),
    ):
        assert scenes_render(*args) == 1
        assert message in capsys.readouterr().err


# -- scenes preview (a real window under Xvfb, in a fresh process) -------------------------------------

PREVIEW_CHECK = """
import json, sys
from pathlib import Path
import numpy as np
from tidewell.engine.render.preview import ScenePreview  # first: it turns pyglet's GL error checks off
from pyglet.window import key

folder = Path(sys.argv[1])
frag = folder / "scene.frag"
good_source = frag.read_text()
preview = ScenePreview(folder, (320, 180), clock=lambda: 10.0, poll_interval_s=0.0)

def frame():
    preview.draw()
    shown, scene = preview.read_screen(), preview.read_scene()
    preview.flip()
    return shown, scene

good_shown, good = frame()
lines = good_source.splitlines()
lines.insert(29, "float broken_here = no_such_name;")  # becomes line 30
frag.write_text("\\n".join(lines) + "\\n")
broken_shown, broken = frame()
broken_error = preview.error
top, bottom = preview.overlay_rows
frag.write_text(good_source.replace("col = 1.0 - exp(-col * 1.2);", "col = 1.0 - exp(-col * 3.0);"))
fixed_shown, fixed = frame()
fixed_error = preview.error
(folder / "scene.toml").write_text((folder / "scene.toml").read_text() + "glow = 1\\n")
toml_shown, toml_scene = frame()
toml_error = preview.error
for symbol in (key._3, key.B):
    preview.window.dispatch_event("on_key_press", symbol, 0)
preview.window.dispatch_events()
posture, auto = preview.posture.value, preview.auto_breath
preview.close()
print(json.dumps(dict(
    good_mean=float(good.mean()), good_top=float(good_shown[:40].mean()),
    broken_same=bool(np.array_equal(broken, good)), broken_error=broken_error,
    broken_top_change=float(np.abs(broken_shown[:top].astype(int) - good_shown[:top]).mean()),
    free_rows=180 - top - bottom, broken_top=top,
    broken_middle_same=bool(np.array_equal(broken_shown[top:180 - bottom], good_shown[top:180 - bottom])),
    fixed_error=fixed_error, fixed_change=float(np.abs(fixed.astype(int) - good).mean()),
    toml_error=toml_error, toml_same=bool(np.array_equal(toml_scene, fixed)),
    posture=posture, auto=auto,
)))
"""


def test_preview_keeps_last_good_scene_and_shows_errors(xvfb_display, tmp_path):
    import json
    import subprocess
    import sys

    folder = tmp_path / "ember"
    shutil.copytree(SCENES_FOLDER / "ember", folder)
    result = subprocess.run(
        [sys.executable, "-c", PREVIEW_CHECK, str(folder)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    r = json.loads(result.stdout.strip().splitlines()[-1])
    assert r["good_mean"] > 2
    assert r["broken_same"]  # the last good scene is still what is drawn...
    assert r["free_rows"] >= 20 and r["broken_middle_same"]  # ...and shown, outside the text panels
    assert r["broken_error"].startswith(f"{folder / 'scene.frag'}:30: ") and "no_such_name" in r["broken_error"]
    assert r["broken_top_change"] > 3  # the error panel is drawn over the top of the window
    assert f"error: {folder / 'scene.frag'}:30: " in result.stderr
    assert r["fixed_error"] is None and r["fixed_change"] > 2  # the fix shows at once
    bad_line = len((folder / "scene.toml").read_text().splitlines())  # the appended 'glow = 1'
    assert r["toml_error"].startswith(f"{folder / 'scene.toml'}:{bad_line}: key 'glow': expected one of the known keys")
    assert r["toml_same"]
    assert r["posture"] == "prone" and r["auto"] is False


def test_preview_runs_frames_and_refuses_bad_input(xvfb_display, tmp_path):
    import subprocess
    import sys

    code = (
        "import sys; from tidewell.engine.render.preview import scenes_preview; "
        "sys.exit(scenes_preview(sys.argv[1], '160x90', frames=3))"
    )
    run = subprocess.run([sys.executable, "-c", code, "ember"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "Keys: C / V sweep calm" in run.stderr
    run = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "nowhere")], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 1 and "unknown scene" in run.stderr


@pytest.mark.parametrize(
    "extra,line,message",
    [
        ("render_scale = nan\n", 5, "key 'render_scale': expected a number from 0.25 to 1.0, got nan"),
        ("render_scale = inf\n", 5, "key 'render_scale': expected a number from 0.25 to 1.0, got inf"),
        ("audio = { wind = nan }\n", 5, "key 'audio.wind': expected a volume between 0 and 1, got nan"),
        (
            '[uniforms.u_glow]\nfield = "calm"\nrange = [0, 1e300]\n',
            7,
            "key 'uniforms.u_glow.range': expected [lo, hi] within -1e+06 to 1e+06, got [0, 1e+300]",
        ),
        (
            '[uniforms.u_glow]\nfield = "pace_bpm"\nrange = [0, 1]\ndomain = [nan, 1]\n',
            8,
            "key 'uniforms.u_glow.domain': expected [lo, hi]: two numbers with lo < hi, got [nan, 1]",
        ),
        (
            '[uniforms.u_glow]\nfield = "pace_bpm"\nrange = [0, 1]\ndomain = [0, ' + "9" * 400 + "]\n",
            8,
            "key 'uniforms.u_glow.domain': expected [lo, hi]: two numbers with lo < hi",
        ),
    ],
)
def test_scene_numbers_must_be_finite_and_bounded(tmp_path, extra, line, message):
    folder = write_scene(tmp_path, "bad", HEAD.format(id="bad") + extra)
    error = error_of(folder)
    assert error.startswith(f"{folder / 'scene.toml'}:{line}: "), error
    assert message in error


def test_scene_toml_nested_thousands_deep_is_one_message(tmp_path):
    folder = write_scene(tmp_path, "deep", HEAD.format(id="deep") + "x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert (
        error_of(folder) == f"{folder / 'scene.toml'}: too deeply nested (arrays or tables inside each other "
        "thousands deep)"
    )
