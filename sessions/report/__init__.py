"""Session and client reports: one self-contained HTML page to print or attach to clinical notes (page.py,
its templates and figures.py), a client's trends across sessions (trends.py), a plain-text summary for the
terminal (text.py), and `tidewell report` (command.py). Every number comes from sessions/hrv.py through
the session record of sessions/export.py, so the page, the terminal and the files agree.

What anonymize=True removes is listed in sessions/export.py (ANONYMIZED_REMOVALS) and on the page.
"""

from tidewell.sessions.report.command import report_command
from tidewell.sessions.report.figures import client_figure, session_figure
from tidewell.sessions.report.formatting import clock, num
from tidewell.sessions.report.page import (
    client_html,
    html_report,
    record_html,
    session_html,
    write_client_report,
    write_html_report,
    write_overview_html,
    write_record_html,
)
from tidewell.sessions.report.text import client_text, session_text
from tidewell.sessions.report.trends import ClientOverview, ClientSession, client_overview

__all__ = [
    "ClientOverview",
    "ClientSession",
    "client_figure",
    "client_html",
    "client_overview",
    "client_text",
    "clock",
    "html_report",
    "num",
    "record_html",
    "report_command",
    "session_figure",
    "session_html",
    "session_text",
    "write_client_report",
    "write_html_report",
    "write_overview_html",
    "write_record_html",
]
