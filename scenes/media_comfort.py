"""The comfort rules a 360-degree photo or video is measured against (scenes/media_probe.py measures).

- flashing light: more than one change of the mean relative luminance by FLASH_CHANGE (10%) or
  more in any second (after WCAG 2.3.1's "general flash": a flash is two opposing changes), or
  one change of more than SUDDEN_CHANGE (20%) from one frame to the next;
- a moving camera: the whole picture turning faster than MAX_TURN_DEG_S (only the client's own
  head should turn the world);
- very bright (mean relative luminance above BRIGHT_MAX) or very dark (below DARK_MAX: such a
  scene is tagged "dark").
The engine's comfort guard still low-passes whatever a scene shows; these say what it would hide.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tidewell.scenes.media_probe import MOTION_FPS, Footage, clock

FLASH_CHANGE = 0.10
SUDDEN_CHANGE = 0.20
CHANGES_PER_S = 1  # more than this many 10% changes within one second is flashing
CHANGE_MAX_S = 0.5  # a rise or fall slower than this is a fade, not a flash
STEP_NOISE = 0.002  # a frame-to-frame luminance step below this neither continues nor starts a change
MAX_TURN_DEG_S = 2.0
MIN_TURN_SAMPLES = 3  # a turn counts once it lasts this many motion samples (one odd second is no camera move)
BRIGHT_MAX = 0.6
DARK_MAX = 0.02
MAX_TIMES = 3  # times named per warning


@dataclass(frozen=True, slots=True)
class Change:
    start_s: float
    end_s: float
    delta: float  # relative luminance, + brighter


def luminance_changes(times: np.ndarray, luminance: np.ndarray) -> list[Change]:
    """Each rise or fall of the mean luminance by FLASH_CHANGE or more within CHANGE_MAX_S: runs of
    frame-to-frame steps of one sign."""
    steps = np.diff(luminance)
    changes, i = [], 0
    while i < len(steps):
        sign = np.sign(steps[i]) if abs(steps[i]) >= STEP_NOISE else 0.0
        j = i
        while sign and j + 1 < len(steps) and abs(steps[j + 1]) >= STEP_NOISE and np.sign(steps[j + 1]) == sign:
            j += 1
        delta = float(luminance[j + 1] - luminance[i])
        if sign and abs(delta) >= FLASH_CHANGE and times[j + 1] - times[i] <= CHANGE_MAX_S:
            changes.append(Change(float(times[i]), float(times[j + 1]), delta))
        i = j + 1
    return changes


def flashing_seconds(changes: list[Change]) -> list[tuple[float, int]]:
    """(start, count) of each second, not overlapping the one before, holding more than CHANGES_PER_S changes."""
    found: list[tuple[float, int]] = []
    for change in changes:
        if found and change.start_s < found[-1][0] + 1.0:
            continue
        count = sum(1 for other in changes if change.start_s <= other.start_s < change.start_s + 1.0)
        if count > CHANGES_PER_S:
            found.append((change.start_s, count))
    return found


def busiest_second(changes: list[Change]) -> int:
    return max((sum(1 for o in changes if c.start_s <= o.start_s < c.start_s + 1.0) for c in changes), default=0)


def episodes(times: np.ndarray, inside: np.ndarray, gap_s: float) -> list[tuple[float, float, int, int]]:
    """(start, end, first index, last index) of each run of samples where `inside` holds."""
    runs: list[list] = []
    for index in np.flatnonzero(inside):
        t = float(times[index])
        if runs and t - runs[-1][1] <= gap_s:
            runs[-1][1], runs[-1][3] = t, int(index)
        else:
            runs.append([t, t, int(index), int(index)])
    return [tuple(run) for run in runs]


def span(start_s: float, end_s: float) -> str:
    start, end = clock(max(start_s, 0.0)), clock(end_s)
    return start if start == end else f"{start}-{end}"


def _named(times: list[str]) -> str:
    more = f" and {len(times) - MAX_TIMES} more" if len(times) > MAX_TIMES else ""
    return ", ".join(times[:MAX_TIMES]) + more


def comfort_warnings(footage: Footage) -> list[str]:
    """One line per comfort rule the footage breaks, naming where in the video it happens."""
    warnings = []
    if footage.header.is_video:
        warnings += _light_warnings(footage) + _motion_warnings(footage)
        if footage.problem:
            warnings.append(f"{footage.problem}: the file may be damaged (a session would loop back there)")
        if footage.stops_at_s is not None:
            warnings.append(
                f"{footage.header.path.name}: the video stops at {clock(footage.stops_at_s)} of its declared "
                f"{clock(footage.header.duration_s)} (cut short or damaged)"
            )
    elif footage.mean_luminance > BRIGHT_MAX:
        warnings.append(
            f"very bright: mean luminance {footage.mean_luminance:.2f} (comfort rule: at most {BRIGHT_MAX})"
        )
    mean = footage.mean_luminance
    if mean < DARK_MAX:
        warnings.append(
            f"very dark: mean luminance {mean:.3f} (below {DARK_MAX}): tagged dark, so a client who fears "
            "the dark gets another scene; little but the breathing light may be seen"
        )
    return warnings


def _light_warnings(footage: Footage) -> list[str]:
    times, luminance = footage.times, footage.luminance
    warnings = []
    flashing = flashing_seconds(luminance_changes(times, luminance))
    if flashing:
        most = max(count for _, count in flashing)
        warnings.append(
            f"flashing light at {_named([clock(t) for t, _ in flashing])}: up to {most} changes of the mean "
            f"luminance by {FLASH_CHANGE:.0%} or more within one second (comfort rule: at most {CHANGES_PER_S} a "
            "second); the comfort guard softens it, a photosensitive client may still notice"
        )
    steps = np.abs(np.diff(luminance))
    sudden = [float(times[i + 1]) for i in np.flatnonzero(steps > SUDDEN_CHANGE)]
    if sudden:
        names = list(dict.fromkeys(clock(t) for t in sudden))
        warnings.append(
            f"sudden light change at {_named(names)}: the mean luminance jumps by up to {steps.max():.2f} "
            f"from one frame to the next (comfort rule: at most {SUDDEN_CHANGE:.2f})"
        )
    bright = episodes(times, luminance > BRIGHT_MAX, gap_s=1.0)
    if bright:
        spans = [span(a, b) for a, b, _, _ in bright]
        warnings.append(
            f"very bright at {_named(spans)}: mean luminance up to {luminance.max():.2f} "
            f"(comfort rule: at most {BRIGHT_MAX})"
        )
    return warnings


def _motion_warnings(footage: Footage) -> list[str]:
    turning = episodes(footage.motion_times, footage.turn_deg_s > MAX_TURN_DEG_S, gap_s=1.5 / MOTION_FPS)
    turning = [run for run in turning if run[3] - run[2] + 1 >= MIN_TURN_SAMPLES]
    if not turning:
        return []
    spans = [span(a - 1.0, b) for a, b, _, _ in turning]
    return [
        f"moving camera at {_named(spans)}: the whole picture turns up to {footage.turn_deg_s.max():.1f}°/s "
        f"(comfort rule: at most {MAX_TURN_DEG_S:g}°/s; only the client's own head should turn the world)"
    ]


def figures(footage: Footage) -> list[str]:
    """The measured figures, one line each."""
    lines = [
        f"mean luminance {footage.mean_luminance:.3f} (0 black to 1 white: Rec. 709 relative luminance of "
        "linearised sRGB, averaged over the sphere)"
    ]
    if not footage.header.is_video:
        return lines
    changes = luminance_changes(footage.times, footage.luminance)
    steps = np.abs(np.diff(footage.luminance))
    lines.append(
        f"light: {len(changes) / max(footage.measured_s, 1.0):.2f} changes of {FLASH_CHANGE:.0%}+ a second "
        f"(at most {busiest_second(changes)} in any second); largest one-frame change "
        f"{steps.max() if steps.size else 0.0:.3f}"
    )
    if footage.difference.size:
        lines.append(
            f"motion: mean frame difference {footage.difference.mean():.1%} at {MOTION_FPS:g} fps; whole picture "
            f"turns {np.median(footage.turn_deg_s):.1f}°/s (median), at most {footage.turn_deg_s.max():.1f}°/s"
        )
    return lines


def summary(footage: Footage) -> str:
    """The figures in one sentence, for the scene's description."""
    text = f"mean luminance {footage.mean_luminance:.3f}"
    if footage.header.is_video:
        changes = luminance_changes(footage.times, footage.luminance)
        text += (
            f"; {len(changes) / max(footage.measured_s, 1.0):.2f} light changes of {FLASH_CHANGE:.0%}+ a second "
            f"(at most {busiest_second(changes)} in any second)"
        )
        if footage.difference.size:
            text += (
                f"; mean frame difference {footage.difference.mean():.1%} at {MOTION_FPS:g} fps; "
                f"the whole picture turns at most {footage.turn_deg_s.max():.1f} deg/s"
            )
    return text


def is_dark(footage: Footage) -> bool:
    return footage.mean_luminance < DARK_MAX
