"""The log keeps what the client saw: a scene that fails to compile is replaced by the safe scene on
screen, and the frame samples and the phase row name the safe scene, not the broken one. A real
windowed session under a private Xvfb (real GL), in a fresh process as the app runs."""

import sqlite3
import subprocess
import textwrap
from pathlib import Path

BROKEN_FRAG = "#version 330 core\nout vec4 c;\nuniform float u_fade;\nvoid main() { c = vec4(u_fade) * nope; }\n"
PROGRAM = textwrap.dedent("""
    [program]
    title = "Broken scene check"

    [[phase]]
    name = "settle"
    kind = "settle"
    minutes = 0.17
    scene = "tide_pool"
    posture = "prone"
    breathing = { rate_bpm = 6, ratio = 0.7 }

    [[phase]]
    name = "rest"
    kind = "cool-down"
    minutes = 0.17
    scene = "dusk_ocean"
    posture = "prone"
    breathing = { rate_bpm = 6, ratio = 0.7 }
""")


def _broken_scene_and_program(tmp_path) -> tuple[Path, Path]:
    scenes = tmp_path / "scenes"
    (scenes / "tide_pool").mkdir(parents=True)
    (scenes / "tide_pool" / "scene.toml").write_text(
        'id = "tide_pool"\ntitle = "Tide pool"\ndescription = "x"\npostures = ["prone"]\n'
    )
    (scenes / "tide_pool" / "scene.frag").write_text(BROKEN_FRAG)
    program = tmp_path / "broken.toml"
    program.write_text(PROGRAM)
    return scenes, program


def test_a_scene_that_fails_to_compile_is_logged_as_the_safe_scene_the_client_saw(
    xvfb_display, tidewell_cmd, cli_env, tmp_path
):
    scenes, program = _broken_scene_and_program(tmp_path)
    cli_env.update(DISPLAY=xvfb_display, TIDEWELL_SCENES_DIR=str(scenes))
    run = subprocess.run([*tidewell_cmd, "run", str(program)], env=cli_env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr + run.stdout
    assert run.stdout.startswith("window ") and "scene problem:" in run.stdout and "nope" in run.stdout

    with sqlite3.connect(Path(cli_env["TIDEWELL_DATA_DIR"]) / "tidewell.db") as db:
        phases = db.execute("SELECT idx, scene FROM phases ORDER BY idx").fetchall()
        first = db.execute("SELECT DISTINCT scene FROM samples WHERE phase_idx = 0").fetchall()
        crossing = db.execute(
            "SELECT DISTINCT previous_scene FROM samples WHERE phase_idx = 1 AND previous_scene IS NOT NULL"
        ).fetchall()
        second = db.execute("SELECT DISTINCT scene FROM samples WHERE phase_idx = 1").fetchall()
        problems = db.execute("SELECT detail FROM events WHERE kind = 'scene_problem'").fetchall()
    assert phases == [(0, "ember"), (1, "dusk_ocean")]  # the safe scene was shown in the settle phase
    assert first == [("ember",)]
    assert crossing == [("ember",)]  # the crossfade left the safe scene, not the broken one
    assert second == [("dusk_ocean",)]
    assert len(problems) == 1 and "tide_pool" in problems[0][0] and "showing the safe scene" in problems[0][0]


def test_without_a_window_the_broken_scene_met_by_the_contact_sheet_is_logged_too(tidewell_cmd, cli_env, tmp_path):
    """Nothing is drawn live (virtual time); the contact sheet's renderer meets the broken scene, and the
    session log says so (it used to reach only the terminal)."""
    scenes, program = _broken_scene_and_program(tmp_path)
    cli_env["TIDEWELL_SCENES_DIR"] = str(scenes)
    run = subprocess.run(
        [*tidewell_cmd, "run", str(program), "--virtual-time"], env=cli_env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr + run.stdout
    with sqlite3.connect(Path(cli_env["TIDEWELL_DATA_DIR"]) / "tidewell.db") as db:
        problems = db.execute("SELECT phase_idx, detail FROM events WHERE kind = 'scene_problem'").fetchall()
    assert len(problems) == 1 and problems[0][0] == 0 and "tide_pool" in problems[0][1]
    assert "scene problem: " in run.stdout and "showing the safe scene" in run.stdout
