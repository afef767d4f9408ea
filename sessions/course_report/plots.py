"""The course report's plots: one small panel per measure of the plan against the session number, and the
SSQ scores where any were given. Drawn by matplotlib's Agg canvas into a PNG for the PDF."""

from __future__ import annotations

import io
import math

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from tidewell.sessions.course import FMS_SUGGEST_EYES_CLOSED, SSQ_TOTAL_SUGGEST_EYES_CLOSED, Course
from tidewell.sessions.report.figures import CALM_COLOUR, HR_COLOUR, INK, MUTED, RMSSD_COLOUR, literal_text

COLOURS = {"pain": HR_COLOUR, "stress": CALM_COLOUR, "resting_hr": HR_COLOUR, "rmssd_change": RMSSD_COLOUR}
SICK_COLOUR = "#b9770e"
SSQ_COLOURS = {"nausea": "#1e8449", "oculomotor": "#2471a3", "disorientation": "#884ea0"}
PANEL_HEIGHT_IN = 1.95
WIDTH_IN = 7.2
COLUMNS = 3
HRV_PANELS = ("resting_hr", "rmssd_change")
RATINGS = ("pain", "stress")
MIN_SPAN = {"resting_hr": 10.0, "rmssd_change": 10.0}  # a y axis at least this tall: noise never looks like a trend
TITLES = {  # short enough for a third of the page; the method notes say the rest
    "pain": "pain (0-10)",
    "stress": "stress (0-10)",
    "resting_hr": "resting heart rate (beats/min)",
    "rmssd_change": "RMSSD change from baseline (ms)",
    "fms": "motion sickness, FMS (0-20)",
    "ssq": "simulator sickness, SSQ scores",
}


def panels(course: Course) -> list[str]:
    """The measures drawn, in the plan's order, then "ssq" where any session has SSQ scores."""
    return list(course.measures) + (["ssq"] if any(s.ssq for s in course.sessions) else [])


def figure_size_in(course: Course) -> tuple[float, float]:
    return WIDTH_IN, PANEL_HEIGHT_IN * max(1, math.ceil(len(panels(course)) / COLUMNS))


@literal_text()
def course_figure(course: Course) -> Figure:
    names = panels(course)
    size = figure_size_in(course)
    fig = Figure(figsize=size, layout="constrained")
    axes = fig.subplots(round(size[1] / PANEL_HEIGHT_IN), COLUMNS, squeeze=False).ravel()
    last = max((s.number for s in course.sessions), default=1)
    for ax, name in zip(axes, names):
        if name == "ssq":
            _ssq_panel(ax, course)
        else:
            _measure_panel(ax, course, name)
        ax.set_xlim(0.5, last + 0.5)
        if last <= 10:
            ax.set_xticks(range(1, last + 1))
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=8))
        ax.set_xlabel("session", fontsize=7.5, color=MUTED, labelpad=1)
        ax.grid(axis="y", color="#dddddd", lw=0.6)
        ax.tick_params(colors=INK, labelsize=7)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    return fig


def _measure_panel(ax, course: Course, name: str) -> None:
    colour = COLOURS.get(name, SICK_COLOUR)
    ax.set_title(TITLES[name], fontsize=8, color=INK, loc="left")
    points = course.series(name)
    if points:
        ms = 3.5 if len(course.sessions) <= 20 else 2.0  # a long course: points that stay apart
        ax.plot(*zip(*points), "o-", color=colour, ms=ms, lw=1.3, label="before" if name in RATINGS else None)
    if name in RATINGS:
        _after_and_reassessments(ax, course, name, colour)
        ax.set_ylim(-0.5, 13.5)  # the legend's room above 10
        ax.set_yticks([0, 2, 4, 6, 8, 10])
    if name in MIN_SPAN and points:
        _at_least(ax, [v for _, v in points], MIN_SPAN[name])
    if name == "fms":
        ax.axhline(FMS_SUGGEST_EYES_CLOSED, color=MUTED, lw=0.8, ls=":")
        ax.set_ylim(-0.5, max([FMS_SUGGEST_EYES_CLOSED + 2, *(v for _, v in points)]) + 0.5)
    withheld = [s.number for s in course.sessions if s.hrv_note] if name in HRV_PANELS else []
    for number in withheld:  # HRV not interpretable: a grey band where its point would be
        ax.axvspan(number - 0.35, number + 0.35, color="#eeeeee", lw=0, zorder=0)
        ax.text(
            number, 0.97, "n.i.", transform=ax.get_xaxis_transform(), ha="center", va="top", fontsize=6, color=MUTED
        )
    if not points and not (name in RATINGS and ax.get_lines()):
        ax.text(
            0.5,
            0.5,
            "no interpretable data" if withheld else "no data yet",
            transform=ax.transAxes,
            ha="center",
            va="center",
            color=MUTED,
            fontsize=8,
        )


def _at_least(ax, values: list[float], span: float) -> None:
    low, high = min(values), max(values)
    if high - low < span:
        middle = (low + high) / 2
        ax.set_ylim(middle - span / 2, middle + span / 2)


def _after_and_reassessments(ax, course: Course, name: str, colour: str) -> None:
    after = [
        (s.number, getattr(s.session, name)[1]) for s in course.sessions if getattr(s.session, name)[1] is not None
    ]
    if after:
        ax.plot(*zip(*after), "o--", color=colour, mfc="white", ms=3.5, lw=0.9, alpha=0.8, label="after")
    marks = [(r["sessions_done"], r[name]) for r in course.reassessments if r.get(name) is not None]
    if marks:
        ax.plot(*zip(*marks), "D", color=INK, ms=4, label="re-assessment")
    if ax.get_lines():
        ax.legend(fontsize=6, frameon=False, loc="upper left", ncols=3, borderaxespad=0.1, handlelength=1.6)


def _ssq_panel(ax, course: Course) -> None:
    ax.set_title(TITLES["ssq"], fontsize=8, color=INK, loc="left")
    rated = [s for s in course.sessions if s.ssq is not None]
    x = [s.number for s in rated]
    ax.plot(x, [s.ssq.total for s in rated], "o-", color=SICK_COLOUR, ms=3.5, lw=1.4, label="total")
    for part, colour in SSQ_COLOURS.items():
        ax.plot(x, [getattr(s.ssq, part) for s in rated], ".--", color=colour, ms=3, lw=0.8, label=part)
    ax.axhline(SSQ_TOTAL_SUGGEST_EYES_CLOSED, color=MUTED, lw=0.8, ls=":")
    top = max([SSQ_TOTAL_SUGGEST_EYES_CLOSED, *(getattr(s.ssq, f) for s in rated for f in ("total", *SSQ_COLOURS))])
    ax.set_ylim(0, top * 1.45)  # the legend's room
    ax.legend(fontsize=6, frameon=False, loc="upper left", ncols=2, borderaxespad=0.1, handlelength=1.6)


def course_png(course: Course, dpi: int = 200) -> bytes:
    fig = course_figure(course)
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    with literal_text():
        fig.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    return buffer.getvalue()
