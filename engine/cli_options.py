"""The `tidewell` command's option values and the options several commands share.

Each value type names what it expects in its message ("argument --minutes: expected ..."); each
add_* function adds one option, with the same name, type and default wherever it appears.
"""

from __future__ import annotations

import argparse
import math

from tidewell.core.limits import MAX_NOTE_CHARS, MAX_ROW_ID
from tidewell.core.terminal import control_characters
from tidewell.sensors.spec import parse_sensor
from tidewell.sessions.program import MAX_PROGRAM_MINUTES, MIN_SCALED_MINUTES, SCALED_MINUTES_RULE
from tidewell.sessions.pseudonyms import PseudonymError, checked_pseudonym

MAX_SEED = 2**32 - 1  # numpy's seeds
ADAPTER_HELP = "Bluetooth adapter, e.g. hci1 (default: the system's)"
SEED_HELP = "seed of the simulated heart and the sound"


# -- value types ---------------------------------------------------------------------------------


def whole_number(text: str, low: int, high: int, what: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def number(text: str, low: float, high: float, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not low <= value <= high:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def rating(text: str) -> int:
    return whole_number(text, 0, 10, "a whole number from 0 to 10")


def program_minutes(text: str) -> float:
    return number(text, MIN_SCALED_MINUTES, MAX_PROGRAM_MINUTES, SCALED_MINUTES_RULE.removeprefix("expected "))


def seed(text: str) -> int:
    return whole_number(text, 0, MAX_SEED, f"a whole number from 0 to {MAX_SEED}")


def session_id(text: str) -> int:
    return whole_number(text, 1, MAX_ROW_ID, "a session id (a whole number from 1; tidewell sessions list)")


def limit(text: str) -> int:
    return whole_number(text, 1, 100_000, "a whole number from 1 to 100000")


def sample_rate(text: str) -> int:
    return whole_number(text, 8000, 192_000, "a sample rate in Hz from 8000 to 192000")


def scan_seconds(text: str) -> float:
    return number(text, 0.5, 300, "seconds from 0.5 to 300")


def watch_seconds(text: str) -> float:
    return number(text, 0.5, 86_400, "seconds from 0.5 to 86400 (a day)")


def port(text: str) -> int:
    return whole_number(text, 0, 65535, "a TCP port 0-65535")


def pseudonym(text: str) -> str:
    try:
        return checked_pseudonym(text)
    except PseudonymError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def note(text: str) -> str:
    if len(text) > MAX_NOTE_CHARS:
        raise argparse.ArgumentTypeError(f"expected a note of at most {MAX_NOTE_CHARS} characters, got {len(text)}")
    found = control_characters(text)
    if found:
        raise argparse.ArgumentTypeError(f"expected a note without control characters, got {''.join(found)!r}")
    return text


def sensor(text: str) -> str:
    try:
        parse_sensor(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text.strip()


# -- options shared by commands ------------------------------------------------------------------


def add_sensor(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--sensor", type=sensor, default="sim", metavar="KIND", help=help)


def add_adapter(parser: argparse.ArgumentParser, help: str = ADAPTER_HELP) -> None:
    parser.add_argument("--adapter", help=help)


def add_ratings(parser: argparse.ArgumentParser, pain: str, stress: str, note_help: str) -> None:
    """--pain, --stress and --note: the client's self-report."""
    parser.add_argument("--pain", type=rating, help=pain)
    parser.add_argument("--stress", type=rating, help=stress)
    parser.add_argument("--note", type=note, default="", help=note_help)


def add_minutes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--minutes", type=program_minutes, help="shorten or stretch the program to this length")


def add_headless(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--headless", action="store_true", help=help)


def add_seed(parser: argparse.ArgumentParser, help: str | None = SEED_HELP) -> None:
    parser.add_argument("--seed", type=seed, default=0, help=help)


def add_audio_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--audio-device", help="sound device name or index (default: the system's)")


def add_target(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--target", choices=("auto", "xr"), default="auto", help=help)


def add_sound_when_headset_off(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--sound-when-headset-off", choices=("continue", "fade"), default="continue", help=help)


def add_size(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", default="960x540", metavar="WxH")
