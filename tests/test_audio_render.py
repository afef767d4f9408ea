"""`tidewell audio render`: a program's sound offline, identical for identical input and seed."""

import subprocess
import wave

import numpy as np


def read(path):
    with wave.open(str(path)) as w:
        return w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, w.getnchannels())


def test_render_is_reproducible_and_follows_the_program(tidewell_cmd, cli_env, tmp_path):
    outs = {}
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        outs[name] = tmp_path / f"{name}.wav"
        result = subprocess.run(
            [
                *tidewell_cmd,
                "audio",
                "render",
                "taster",
                "--minutes",
                "1",
                "--seed",
                str(seed),
                "--rate",
                "24000",
                "--out",
                str(outs[name]),
            ],
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
    assert outs["a"].read_bytes() == outs["b"].read_bytes()
    assert outs["a"].read_bytes() != outs["c"].read_bytes()
    rate, samples = read(outs["a"])
    assert rate == 24000 and abs(len(samples) / rate - 60) < 0.1  # the fade to silence ends with the program
    assert np.abs(samples[-100:]).max() < 20 and np.abs(samples).max() > 1000


def test_render_from_a_replayed_rr_file_and_bad_input(tidewell_cmd, cli_env, tmp_path):
    csv = tmp_path / "rr.csv"
    csv.write_text("t_s,rr_ms\n" + "\n".join(f"{0.8 * (i + 1):.2f},800" for i in range(100)) + "\nbad,row\n")
    out = tmp_path / "r.wav"
    result = subprocess.run(
        [
            *tidewell_cmd,
            "audio",
            "render",
            "back_neck_30",
            "--minutes",
            "0.5",
            "--sensor",
            f"replay:{csv}",
            "--out",
            str(out),
        ],
        env=cli_env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert f"{csv}:102:" in result.stdout and out.exists()
    missing = subprocess.run(
        [*tidewell_cmd, "audio", "render", "nope", "--out", str(out)], env=cli_env, capture_output=True, text=True
    )
    assert missing.returncode == 2 and "unknown program" in missing.stderr
