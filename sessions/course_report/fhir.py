"""The course as an HL7 FHIR R4 Bundle of type collection (`tidewell report --client NAME --fhir FILE`).

A Patient with only an identifier (the pseudonym, or its anonymous code), one Encounter per session and
its Observations, each with subject, encounter, a time (effectiveDateTime or effectivePeriod) and a
valueQuantity in UCUM units. LOINC codes where LOINC has one (clinic.md, checked at loinc.org):
8867-4 heart rate (/min), 80404-7 R-R interval standard deviation (SDNN, ms), 72514-3 pain severity 0-10
verbal numeric rating (reported, {score}). The rest have no LOINC code known to us and use Tidewell's
local CodeSystem LOCAL_CODES (documented in the README): rmssd, rmssd-change, calm-index, stress, fms,
ssq-total with components ssq-nausea, ssq-oculomotor, ssq-disorientation.

Under anonymize the bundle holds no calendar date or time: Encounter.period, effective[x] and the
bundle's timestamp are left out (FHIR allows that: each is 0..1); Encounter.length keeps the duration.
Every bundle is validated with fhir.resources (its R4B models) before it is written."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path

from tidewell.sessions.course import CourseSession
from tidewell.sessions.course_report.data import HRV_MEASURES, CourseReport, offset
from tidewell.sessions.course_report.methods import METHODS
from tidewell.sessions.course_report.write import write_file

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
LOCAL = "https://tidewell.invalid/fhir"  # .invalid (RFC 6761) is reserved: the URIs name, and are never fetched
LOCAL_CODES = f"{LOCAL}/CodeSystem/measures"
PSEUDONYM_SYSTEM = f"{LOCAL}/NamingSystem/pseudonym"
ANONYMOUS_SYSTEM = f"{LOCAL}/NamingSystem/anonymous-code"
SESSION_SYSTEM = f"{LOCAL}/NamingSystem/session"
CATEGORIES = "http://terminology.hl7.org/CodeSystem/observation-category"
ACT_CODES = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
ENCOUNTER_STATUS = {"completed": "finished", "ended_early": "finished", "interrupted": "finished"}
IDS = uuid.uuid5(uuid.NAMESPACE_URL, LOCAL)


@dataclass(frozen=True)
class Measure:
    system: str
    code: str
    display: str
    unit: str  # UCUM
    category: str | None  # observation-category
    digits: int = 1


MEASURES = {
    "mean_hr": Measure(LOINC, "8867-4", "Heart rate", "/min", "vital-signs"),
    "baseline_hr": Measure(LOINC, "8867-4", "Heart rate", "/min", "vital-signs"),
    "sdnn": Measure(LOINC, "80404-7", "R-R interval.standard deviation (Heart rate variability)", "ms", None),
    "rmssd": Measure(LOCAL_CODES, "rmssd", "RMSSD, root mean square of successive NN differences", "ms", None),
    "rmssd_change": Measure(LOCAL_CODES, "rmssd-change", "RMSSD change from the baseline phase", "ms", None),
    "calm": Measure(LOCAL_CODES, "calm-index", "Tidewell calm index (0-1)", "1", None, digits=3),
    "pain": Measure(
        LOINC, "72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported", "{score}", "survey", digits=0
    ),
    "stress": Measure(LOCAL_CODES, "stress", "Stress, self-rated 0-10", "{score}", "survey", digits=0),
    "fms": Measure(LOCAL_CODES, "fms", "Fast Motion sickness Scale (FMS), 0-20", "{score}", "survey", digits=0),
    "ssq_total": Measure(
        LOCAL_CODES, "ssq-total", "Simulator Sickness Questionnaire, total score", "{score}", "survey"
    ),
}
TEXTS = {
    "mean_hr": "heart rate, session mean",
    "baseline_hr": "heart rate, baseline phase (resting)",
    "sdnn": "SDNN, whole session",
    "rmssd": "RMSSD, whole session",
    "rmssd_change": "RMSSD change from the baseline phase",
    "calm": "calm index, mean after the baseline phase",
}
SSQ_COMPONENTS = ("nausea", "oculomotor", "disorientation")


def bundle_json(report: CourseReport) -> dict:
    """The bundle as FHIR JSON, validated by fhir.resources' R4B models (pydantic's ValidationError
    would be a bug here: nothing is written then)."""
    from fhir.resources.R4B.bundle import Bundle  # its models take a moment to build: only when asked

    client = report.course.client
    patient = _id(client, "patient")
    system = ANONYMOUS_SYSTEM if report.anonymized else PSEUDONYM_SYSTEM
    entries = [_entry(patient, {"resourceType": "Patient", "identifier": [{"system": system, "value": client}]})]
    for s in report.course.sessions:
        entries += _session_entries(report, s, patient)
    bundle = {"resourceType": "Bundle", "id": _id(client, "bundle"), "type": "collection"}
    if report.made_at:
        bundle["timestamp"] = report.made_at
    bundle["entry"] = entries
    Bundle.model_validate(bundle)
    return bundle


def write_course_fhir(report: CourseReport, path: str | Path) -> Path:
    """Raises ExportError when the file cannot be written."""
    return write_file(Path(path), json.dumps(bundle_json(report), indent=1, ensure_ascii=False) + "\n")


def _id(client: str, *parts) -> str:
    return str(uuid.uuid5(IDS, "/".join(map(str, (client, *parts)))))


def _entry(resource_id: str, resource: dict) -> dict:
    return {
        "fullUrl": f"urn:uuid:{resource_id}",
        "resource": {"resourceType": resource["resourceType"], "id": resource_id, **resource},
    }


def _ref(resource_id: str) -> dict:
    return {"reference": f"urn:uuid:{resource_id}"}


def _session_entries(report: CourseReport, s: CourseSession, patient: str) -> list[dict]:
    cs, detail = s.session, report.detail(s)
    encounter = _id(report.course.client, "session", cs.session_id)
    resource = {
        "resourceType": "Encounter",
        "identifier": [{"system": SESSION_SYSTEM, "value": str(cs.session_id)}],
        "status": ENCOUNTER_STATUS.get(cs.status, "in-progress"),
        "class": {"system": ACT_CODES, "code": "AMB", "display": "ambulatory"},
        "type": [{"text": f"Tidewell VR relaxation session: {cs.program_title}"}],
        "subject": _ref(patient),
    }
    whole = None
    if detail.started_at:
        whole = {"start": detail.started_at, "end": detail.ended_at}
        resource["period"] = whole
    resource["length"] = _quantity(round(cs.duration_s / 60, 2), "min")
    entries = [_entry(encounter, resource)]

    def observe(name: str, key: str, value, when: dict, text: str | None = None, **extra) -> None:
        if value is None and not (name in HRV_MEASURES and s.hrv_note):
            return  # not enough data, or not asked
        obs = _observation(name, value, text or TEXTS[name], s.hrv_note, extra)
        obs.update(subject=_ref(patient), encounter=_ref(encounter), **when)
        entries.append(_entry(_id(report.course.client, "session", cs.session_id, key), obs))

    for name in TEXTS:
        observe(name, name, report.value(s, name), _effective_period(whole, detail, name))
    for name, pair in (("pain", cs.pain), ("stress", cs.stress)):
        for moment, value in zip(("before", "after"), pair):
            when = _effective_time(detail.reported_at.get(moment))
            observe(name, f"{name}-{moment}", value, when, f"{name} {moment} the session")
    rated = _effective_time(detail.rated_at)
    observe("fms", "fms", s.fms, rated, "motion sickness after the session (FMS)")
    if s.ssq is not None:
        parts = [_component(part, getattr(s.ssq, part)) for part in SSQ_COMPONENTS]
        observe("ssq_total", "ssq", s.ssq.total, rated, "simulator sickness after the session (SSQ)", component=parts)
    return entries


def _observation(name: str, value, text: str, hrv_note: str | None, extra: dict) -> dict:
    m = MEASURES[name]
    obs = {"resourceType": "Observation", "status": "final"}
    if m.category:
        obs["category"] = [{"coding": [{"system": CATEGORIES, "code": m.category}]}]
    obs["code"] = {"coding": [{"system": m.system, "code": m.code, "display": m.display}], "text": text}
    if value is None:  # an HRV measure of a session whose HRV is not interpretable
        obs["dataAbsentReason"] = {
            "coding": [{"system": DATA_ABSENT, "code": "not-applicable"}],
            "text": f"HRV not interpretable: {hrv_note}",
        }
    else:
        obs["valueQuantity"] = _quantity(round(float(value), m.digits) if m.digits else int(value), m.unit)
    obs["method"] = {"text": METHODS["ssq" if name == "ssq_total" else name]}
    return {**obs, **extra}


def _component(part: str, value: float) -> dict:
    return {
        "code": {"coding": [{"system": LOCAL_CODES, "code": f"ssq-{part}", "display": f"SSQ {part} subscale"}]},
        "valueQuantity": _quantity(round(value, 1), "{score}"),
    }


def _quantity(value: float, unit: str) -> dict:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def _effective_period(whole: dict | None, detail, name: str) -> dict:
    """The baseline phase for its heart rate, the phases after it for the change and calm, else the session."""
    if whole is None:
        return {}
    span = detail.baseline_span_s
    if span is None or name not in ("baseline_hr", "rmssd_change", "calm"):
        return {"effectivePeriod": whole}
    start = offset(detail.started_at, span[0] if name == "baseline_hr" else span[1])
    end = offset(detail.started_at, span[1]) if name == "baseline_hr" else whole["end"]
    return {"effectivePeriod": {"start": start, "end": end}}


def _effective_time(when: str | None) -> dict:
    return {"effectiveDateTime": when} if when else {}
