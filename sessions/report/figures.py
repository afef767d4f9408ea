"""The report's plots, drawn by matplotlib's Agg canvas into inline PNGs: a session over time, and a
client's sessions side by side. Names, titles and notes are drawn as typed: "$x^2$" in a phase name is
never math or TeX."""

from __future__ import annotations

import base64
import io
import textwrap

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from tidewell.core import event_kinds
from tidewell.sessions.export import SessionRecord
from tidewell.sessions.report.formatting import NOT_ENOUGH
from tidewell.sessions.report.trends import ClientOverview

INK = "#1a1a1a"
MUTED = "#5a5a5a"
HR_COLOUR = "#b03a2e"
RMSSD_COLOUR = "#1f618d"
PACE_COLOUR = "#117a65"
CALM_COLOUR = "#6c3483"
MARKER_COLOUR = "#1f3a93"
ALERT_COLOUR = "#c0392b"
BANDS = ("#eef2f7", "#ffffff")
# Text objects read these when they are made and when they are drawn, so both happen inside literal_text.
LITERAL_TEXT = {"text.parse_math": False, "text.usetex": False}


def literal_text():
    return matplotlib.rc_context(LITERAL_TEXT)


def png_data_uri(fig: Figure, dpi: int = 150) -> str:
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    with literal_text():
        fig.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _column(rows: list[dict], key: str) -> np.ndarray:
    return np.array([np.nan if r.get(key) is None else r[key] for r in rows], dtype=float)


def _gaps(record: SessionRecord) -> list[tuple[float, float, str]]:
    gap_ends = {k.name: k.ends for k in event_kinds.KINDS.values() if k.ends}
    gaps, open_since = [], {}
    for e in record.events:
        if e["kind"] in gap_ends:
            open_since.setdefault(e["kind"], e["t_s"])
        for start_kind, end_kinds in gap_ends.items():
            if e["kind"] in end_kinds and start_kind in open_since:
                gaps.append((open_since.pop(start_kind), e["t_s"], event_kinds.label(start_kind)))
    gaps += [(t, record.duration_s, event_kinds.label(kind)) for kind, t in open_since.items()]
    return gaps


# -- a session --------------------------------------------------------------------------------
@literal_text()
def session_figure(record: SessionRecord) -> Figure:
    """HR, RMSSD, breathing pace and calm against session time, phases shaded and numbered,
    markers (M1, M2, ...) and alerts (A1, ...) as vertical lines through every panel."""
    t = _column(record.samples, "t_s") / 60
    end_min = max(record.duration_s / 60, 1 / 60)
    fig = Figure(figsize=(10, 8.6), layout="constrained")
    axes = fig.subplots(4, 1, sharex=True, height_ratios=(1.25, 1, 0.9, 0.7))
    hr_ax, rmssd_ax, pace_ax, calm_ax = axes
    _plot_heart(hr_ax, rmssd_ax, record, t)
    _plot_breathing_and_calm(pace_ax, calm_ax, record, t)
    for ax in axes:
        _frame_session_panel(ax, record, end_min)
    _label_phases(hr_ax, record, end_min)
    _draw_events(axes, record)
    for ax in (hr_ax, pace_ax):
        handles, labels = ax.get_legend_handles_labels()
        if len(handles) > 1:
            bottom, top = ax.get_ylim()
            ax.set_ylim(bottom, top + 0.25 * (top - bottom))  # headroom: the legend never hides data
            ax.legend(
                handles,
                labels,
                loc="upper right",
                fontsize=8,
                frameon=True,
                framealpha=0.95,
                ncols=min(len(handles), 4),
                edgecolor="#cccccc",
            )
    return fig


def _plot_heart(hr_ax, rmssd_ax, record: SessionRecord, t: np.ndarray) -> None:
    beat_t = _column(record.beats, "t_s") / 60
    nn = _column(record.beats, "corrected_rr_ms")
    if np.isfinite(nn).any():
        hr_ax.plot(beat_t, 60000 / nn, color="#c9c9c9", lw=0.6, label="beat to beat", zorder=2)
    hr_ax.plot(t, _column(record.samples, "hr_bpm"), color=HR_COLOUR, lw=1.3, label="live HR", zorder=3)
    hr_ax.set_ylabel("heart rate\n(beats/min)")
    rmssd_ax.plot(t, _column(record.samples, "rmssd_ms"), color=RMSSD_COLOUR, lw=1.3)
    rmssd_ax.set_ylabel("RMSSD, last 60 s\n(ms)")


def _plot_breathing_and_calm(pace_ax, calm_ax, record: SessionRecord, t: np.ndarray) -> None:
    samples = record.samples
    pace_ax.plot(t, _column(samples, "pace_bpm"), color=PACE_COLOUR, lw=1.6, label="guided pace")
    target = _column(samples, "target_pace_bpm")
    if np.isfinite(target).any():
        pace_ax.plot(t, target, color=PACE_COLOUR, lw=1.2, ls="--", label="target pace")
    breathing = _column(samples, "breath_rate_bpm")
    if np.isfinite(breathing).any():
        pace_ax.plot(t, breathing, color=INK, lw=0.9, ls=":", label="client's breathing (from RSA)")
    if record.client.get("resonance_bpm"):
        pace_ax.axhline(record.client["resonance_bpm"], color=MUTED, lw=0.9, ls="-.", label="resonance pace")
    pace_ax.set_ylabel("breathing\n(breaths/min)")

    calm_ax.plot(t, _column(samples, "calm"), color=CALM_COLOUR, lw=1.6)
    calm_ax.set_ylim(-0.05, 1.05)
    calm_ax.set_yticks([0, 0.5, 1])
    calm_ax.set_ylabel("calm index\n(0–1)")
    calm_ax.set_xlabel("session time (minutes)")


def _frame_session_panel(ax, record: SessionRecord, end_min: float) -> None:
    """Time axis, phase bands, grid, a 'not enough data' note on an empty panel, hatched gaps."""
    ax.set_xlim(0, end_min)
    _shade_phases(ax, record)
    _plain_axes(ax)
    if not any(np.isfinite(line.get_ydata()).any() for line in ax.get_lines() if len(line.get_ydata()) > 2):
        ax.text(0.5, 0.5, NOT_ENOUGH, transform=ax.transAxes, ha="center", va="center", color=MUTED, fontsize=11)
    for start, stop, _label in _gaps(record):
        ax.axvspan(start / 60, stop / 60, facecolor="none", edgecolor="#9a9a9a", hatch="///", lw=0, zorder=1)


def _plain_axes(ax) -> None:
    ax.grid(axis="y", color="#dddddd", lw=0.6)
    ax.tick_params(colors=INK, labelsize=9)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _phase_spans(record: SessionRecord) -> list[tuple[int, str, float, float]]:
    spans = []
    for i, p in enumerate(record.phases):
        following = record.phases[i + 1]["started_s"] if i + 1 < len(record.phases) else record.duration_s
        end = p["ended_s"] if p["ended_s"] is not None else following
        spans.append((p["idx"], p["name"], p["started_s"] / 60, max(end, p["started_s"]) / 60))
    return spans


def _shade_phases(ax, record: SessionRecord) -> None:
    for n, (_, _, start, end) in enumerate(_phase_spans(record)):
        ax.axvspan(start, end, color=BANDS[n % 2], zorder=0, lw=0)
        if n:
            ax.axvline(start, color="#b8c4d0", lw=0.7, zorder=1)


def _label_phases(ax, record: SessionRecord, end_min: float) -> None:
    """Phase number and name above the top panel: on one line, else wrapped on two, else the number alone."""
    width_pt = ax.figure.get_figwidth() * 72 * 0.86  # the axes span about 86 % of the figure
    for idx, name, start, end in _phase_spans(record):
        room_chars = int((end - start) / end_min * width_pt / 5.0)  # about 5 pt a character at 8.5 pt
        label = f"{idx + 1}  {name}"
        if len(label) > room_chars:
            lines = textwrap.wrap(label, max(room_chars, 1), break_long_words=False)
            fits = len(lines) == 2 and max(map(len, lines)) <= room_chars
            label = "\n".join(lines) if fits else f"{idx + 1}"
        ax.text(
            (start + end) / 2,
            1.02,
            label,
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="bottom",
            fontsize=8.5,
            color=INK,
            clip_on=False,
            linespacing=1.15,
        )


def _draw_events(axes, record: SessionRecord) -> None:
    counts = {"marker": 0, "alert": 0}
    for e in record.events:
        kind = e["kind"]
        if kind not in counts:
            continue
        counts[kind] += 1
        x = e["t_s"] / 60
        colour, style, tag = (MARKER_COLOUR, "--", "M") if kind == "marker" else (ALERT_COLOUR, "-", "A")
        for ax in axes:
            ax.axvline(x, color=colour, ls=style, lw=1.1, zorder=4)
        axes[-1].annotate(
            f"{tag}{counts[kind]}",
            (x, 0),
            xycoords=("data", "axes fraction"),
            xytext=(2, 2),
            textcoords="offset points",
            color=colour,
            fontsize=8,
            fontweight="bold",
            va="bottom",
        )


# -- a client's sessions ----------------------------------------------------------------------
@literal_text()
def client_figure(overview: ClientOverview) -> Figure:
    """Mean HR and RMSSD (session and baseline phase) and the self-reports, one column per session."""
    sessions = overview.sessions
    x = np.arange(len(sessions))
    fig = Figure(figsize=(10, 6.4), layout="constrained")
    hr_ax, rmssd_ax, report_ax = fig.subplots(3, 1, sharex=True)

    def series(attr):
        return np.array([np.nan if getattr(s, attr) is None else getattr(s, attr) for s in sessions], dtype=float)

    hr_ax.plot(x, series("mean_hr_bpm"), "o-", color=HR_COLOUR, label="session mean")
    hr_ax.plot(x, series("baseline_hr_bpm"), "s--", color=HR_COLOUR, alpha=0.55, mfc="white", label="baseline phase")
    hr_ax.set_ylabel("heart rate\n(beats/min)")
    rmssd_ax.plot(x, series("rmssd_ms"), "o-", color=RMSSD_COLOUR, label="session")
    rmssd_ax.plot(
        x, series("baseline_rmssd_ms"), "s--", color=RMSSD_COLOUR, alpha=0.55, mfc="white", label="baseline phase"
    )
    rmssd_ax.set_ylabel("RMSSD\n(ms)")
    _plot_self_reports(report_ax, overview)
    report_ax.set_xticks(x, [f"#{s.session_id}" for s in sessions])
    report_ax.set_xlabel("session")
    for ax in (hr_ax, rmssd_ax, report_ax):
        ax.set_xlim(-0.5, max(len(sessions) - 0.5, 0.5))
        _plain_axes(ax)
        ax.legend(
            loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False, ncols=2, borderaxespad=0.2
        )  # above the panel: never over a point
    return fig


def _plot_self_reports(ax, overview: ClientOverview) -> None:
    """Pain and stress before (open) and after (filled) each session, an arrow between them."""
    for offset, attr, colour, name in ((-0.08, "pain", HR_COLOUR, "pain"), (0.08, "stress", CALM_COLOUR, "stress")):
        for i, s in enumerate(overview.sessions):
            before, after = getattr(s, attr)
            if before is not None and after is not None:
                ax.annotate(
                    "",
                    (i + offset, after),
                    (i + offset, before),
                    arrowprops=dict(arrowstyle="-|>", color=colour, lw=1.4),
                )
            for value, filled in ((before, False), (after, True)):
                if value is not None:
                    ax.plot(i + offset, value, "o", color=colour, mfc=colour if filled else "white", ms=6)
        ax.plot([], [], "o-", color=colour, label=f"{name}: before ○ → after ●")
    ax.set_ylim(-0.5, 10.5)
    ax.set_yticks([0, 2, 4, 6, 8, 10])
    ax.set_ylabel("self-report\n(0–10)")
