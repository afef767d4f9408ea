"""Programs: TOML files listing the phases of a session, loaded and validated."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path

from tidewell.core.constants import AUDIO_LAYERS, SWELLS
from tidewell.core.errors import TidewellError
from tidewell.core.frame_state import Posture
from tidewell.core.terminal import control_characters
from tidewell.core.toml_file import array_headers, key_line, read_toml
from tidewell.core.toml_file import is_number as _is_number
from tidewell.scenes.catalog import available_scenes
from tidewell.sessions.breathing import BreathPattern
from tidewell.sessions.curves import DEFAULT_CURVES, Curve
from tidewell.sessions.session_rules import SessionRules

BUILTIN_FOLDER = Path(__file__).parent / "programs"


class PhaseKind(str, Enum):
    SETTLE = "settle"
    WARM_UP = "warm-up"
    DEEP_WORK = "deep-work"
    TURN_OVER = "turn-over"
    RELEASE = "release"
    COOL_DOWN = "cool-down"
    REORIENT = "reorient"


class Advance(str, Enum):
    TIMER = "timer"  # the phase ends when its minutes are up
    THERAPIST = "therapist"  # the phase waits for the therapist; minutes is the expected length


class Pace(str, Enum):
    ADAPTIVE = "adaptive"  # the guide starts near the client's own rate and slows gently toward the target
    FIXED = "fixed"  # exactly the phase's rate (e.g. the blocks of a resonance assessment)


DEFAULT_ALERT_HR_RISE_BPM = 15.0
MIN_PHASE_MINUTES = 10 / 60  # a phase lasts at least 10 s
MAX_PROGRAM_MINUTES = 240.0  # a program lasts at most 4 h in all
MIN_SCALED_MINUTES = 0.05  # --minutes may squeeze a program this short (3 s), for trying it out


@dataclass(frozen=True)
class Phase:
    name: str
    kind: PhaseKind
    minutes: float
    advance: Advance
    scene: str
    posture: Posture
    breathing: BreathPattern
    audio: tuple[tuple[str, float], ...]
    crossfade_s: float
    pace: Pace = Pace.ADAPTIVE
    resonance: bool = False  # rate_bpm = "resonance": the client's resonance pace, when known

    @property
    def duration_s(self) -> float:
        return self.minutes * 60.0


@dataclass(frozen=True)
class Program:
    id: str
    title: str
    description: str
    phases: tuple[Phase, ...]
    source: Path
    curves: dict = field(default_factory=lambda: dict(DEFAULT_CURVES))
    alert_hr_rise_bpm: float = DEFAULT_ALERT_HR_RISE_BPM
    swell: str = "gentle"  # [sound] swell: the shape of the breathing sound
    rules: SessionRules = SessionRules()  # what the client's precautions hold the session to (precautions.py)

    @property
    def minutes(self) -> float:
        return sum(p.minutes for p in self.phases)

    def scaled_to(self, minutes: float) -> Program:
        """The same program with every phase shortened or stretched to fit `minutes` in all."""
        if not _is_number(minutes) or not MIN_SCALED_MINUTES <= minutes <= MAX_PROGRAM_MINUTES:
            raise ProgramError(f"{self.source}: cannot scale the program to {minutes!r} minutes: {SCALED_MINUTES_RULE}")
        factor = minutes / self.minutes
        return replace(self, phases=tuple(replace(p, minutes=p.minutes * factor) for p in self.phases))

    def for_client(self, resonance_bpm: float | None) -> Program:
        """Phases that ask for the resonance pace get this client's, when it is known."""
        if resonance_bpm is None:
            return self
        phases = tuple(
            replace(p, breathing=p.breathing.at_rate(resonance_bpm)) if p.resonance else p for p in self.phases
        )
        return replace(self, phases=phases)

    @property
    def baseline_phase_index(self) -> int:
        return baseline_phase_index([phase.kind for phase in self.phases])


def baseline_phase_index(kinds: Sequence[str]) -> int | None:
    """The client's baseline phase (for calm, alerts and every per-phase change): the first settle phase,
    else the first phase; None without phases. Kinds as PhaseKind or as the log's text."""
    return next((i for i, kind in enumerate(kinds) if kind == PhaseKind.SETTLE), 0 if kinds else None)


class ProgramError(TidewellError, ValueError):
    """A program file that cannot be used; the message says file, line, key and what was expected."""


SCALED_MINUTES_RULE = (
    f"expected a number of minutes from {MIN_SCALED_MINUTES:g} to {MAX_PROGRAM_MINUTES:g} "
    f"(a program lasts at most {MAX_PROGRAM_MINUTES / 60:g} h)"
)


_PROGRAM_KEYS = {"id", "title", "description"}
_PHASE_KEYS = {"name", "kind", "minutes", "advance", "scene", "posture", "breathing", "audio", "crossfade_s", "pace"}
_ALERT_KEYS = {"hr_rise_bpm"}
RESONANCE_DEFAULT_BPM = 6.0
_PATTERN_KEYS = {"inhale_s", "hold_s", "exhale_s", "hold_out_s"}
_RATE_KEYS = {"rate_bpm", "ratio"}
DEFAULT_CROSSFADE_S = 8.0


def builtin_programs() -> dict[str, Path]:
    return {p.stem: p for p in sorted(BUILTIN_FOLDER.glob("*.toml"))}


def resolve_program(name_or_path: str) -> Path:
    """A built-in program id, or a path to a TOML file."""
    builtin = builtin_programs()
    if name_or_path in builtin:
        return builtin[name_or_path]
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        return path
    raise ProgramError(
        f"unknown program {name_or_path!r}: expected one of {', '.join(builtin)} or a path to a .toml file"
    )


def load_program(path: Path, scene_ids: set[str] | None = None) -> Program:
    """Load and validate a program. `scene_ids` defaults to the installed scene catalogue, whose
    scenes also say which postures each may be shown in."""
    path = Path(path)
    text, data = read_toml(path, ProgramError, "no such program file")
    postures = None
    if scene_ids is None:
        scenes = available_scenes()
        scene_ids = set(scenes)
        postures = {scene_id: tuple(p.value for p in info.postures) for scene_id, info in scenes.items()}
    return _Validator(path, text, scene_ids, postures).program(data)


class _Validator:
    def __init__(self, path: Path, text: str, scene_ids: set[str], postures: dict[str, tuple[str, ...]] | None):
        self.path = path
        self.lines = text.splitlines()
        self.scene_ids = scene_ids
        self.scene_postures = postures  # scene id -> the postures its scene.toml lists

    # -- locating keys, so every message carries a line number --------------------------
    def _phase_header_lines(self) -> list[int]:
        return [index + 1 for index in array_headers(self.lines, "phase")]

    def _line_of(self, key: str, phase_index: int | None = None) -> int:
        """The key's line, within its [[phase]] table when phase_index is given (else that table's header)."""
        start, end = 0, len(self.lines)
        headers = array_headers(self.lines, "phase") if phase_index is not None else []
        if phase_index is not None and phase_index < len(headers):
            start = headers[phase_index]
            end = headers[phase_index + 1] if phase_index + 1 < len(headers) else len(self.lines)
        line = key_line(self.lines, key, start, end)
        return start + 1 if line is None else line

    def _fail(self, where: str, key: str, expected: str, got=None, phase_index=None) -> ProgramError:
        line = self._line_of(key, phase_index)
        detail = f", got {got!r}" if got is not None else ""
        return ProgramError(f"{self.path}:{line}: {where}key '{key}': expected {expected}{detail}")

    # -- the document ---------------------------------------------------------------------
    def program(self, data: dict) -> Program:
        unknown = set(data) - {"program", "phase", "curves", "alerts", "sound"}
        if unknown:
            key = sorted(unknown)[0]
            raise self._fail("", key, "only [program], [[phase]], [curves], [alerts] and [sound] tables", key)
        meta = data.get("program")
        if not isinstance(meta, dict):
            raise ProgramError(f"{self.path}:1: missing [program] table with title and description")
        self._no_unknown(meta, _PROGRAM_KEYS, "[program] ")
        title = self._string(meta, "title", "[program] ")
        description = meta.get("description", "")
        if not isinstance(description, str):
            raise self._fail("[program] ", "description", "a string", description)
        self._no_control_characters(description, "description", "[program] ")
        program_id = meta.get("id", self.path.stem)
        if not isinstance(program_id, str) or not program_id:
            raise self._fail("[program] ", "id", "a non-empty string", program_id)
        self._no_control_characters(program_id, "id", "[program] ")
        phases_data = data.get("phase")
        if not isinstance(phases_data, list) or not phases_data:
            raise ProgramError(f"{self.path}:1: a program needs at least one [[phase]] table")
        phases = tuple(self.phase(i, p) for i, p in enumerate(phases_data))
        total = sum(p.minutes for p in phases)
        if total > MAX_PROGRAM_MINUTES:
            raise ProgramError(
                f"{self.path}:{self._phase_header_lines()[0] if self._phase_header_lines() else 1}: "
                f"the phases add up to {total:g} minutes: a program lasts at most "
                f"{MAX_PROGRAM_MINUTES:g} minutes ({MAX_PROGRAM_MINUTES / 60:g} h) in all"
            )
        return Program(
            program_id,
            title,
            description,
            phases,
            self.path,
            self.curves(data.get("curves", {})),
            self.alerts(data.get("alerts", {})),
            self.sound(data.get("sound", {})),
        )

    def sound(self, data) -> str:
        if not isinstance(data, dict):
            raise self._fail("", "sound", "a [sound] table", data)
        self._no_unknown(data, {"swell"}, "[sound] ")
        swell = data.get("swell", "gentle")
        if swell not in SWELLS:
            raise self._fail("[sound] ", "swell", f"one of {', '.join(SWELLS)}", swell)
        return swell

    def curves(self, data) -> dict:
        if not isinstance(data, dict):
            raise self._fail("", "curves", "a [curves] table of name = [[calm, value], ...]", data)
        curves = dict(DEFAULT_CURVES)
        expected = "a list of [calm, value] pairs with calm rising from 0 to 1 and values from 0 to 1"
        for name, points in data.items():
            if name not in DEFAULT_CURVES:
                raise self._fail("[curves] ", name, f"one of {', '.join(DEFAULT_CURVES)}", name)
            ok = (
                isinstance(points, list)
                and len(points) >= 2
                and all(
                    isinstance(p, list) and len(p) == 2 and all(_is_number(v) and 0 <= v <= 1 for v in p)
                    for p in points
                )
            )
            if not ok or any(b[0] < a[0] for a, b in zip(points, points[1:])):
                raise self._fail("[curves] ", name, expected, points)
            curves[name] = Curve(tuple((float(x), float(y)) for x, y in points))
        return curves

    def alerts(self, data) -> float:
        if not isinstance(data, dict):
            raise self._fail("", "alerts", "an [alerts] table", data)
        self._no_unknown(data, _ALERT_KEYS, "[alerts] ")
        return self._number(
            data, "hr_rise_bpm", "[alerts] ", None, minimum=3.0, maximum=60.0, default=DEFAULT_ALERT_HR_RISE_BPM
        )

    def phase(self, index: int, data) -> Phase:
        if not isinstance(data, dict):
            raise ProgramError(f"{self.path}:1: every 'phase' must be a [[phase]] table, got {data!r}")
        name = data.get("name")
        label = f"phase {index + 1}" + (f" ({name!r})" if isinstance(name, str) else "") + ", "
        self._no_unknown(data, _PHASE_KEYS, label, index)
        name = self._string(data, "name", label, index)
        kind = self._enum(data, "kind", PhaseKind, label, index)
        advance = self._enum(data, "advance", Advance, label, index, default=Advance.TIMER)
        minutes = data.get("minutes")
        if not _is_number(minutes) or not MIN_PHASE_MINUTES <= minutes <= MAX_PROGRAM_MINUTES:
            raise self._fail(
                label,
                "minutes",
                f"a number of minutes from {MIN_PHASE_MINUTES:.4g} (10 s) to {MAX_PROGRAM_MINUTES:g} (4 h)",
                minutes,
                index,
            )
        scene = self._string(data, "scene", label, index)
        if scene not in self.scene_ids:
            raise self._fail(
                label, "scene", f"one of the installed scenes ({', '.join(sorted(self.scene_ids))})", scene, index
            )
        posture = self._enum(data, "posture", Posture, label, index)
        listed = (self.scene_postures or {}).get(scene)
        if listed is not None and posture.value not in listed:
            raise self._fail(
                label,
                "posture",
                f"a posture scene {scene!r} lists in its scene.toml ({', '.join(listed)})",
                posture.value,
                index,
            )
        breathing = self.breathing(data.get("breathing"), label, index)
        audio = self.audio(data.get("audio", {"breath": 1.0}), label, index)
        crossfade = data.get("crossfade_s", DEFAULT_CROSSFADE_S)
        if not _is_number(crossfade) or not 0 <= crossfade <= 120:
            raise self._fail(label, "crossfade_s", "seconds between 0 and 120", crossfade, index)
        pace = self._enum(data, "pace", Pace, label, index, default=Pace.ADAPTIVE)
        resonance = isinstance(data.get("breathing"), dict) and data["breathing"].get("rate_bpm") == "resonance"
        return Phase(
            name, kind, float(minutes), advance, scene, posture, breathing, audio, float(crossfade), pace, resonance
        )

    def breathing(self, data, label: str, index: int) -> BreathPattern:
        expected = "a table {inhale_s, hold_s, exhale_s, hold_out_s} or {rate_bpm, ratio}"
        if not isinstance(data, dict):
            raise self._fail(label, "breathing", expected, data, index)
        keys = set(data)
        if keys & _RATE_KEYS:
            self._no_unknown(data, _RATE_KEYS, label + "breathing ", index)
            if data.get("rate_bpm") == "resonance":  # the client's own, filled in when the session starts
                data = {**data, "rate_bpm": RESONANCE_DEFAULT_BPM}
            rate = self._number(data, "rate_bpm", label + "breathing ", index, minimum=2.0, maximum=20.0)
            ratio = self._number(data, "ratio", label + "breathing ", index, minimum=0.2, maximum=2.0)
            return BreathPattern.from_rate(rate, ratio)
        self._no_unknown(data, _PATTERN_KEYS, label + "breathing ", index)
        inhale = self._number(data, "inhale_s", label + "breathing ", index, minimum=1.0, maximum=20.0)
        exhale = self._number(data, "exhale_s", label + "breathing ", index, minimum=1.0, maximum=30.0)
        hold = self._number(data, "hold_s", label + "breathing ", index, minimum=0.0, maximum=10.0, default=0.0)
        hold_out = self._number(data, "hold_out_s", label + "breathing ", index, minimum=0.0, maximum=10.0, default=0.0)
        return BreathPattern(inhale, hold, exhale, hold_out)

    def audio(self, data, label: str, index: int) -> tuple[tuple[str, float], ...]:
        if not isinstance(data, dict):
            raise self._fail(label, "audio", "a table of layer = volume (0..1)", data, index)
        layers = []
        for layer, volume in data.items():
            if layer not in AUDIO_LAYERS:
                raise self._fail(label + "audio ", layer, f"a layer among {', '.join(AUDIO_LAYERS)}", layer, index)
            if not _is_number(volume) or not 0 <= volume <= 1:
                raise self._fail(label + "audio ", layer, "a volume between 0 and 1", volume, index)
            layers.append((layer, float(volume)))
        return tuple(layers)

    # -- typed fields ---------------------------------------------------------------------
    def _no_unknown(self, data: dict, allowed: set[str], label: str, index: int | None = None) -> None:
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise self._fail(label, unknown[0], f"one of the known keys ({', '.join(sorted(allowed))})", None, index)

    def _string(self, data: dict, key: str, label: str, index: int | None = None) -> str:
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            raise self._fail(label, key, "a non-empty string", value, index)
        self._no_control_characters(value, key, label, index)
        return value

    def _no_control_characters(self, value: str, key: str, label: str, index: int | None = None) -> None:
        if control_characters(value):
            raise self._fail(label, key, "text without control characters", value, index)

    def _enum(self, data: dict, key: str, enum, label: str, index: int, default=None):
        value = data.get(key, default)
        if isinstance(value, enum):
            return value
        choices = ", ".join(e.value for e in enum)
        try:
            return enum(value)
        except ValueError:
            raise self._fail(label, key, f"one of {choices}", value, index) from None

    def _number(self, data, key, label, index, minimum=None, maximum=None, exclusive=False, default=None) -> float:
        value = data.get(key, default)
        bounds = []
        if minimum is not None:
            bounds.append(f"{'>' if exclusive else '>='} {minimum:g}")
        if maximum is not None:
            bounds.append(f"<= {maximum:g}")
        expected = "a number" + (f" {' and '.join(bounds)}" if bounds else "")
        if not _is_number(value):
            raise self._fail(label, key, expected, value, index)
        too_low = minimum is not None and (value <= minimum if exclusive else value < minimum)
        too_high = maximum is not None and value > maximum
        if too_low or too_high:
            raise self._fail(label, key, expected, value, index)
        return float(value)
