"""The one key-to-line lookup the program, scene and key-map validators share (core/toml_file.py)."""

from __future__ import annotations

import pytest

from tidewell.core.keymap import KeyMapError, load_keymap
from tidewell.core.toml_file import array_headers, key_line, section_end, table_header

TEXT = """\
title = "x"
"quoted" = 1
[[phase]]
name = "settle"
audio = { wind = 2, drone = 1 }
[[phase]]
name = "warm-up"
minutes = 5
[uniforms.u_glow]
from = "calm"
[ "sound" ]
swell = "slow"
"""
LINES = TEXT.splitlines()


def test_key_line_finds_bare_quoted_and_inline_keys_within_a_range():
    assert key_line(LINES, "title") == 1
    assert key_line(LINES, "quoted") == 2
    assert key_line(LINES, "drone") == 5  # inside an inline table
    assert key_line(LINES, "name") == 4  # the first one
    assert key_line(LINES, "name", 5, 8) == 7  # the second phase's
    assert key_line(LINES, "minutes", 0, 5) is None
    assert key_line(LINES, "nowhere") is None
    assert key_line(LINES, "ame") is None and key_line(LINES, "titl") is None  # whole keys only


def test_table_headers_and_where_their_keys_end():
    assert array_headers(LINES, "phase") == [2, 5]
    assert table_header(LINES, "uniforms.u_glow") == 8
    assert table_header(LINES, "sound") == 10  # spaces and quotes in the header are ignored
    assert table_header(LINES, "phase") is None  # an array of tables is not a [table]
    assert section_end(LINES, 3) == 5 and section_end(LINES, 11) == len(LINES)


def test_a_key_map_error_names_the_line_of_a_quoted_key(tmp_path):
    keys = tmp_path / "keys.toml"
    keys.write_text('next = ["SPACE"]\n\n"pause" = ["NOPE"]\n')
    with pytest.raises(KeyMapError, match=rf"^{keys}:3: unknown key 'NOPE' for pause"):
        load_keymap(keys)
