"""keys.toml: the key map shared by the session window and the console (foot pedals type keys)."""

from __future__ import annotations

import pytest

from tidewell.core.keymap import DEFAULT_KEYS, KeyMapError, from_pyglet, load_keymap


def test_without_a_file_the_defaults_apply(tmp_path):
    mapping = load_keymap(tmp_path / "keys.toml")
    assert mapping["SPACE"] == "next" and mapping["PAGEDOWN"] == "next"
    assert mapping["P"] == "pause" and mapping["M"] == "marker" and mapping["ESCAPE"] == "end"
    assert set(mapping.values()) == set(DEFAULT_KEYS)


def test_a_pedal_is_set_up_by_naming_its_keys(tmp_path):
    path = tmp_path / "keys.toml"
    path.write_text('next = ["PAGEDOWN"]\nmarker = "f5"\npause = ["b", "enter"]\n')
    mapping = load_keymap(path)
    assert mapping["PAGEDOWN"] == "next" and "SPACE" not in mapping  # next's keys replaced
    assert mapping["F5"] == "marker" and mapping["B"] == "pause" and mapping["ENTER"] == "pause"
    assert mapping["ESCAPE"] == "end"  # left out: default


@pytest.mark.parametrize(
    "text,line,words",
    [
        ('next = ["SPACE"]\nskip = ["N"]\n', 2, "unknown action 'skip'"),
        ('pause = ["SPACE", "WIBBLE"]\n', 1, "unknown key 'WIBBLE'"),
        ("\nmarker = 5\n", 2, "must be a list of key names"),
        ('next = ["SPACE"\n', 1, "TOML syntax error"),
    ],
)
def test_a_bad_key_map_says_file_line_and_what(tmp_path, text, line, words):
    path = tmp_path / "keys.toml"
    path.write_text(text)
    with pytest.raises(KeyMapError) as error:
        load_keymap(path)
    assert f"{path}:{line}:" in str(error.value) and words in str(error.value)


def test_one_key_cannot_do_two_things(tmp_path):
    path = tmp_path / "keys.toml"
    path.write_text('next = ["M"]\n')  # M is also the default marker key
    with pytest.raises(KeyMapError, match="both"):
        load_keymap(path)


def test_pyglet_key_names_become_ours():
    assert from_pyglet("_1") == "1" and from_pyglet("RETURN") == "ENTER" and from_pyglet("PAGEDOWN") == "PAGEDOWN"


def test_a_bad_key_map_stops_a_windowed_run_before_it_starts(tmp_path, tidewell_cmd, cli_env, xvfb_display):
    import subprocess

    keys = tmp_path / "keys.toml"
    keys.write_text('next = ["SPACE"]\npause = ["SPACE"]\n')
    cli_env["TIDEWELL_KEYS"] = str(keys)
    cli_env["DISPLAY"] = xvfb_display
    result = subprocess.run(
        [*tidewell_cmd, "run", "--minutes", "0.1"], env=cli_env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert str(keys) in result.stderr and "both" in result.stderr and "Traceback" not in result.stderr
