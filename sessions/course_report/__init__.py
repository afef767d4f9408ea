"""The course report for the referring provider (`tidewell report --client NAME --pdf FILE --fhir FILE`):
a PDF of two pages at most (pdf.py, pdf_sections.py, plots.py) and an HL7 FHIR R4 Bundle (fhir.py), both
read from one CourseReport (data.py) built on the course summary (sessions/course.py), and the method
notes both carry (methods.py). Files are written owner-only (write.py).

Nothing below sessions/report or sessions/course imports this package: it imports them."""

from tidewell.sessions.course_report.data import COURSE_ANONYMIZED_REMOVALS, CourseReport, course_report
from tidewell.sessions.course_report.fhir import LOCAL_CODES, bundle_json, write_course_fhir
from tidewell.sessions.course_report.pdf import MAX_PAGES, course_pdf, write_course_pdf

__all__ = [
    "COURSE_ANONYMIZED_REMOVALS",
    "LOCAL_CODES",
    "MAX_PAGES",
    "CourseReport",
    "bundle_json",
    "course_pdf",
    "course_report",
    "write_course_fhir",
    "write_course_pdf",
]
