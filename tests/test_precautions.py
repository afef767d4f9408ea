"""Intake precautions: each one's rules applied to programs, refusals with their reason, and a real
logged session of a client with precautions (SQLite log, simulated heart, virtual time)."""

import pytest

from tidewell.engine.session import RunOptions, run_session
from tidewell.scenes.catalog import available_scenes
from tidewell.sessions.adaptation import AdaptivePace, CalmEstimator
from tidewell.sessions.precaution_list import PRECAUTIONS, PrecautionError, checked_precautions
from tidewell.sessions.precautions import PrecautionRefusal, apply_precautions, eyes_closed_variant
from tidewell.sessions.program import Pace, load_program, resolve_program
from tidewell.sessions.store import SessionStore

SCENES = available_scenes()


def program(name):
    return load_program(resolve_program(name))


def applied(name, *precautions):
    return apply_precautions(program(name), precautions, SCENES)


def test_the_list_is_fixed_and_an_unknown_name_is_refused_with_the_known_ones():
    assert checked_precautions(["respiratory", "photosensitive", "respiratory"]) == ("photosensitive", "respiratory")
    with pytest.raises(PrecautionError, match="unknown precaution 'asthma': expected one of photosensitive"):
        checked_precautions(["asthma"])
    for precaution in PRECAUTIONS.values():
        assert precaution.rule and precaution.label


@pytest.mark.parametrize(
    "precaution,tag",
    [
        ("fear_of_water", "water"),
        ("fear_of_dark", "dark"),
        ("fear_of_heights", "heights"),
        ("photosensitive", "patterned"),
    ],
)
def test_a_feared_scene_is_replaced_by_an_untagged_one_for_the_same_posture(precaution, tag):
    original = program("full_body_60")
    result = applied("full_body_60", precaution)
    assert any(tag in SCENES[p.scene].tags for p in original.phases), "the program should show the feared thing"
    for before, after in zip(original.phases, result.program.phases):
        assert tag not in SCENES[after.scene].tags
        assert after.posture in SCENES[after.scene].postures
        if after.scene != before.scene:
            assert any(f"scene {before.scene} ({tag}) replaced by {after.scene}" in c for c in result.changes)


def test_replacements_avoid_every_precautions_tags_at_once():
    result = applied("full_body_60", "fear_of_water", "fear_of_dark", "hearing_impaired")
    for phase in result.program.phases:
        assert not {"water", "dark", "audio_led"} & set(SCENES[phase.scene].tags), phase


def test_no_safe_scene_for_a_posture_refuses_the_program_with_the_reason():
    only_water = {k: v for k, v in SCENES.items() if k in ("sea_floor", "dusk_ocean")}
    with pytest.raises(PrecautionRefusal, match=r"phase 2 \('warm-up: back'\) cannot be shown safely.*shows water"):
        apply_precautions(program("back_neck_30"), ["fear_of_water"], only_water)


@pytest.mark.parametrize("precaution", ["respiratory", "pregnancy", "post_surgical"])
def test_breathing_never_below_six_no_holds_and_a_gentle_ratio(precaution):
    result = applied("full_body_60", precaution)
    for phase in result.program.phases:
        pattern = phase.breathing
        assert pattern.rate_bpm >= 6.0 - 1e-9
        assert pattern.hold_in_s == 0 and pattern.hold_out_s == 0
        assert pattern.exhale_s <= 1.5 * pattern.inhale_s + 1e-9
    assert result.program.rules.pace_floor_bpm == 6.0
    assert any("breathing" in c and "->" in c for c in result.changes)


def test_a_resonance_assessment_is_refused_where_its_slow_pace_or_its_hrv_is_unsafe():
    with pytest.raises(PrecautionRefusal, match="breathes as slowly as 4.5/min by design"):
        applied("resonance_assessment", "respiratory")
    with pytest.raises(PrecautionRefusal, match="chooses a pace from HRV, which is not interpretable"):
        applied("resonance_assessment", "arrhythmia_or_pacemaker")
    assert applied("resonance_assessment", "fear_of_heights").program.phases  # others let it play


@pytest.mark.parametrize("precaution", ["arrhythmia_or_pacemaker", "beta_blockers"])
def test_heart_rate_adaptation_off_and_hrv_marked_not_interpretable(precaution):
    result = applied("back_neck_30", precaution)
    assert all(phase.pace is Pace.FIXED for phase in result.program.phases)
    assert not result.program.rules.adapt_to_heart
    assert result.program.rules.hrv_note and not result.program.rules.hrv_interpretable


def test_motion_sickness_stills_the_scenes_and_lengthens_crossfades():
    original = program("back_neck_30")
    result = applied("back_neck_30", "motion_sickness")
    assert result.program.rules.scene_motion is False
    for before, after in zip(original.phases, result.program.phases):
        assert after.crossfade_s == max(2 * before.crossfade_s, 20.0)


def test_hearing_and_vision_choose_the_guidance():
    assert applied("taster", "hearing_impaired").program.rules.guidance == "visual"
    low_vision = applied("full_body_60", "low_vision")
    assert low_vision.program.rules.guidance == "audio"
    assert all(dict(p.audio).get("breath", 0) >= 0.8 for p in low_vision.program.phases)
    assert applied("taster", "hearing_impaired", "low_vision").program.rules.guidance == "both"
    assert applied("taster", "photosensitive").program.rules.comfort == "photosensitive"


def test_without_precautions_the_program_is_unchanged():
    original = program("full_body_60")
    result = apply_precautions(original, [], SCENES)
    assert result.program.phases == original.phases and result.changes == ()


def test_the_floor_holds_while_the_guide_follows_a_slow_breathing_client():
    pace = AdaptivePace(6.0, floor_bpm=6.0)
    for _ in range(600):
        pace.follow_client(0.1, 3.5)
        pace.toward(0.1, 4.0, hr_rising=False)
    assert pace.rate == pytest.approx(6.0)
    free = AdaptivePace(6.0)
    for _ in range(1200):
        free.follow_client(0.1, 4.5)
    assert free.rate < 5.0  # without a floor it follows the client down


def test_a_clients_session_is_played_and_logged_as_the_precautions_require(tmp_path):
    store = SessionStore(tmp_path / "tidewell.db")
    store.set_intake("C-12", ["fear_of_water", "respiratory", "beta_blockers", "motion_sickness"], ["sleep better"])
    states, lines = [], []
    options = RunOptions(
        client="C-12", virtual_time=True, headless=True, seed=4, say=lines.append, on_frame=states.append
    )
    result = run_session(program("back_neck_30").scaled_to(3.0), options, store)
    session_id = result.session_id
    for phase in store.phases(session_id):
        assert "water" not in SCENES[phase["scene"]].tags, phase["scene"]
    samples = store.samples(session_id)
    assert min(s["pace_bpm"] for s in samples) >= 6.0 - 1e-6
    assert [s["calm"] for s in samples] == pytest.approx([CalmEstimator().neutral] * len(samples))  # no adaptation
    assert all(not s.scene_motion for s in states)
    logged = [e["detail"] for e in store.events(session_id) if e["kind"] == "precaution"]
    assert any(d.startswith("fear_of_water: phase 2") for d in logged)
    assert any(d.startswith("beta_blockers: heart-rate adaptation off") for d in logged)
    assert any("motion_sickness" in line for line in lines)  # the terminal says so too


def test_a_refused_program_logs_nothing(tmp_path):
    store = SessionStore(tmp_path / "tidewell.db")
    store.set_intake("C-13", ["pregnancy"])
    options = RunOptions(client="C-13", virtual_time=True, headless=True, say=lambda _: None)
    with pytest.raises(PrecautionRefusal, match="pregnancy"):
        run_session(program("resonance_assessment"), options, store)
    assert store.sessions() == []


def test_the_eyes_closed_variant_shows_every_phase_in_the_eyes_closed_scene_and_precautions_still_win():
    variant = eyes_closed_variant(program("full_body_60"))
    assert {p.scene for p in variant.phases} == {"eyes_closed"}
    heard_guide_avoided = apply_precautions(variant, ["hearing_impaired"], SCENES).program
    assert "eyes_closed" not in {p.scene for p in heard_guide_avoided.phases}


def test_a_session_asked_for_eyes_closed_logs_every_phase_in_that_scene(tmp_path):
    store = SessionStore(tmp_path / "tidewell.db")
    options = RunOptions(client="C-14", virtual_time=True, headless=True, say=lambda _: None, eyes_closed=True)
    result = run_session(program("taster").scaled_to(1.0), options, store)
    assert {phase["scene"] for phase in store.phases(result.session_id)} == {"eyes_closed"}
