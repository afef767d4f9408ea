"""The course report as a PDF for the referring provider (`tidewell report --client NAME --pdf FILE`),
laid out by reportlab: A4, two pages at most. Where the course is too long for two pages, the tables
list the latest sessions and long texts are shortened (the plots always show every session).

Text is set in DejaVu Sans (matplotlib's own copy, embedded as a subset), so goals in any Latin, Greek
or Cyrillic script print as typed. Under anonymize the PDF's metadata holds no date either."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib
from reportlab.lib.colors import HexColor
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Image, SimpleDocTemplate

from tidewell.sessions.course_report import pdf_sections as section
from tidewell.sessions.course_report.data import CourseReport
from tidewell.sessions.course_report.plots import course_png, figure_size_in, panels
from tidewell.sessions.course_report.write import write_file

MAX_PAGES = 2
MARGIN = 1.4 * cm
FONT, BOLD = "TidewellSans", "TidewellSans-Bold"
# From the most detail to the least: the first that fits on MAX_PAGES is written.
FITS = (
    section.Fit(),
    section.Fit(rows=16, changes=10, chars=400),
    section.Fit(rows=8, changes=5, chars=200),
    section.Fit(rows=4, changes=2, chars=90),
)
INK = HexColor("#1a1a1a")
MUTED = HexColor("#5a5a5a")


def _fonts() -> None:
    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    pdfmetrics.registerFont(TTFont(FONT, str(folder / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(BOLD, str(folder / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=BOLD, italic=FONT, boldItalic=BOLD)


def _styles() -> dict[str, ParagraphStyle]:
    body = ParagraphStyle("body", fontName=FONT, fontSize=8.5, leading=10.6, textColor=INK, spaceAfter=1)
    return {
        "title": ParagraphStyle("title", parent=body, fontName=BOLD, fontSize=15, leading=18, spaceAfter=2),
        "heading": ParagraphStyle(
            "heading", parent=body, fontName=BOLD, fontSize=10.5, leading=13, spaceAfter=2, keepWithNext=1
        ),
        "body": body,
        "muted": ParagraphStyle("muted", parent=body, textColor=MUTED),
        "small": ParagraphStyle("small", parent=body, fontSize=7.3, leading=9, textColor=INK),
        "cell": ParagraphStyle("cell", parent=body, fontSize=7.3, leading=8.6, spaceAfter=0),
    }


def course_pdf(report: CourseReport) -> bytes:
    """The PDF's bytes: the most detailed layout that fits on MAX_PAGES pages."""
    _fonts()
    styles = _styles()
    plot = course_png(report.course) if report.course.sessions and panels(report.course) else None
    for fit in FITS:
        data, pages = _build(report, styles, plot, fit)
        if pages <= MAX_PAGES:
            break
    return data  # the last layout, whose tables and texts are short enough for any course


def write_course_pdf(report: CourseReport, path: str | Path) -> Path:
    """Raises ExportError when the file cannot be written."""
    return write_file(Path(path), course_pdf(report))


def _build(report: CourseReport, styles, plot: bytes | None, fit: section.Fit) -> tuple[bytes, int]:
    buffer = io.BytesIO()
    client = report.course.client
    title = f"Treatment course report, {client if report.anonymized else f'client {client}'}"
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + 0.3 * cm,
        title=title,
        author="Tidewell",
        creator="Tidewell",
        subject="VR relaxation sessions during massage: the course for the referring provider",
        invariant=1 if report.anonymized else 0,  # a fixed creation date: none that identifies
        lang="en",
    )
    pages: list[int] = []

    def footer(canvas, doc) -> None:
        pages.append(canvas.getPageNumber())
        canvas.saveState()
        canvas.setFont(FONT, 7)
        canvas.setFillColor(MUTED)
        canvas.drawString(MARGIN, MARGIN * 0.6, f"Tidewell · {title}")
        canvas.drawRightString(A4[0] - MARGIN, MARGIN * 0.6, f"page {canvas.getPageNumber()}")
        canvas.restoreState()

    doc.build(_story(report, styles, plot, fit, doc.width), onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue(), len(pages)


def _story(report: CourseReport, styles, plot: bytes | None, fit: section.Fit, width: float) -> list:
    story = section.overview(report, styles) + section.goals(report, styles, fit)
    story += section.heading("Measures over the course", styles)
    if plot is None:
        nothing = "no sessions logged yet" if not report.course.sessions else "the plan tracks no measure"
        story.append(section.para(f"{nothing}: nothing to plot", styles["muted"]))
    else:
        plot_w, plot_h = figure_size_in(report.course)
        story.append(Image(io.BytesIO(plot), width=width, height=width * plot_h / plot_w))
    story += section.sessions_table(report, styles, fit, width)
    story += section.precautions(report, styles, fit)
    story += section.cybersickness(report, styles, fit, width)
    story += section.reassessments(report, styles, width)
    story += section.method_notes(report, styles)
    return story
