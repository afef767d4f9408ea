"""Programs: the shipped ones load, and malformed files give one precise message each."""

import subprocess
import sys

import pytest

from tidewell.sessions.program import Advance, PhaseKind, ProgramError, builtin_programs, load_program, resolve_program

SCENES = {"dusk_ocean", "ember", "sea_floor", "eyes_closed", "aurora_night", "forest_canopy"}

GOOD_PHASE = """
[[phase]]
name = "settle"
kind = "settle"
minutes = 5
scene = "ember"
posture = "prone"
breathing = { rate_bpm = 10, ratio = 0.7 }
"""
HEADER = '[program]\ntitle = "Test"\n'


def write(tmp_path, text, name="p.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_every_builtin_program_loads_with_every_phase_kind_in_the_taster():
    programs = builtin_programs()
    assert {"taster", "full_body_60", "back_neck_30", "gentle_post_surgical_45"} <= set(programs)
    for path in programs.values():
        program = load_program(path)
        assert program.phases
    taster = load_program(programs["taster"])
    assert {p.kind for p in taster.phases} == set(PhaseKind)
    assert 2.5 <= taster.minutes <= 3.5
    assert load_program(programs["full_body_60"]).minutes == pytest.approx(60)


def test_phase_fields_are_read():
    program = load_program(resolve_program("full_body_60"))
    turn = next(p for p in program.phases if p.kind is PhaseKind.TURN_OVER)
    assert turn.advance is Advance.THERAPIST
    assert turn.posture.value == "supine"
    release = next(p for p in program.phases if p.kind is PhaseKind.RELEASE)
    assert release.breathing.rate_bpm == pytest.approx(6.0)
    assert release.breathing.inhale_s / release.breathing.exhale_s == pytest.approx(0.42)


def test_explicit_breathing_pattern_and_scaling(tmp_path):
    text = HEADER + GOOD_PHASE.replace("{ rate_bpm = 10, ratio = 0.7 }", "{ inhale_s = 4, hold_s = 1, exhale_s = 6 }")
    program = load_program(write(tmp_path, text), SCENES)
    b = program.phases[0].breathing
    assert (b.inhale_s, b.hold_in_s, b.exhale_s, b.hold_out_s) == (4, 1, 6, 0)
    assert program.scaled_to(2.5).phases[0].minutes == pytest.approx(2.5)


BAD_CASES = [
    # (name, text, line, words the message must contain)
    ("toml syntax", HEADER + GOOD_PHASE + "name = \n", 11, ["TOML syntax"]),
    ("unknown phase key", HEADER + GOOD_PHASE + 'colour = "blue"\n', 11, ["colour", "known keys"]),
    ("unknown top key", "extra = 1\n" + HEADER + GOOD_PHASE, 1, ["extra"]),
    ("wrong type minutes", HEADER + GOOD_PHASE.replace("minutes = 5", 'minutes = "five"'), 7, ["minutes", "number"]),
    (
        "negative minutes",
        HEADER + GOOD_PHASE.replace("minutes = 5", "minutes = -5"),
        7,
        ["minutes", "from 0.1667 (10 s) to 240 (4 h)", "-5"],
    ),
    (
        "unknown scene",
        HEADER + GOOD_PHASE.replace('scene = "ember"', 'scene = "volcano"'),
        8,
        ["scene", "volcano", "dusk_ocean"],
    ),
    ("empty phase list", HEADER, 1, ["at least one [[phase]]"]),
    ("unknown posture", HEADER + GOOD_PHASE.replace('"prone"', '"sideways"'), 9, ["posture", "seated, supine, prone"]),
    ("unknown kind", HEADER + GOOD_PHASE.replace('kind = "settle"', 'kind = "nap"'), 6, ["kind", "deep-work"]),
    ("bool as number", HEADER + GOOD_PHASE.replace("minutes = 5", "minutes = true"), 7, ["minutes"]),
    (
        "breathing rate too fast",
        HEADER + GOOD_PHASE.replace("rate_bpm = 10", "rate_bpm = 40"),
        10,
        ["rate_bpm", "<= 20"],
    ),
    ("breathing not a table", HEADER + GOOD_PHASE.replace("{ rate_bpm = 10, ratio = 0.7 }", "6"), 10, ["breathing"]),
    ("unknown audio layer", HEADER + GOOD_PHASE + "audio = { thunder = 1.0 }\n", 11, ["thunder", "drone"]),
    ("audio volume too loud", HEADER + GOOD_PHASE + "audio = { drone = 3 }\n", 11, ["drone", "between 0 and 1"]),
    ("missing title", GOOD_PHASE.replace("[[phase]]", '[program]\ndescription = "x"\n[[phase]]'), 1, ["title"]),
    ("missing name", HEADER + GOOD_PHASE.replace('name = "settle"\n', ""), 4, ["name"]),
    (
        "second phase bad",
        HEADER + GOOD_PHASE + GOOD_PHASE.replace("minutes = 5", "minutes = 0"),
        15,
        ["phase 2", "minutes"],
    ),
    ("negative crossfade", HEADER + GOOD_PHASE + "crossfade_s = -1\n", 11, ["crossfade_s"]),
    ("bad advance", HEADER + GOOD_PHASE + 'advance = "whenever"\n', 11, ["advance", "timer, therapist"]),
]


@pytest.mark.parametrize("name,text,line,words", BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_malformed_program_gives_file_line_and_expectation(tmp_path, name, text, line, words):
    path = write(tmp_path, text)
    with pytest.raises(ProgramError) as info:
        load_program(path, SCENES)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}:"), message
    for word in words:
        assert word in message, message


def test_missing_file_and_unknown_program(tmp_path):
    with pytest.raises(ProgramError, match="no such program file"):
        load_program(tmp_path / "nope.toml", SCENES)
    with pytest.raises(ProgramError, match="unknown program 'nap'.*taster"):
        resolve_program("nap")


def test_cli_validate_reports_one_line_and_nonzero_exit_without_traceback(tmp_path):
    path = write(tmp_path, HEADER + GOOD_PHASE.replace("minutes = 5", "minutes = -2"))
    result = subprocess.run(
        [sys.executable, "-m", "tidewell.engine.cli", "programs", "validate", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"{path}:7:" in result.stderr and "minutes" in result.stderr
    run = subprocess.run(
        [sys.executable, "-m", "tidewell.engine.cli", "run", str(path), "--virtual-time"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert run.returncode == 2
    assert "Traceback" not in run.stderr and f"{path}:7:" in run.stderr
    good = subprocess.run(
        [sys.executable, "-m", "tidewell.engine.cli", "programs", "validate", str(resolve_program("taster"))],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert good.returncode == 0 and "ok" in good.stdout


NUMBER_CASES = [
    # (name, replacement of "minutes = 5" or an added line, line, words)
    ("infinite minutes", ("minutes = 5", "minutes = inf"), 7, ["minutes", "to 240 (4 h)", "inf"]),
    ("nan minutes", ("minutes = 5", "minutes = nan"), 7, ["minutes", "nan"]),
    ("astronomical minutes", ("minutes = 5", "minutes = 1e300"), 7, ["minutes", "1e+300"]),
    ("integer beyond any float", ("minutes = 5", "minutes = " + "9" * 400), 7, ["minutes", "to 240 (4 h)"]),
    ("phase shorter than 10 s", ("minutes = 5", "minutes = 0.1"), 7, ["minutes", "(10 s)", "0.1"]),
    ("nan breathing rate", ("rate_bpm = 10", "rate_bpm = nan"), 10, ["rate_bpm", "nan"]),
    ("infinite ratio", ("ratio = 0.7", "ratio = inf"), 10, ["ratio", "inf"]),
    (
        "nan hold",
        ("{ rate_bpm = 10, ratio = 0.7 }", "{ inhale_s = 4, hold_s = nan, exhale_s = 6 }"),
        10,
        ["hold_s", "nan"],
    ),
    ("infinite crossfade", (None, "crossfade_s = inf"), 11, ["crossfade_s", "inf"]),
    ("nan volume", (None, "audio = { drone = nan }"), 11, ["drone", "between 0 and 1"]),
    ("nan alert", (None, "[alerts]\nhr_rise_bpm = nan"), 12, ["hr_rise_bpm"]),
]


@pytest.mark.parametrize("name,change,line,words", NUMBER_CASES, ids=[c[0] for c in NUMBER_CASES])
def test_numbers_must_be_finite_and_within_bounds(tmp_path, name, change, line, words):
    old, new = change
    text = HEADER + (GOOD_PHASE.replace(old, new) if old else GOOD_PHASE + new + "\n")
    with pytest.raises(ProgramError) as info:
        load_program(write(tmp_path, text), SCENES)
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'p.toml'}:{line}:"), message
    for word in words:
        assert word in message, message


def test_a_program_lasts_at_most_four_hours_in_all(tmp_path):
    long_phase = GOOD_PHASE.replace("minutes = 5", "minutes = 100")
    path = write(tmp_path, HEADER + long_phase * 3)
    with pytest.raises(ProgramError) as info:
        load_program(path, SCENES)
    assert str(info.value).startswith(f"{path}:4: the phases add up to 300 minutes") and "4 h" in str(info.value)
    assert load_program(write(tmp_path, HEADER + long_phase * 2), SCENES).minutes == 200


def test_scaling_takes_only_finite_lengths_up_to_four_hours():
    program = load_program(resolve_program("taster"), SCENES)
    for minutes in (float("inf"), float("nan"), 1e300, 0.0, -1.0, 241.0, 0.01):
        with pytest.raises(ProgramError, match="from 0.05 to 240"):
            program.scaled_to(minutes)
    assert program.scaled_to(240).minutes == pytest.approx(240)


def test_toml_nested_thousands_deep_is_one_message_not_a_recursion_traceback(tmp_path):
    path = write(tmp_path, HEADER + "x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(ProgramError, match=rf"^{path}: too deeply nested"):
        load_program(path, SCENES)
    result = subprocess.run(
        [sys.executable, "-m", "tidewell.engine.cli", "programs", "validate", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"{path}: too deeply nested (arrays or tables inside each other thousands deep)"


def test_a_scene_in_a_posture_its_scene_toml_does_not_list_is_refused_with_its_line(tmp_path):
    # aurora_night lists supine and seated: face-down, the client would look into the ground
    path = write(tmp_path, HEADER + GOOD_PHASE.replace('scene = "ember"', 'scene = "aurora_night"'))
    result = subprocess.run(
        [sys.executable, "-m", "tidewell.engine.cli", "programs", "validate", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        f"{path}:9: phase 1 ('settle'), key 'posture': expected a posture scene "
        "'aurora_night' lists in its scene.toml (supine, seated), got 'prone'"
    )
    path.write_text(
        HEADER + GOOD_PHASE.replace('scene = "ember"', 'scene = "aurora_night"').replace('"prone"', '"supine"')
    )
    ok = subprocess.run(
        [sys.executable, "-m", "tidewell.engine.cli", "programs", "validate", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert ok.returncode == 0, ok.stderr
