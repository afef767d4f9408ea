"""`tidewell report`: a session's or a client's report as a page, files or a text summary."""

from __future__ import annotations

import sys

from tidewell.core.words import plural
from tidewell.sessions.export import ExportError, export_csv, export_json, load_session
from tidewell.sessions.report.page import write_overview_html, write_record_html
from tidewell.sessions.report.text import client_text, session_text
from tidewell.sessions.report.trends import client_overview
from tidewell.sessions.store import SessionStore


def report_command(
    store: SessionStore,
    session_id: int | None,
    client: str | None,
    html: str | None,
    csv: str | None,
    json_path: str | None,
    anonymize: bool,
    progress: bool | None = None,
    pdf: str | None = None,
    fhir: str | None = None,
) -> int:
    """`tidewell report SESSION [--html F] [--csv F] [--json F] [--anonymize]` or
    `tidewell report --client NAME [--html F] [--pdf F] [--fhir F] [--anonymize]`. Prints what it wrote
    (and, for a client, a text summary; for a session, one when no file is asked for). Returns 0, 2 for a
    usage error or an unknown session or client, 1 when a file cannot be written; messages go to stderr,
    never a traceback."""

    def fail(message: str, code: int = 2) -> int:
        print(f"tidewell report: {message}", file=sys.stderr)
        return code

    if (session_id is None) == (client is None):
        return fail("give either a session number or --client NAME")
    if client is None and (pdf or fhir):
        return fail("--pdf and --fhir write a client's course report: give --client NAME instead of a session number")
    try:
        if client is not None:
            if csv or json_path:
                return fail("--csv and --json export one session: give its number instead of --client")
            overview = client_overview(store, client, anonymize, progress)
        else:
            record = load_session(store, session_id, anonymize=anonymize, progress=progress)
    except ExportError as exc:
        return fail(str(exc))
    if client is not None:
        try:
            _client_files(store, overview, client, html, pdf, fhir, anonymize, progress)
        except ExportError as exc:
            return fail(str(exc), 1)
        return 0
    try:
        if not (html or csv or json_path):
            print(session_text(record))
        if html:
            print(f"wrote HTML report: {write_record_html(record, html, progress)}")
        if csv:
            samples_path, beats_path = export_csv(record, csv, progress)
            print(f"wrote samples CSV: {samples_path} ({plural(len(record.samples), 'row')})")
            print(f"wrote beats CSV: {beats_path} ({plural(len(record.beats), 'row')})")
        if json_path:
            print(f"wrote JSON: {export_json(record, json_path, progress)}")
    except ExportError as exc:
        return fail(str(exc), 1)
    if anonymize:
        print("anonymized: " + "; ".join(record.removed))
    return 0


def _client_files(store, overview, client: str, html, pdf, fhir, anonymize: bool, progress) -> None:
    """The client's summary, then the files asked for; raises ExportError when one cannot be written."""
    print(client_text(overview))
    if html:
        print(f"wrote client report: {write_overview_html(overview, html)}")
    if not (pdf or fhir):
        return
    # imported here: the course report reads sessions/course.py, which imports this package's trends
    from tidewell.sessions.course_report import course_report, write_course_fhir, write_course_pdf

    report = course_report(store, client, anonymize, progress)
    if pdf:
        print(f"wrote course report PDF: {write_course_pdf(report, pdf)}")
    if fhir:
        print(f"wrote FHIR R4 bundle: {write_course_fhir(report, fhir)}")
    if anonymize:
        print("anonymized: " + "; ".join(report.removed))
