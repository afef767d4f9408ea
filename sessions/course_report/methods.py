"""How each number in the course report is computed, in words: the PDF's method notes and each FHIR
Observation's method text say the same."""

from __future__ import annotations

from tidewell.sessions.course import (
    FMS_SUGGEST_EYES_CLOSED,
    SSQ_SUBSCALES,
    SSQ_TOTAL_SUGGEST_EYES_CLOSED,
    SSQ_TOTAL_WEIGHT,
)
from tidewell.sessions.hrv import MIN_NN_BEATS, MIN_NN_PAIRS

BEATS = (
    "Beats from the chest strap or watch (or the simulated heart) are corrected Kubios-style; "
    f"a number needs at least {MIN_NN_BEATS} NN intervals (HR, SDNN) or {MIN_NN_PAIRS} successive differences "
    "(RMSSD), else it is left out."
)
BASELINE = "the baseline phase is the session's first settle phase, else its first phase"
_SSQ_WEIGHTS = ", ".join(f"{name[0].upper()} x {weight:g}" for name, (_, weight) in SSQ_SUBSCALES.items())

METHODS = {
    "mean_hr": "heart rate = 60000 / mean NN interval (ms) over the whole session",
    "baseline_hr": f"heart rate = 60000 / mean NN interval over the baseline phase ({BASELINE}); the course "
    "plot's resting heart rate",
    "sdnn": "SDNN = standard deviation (ddof 1) of the whole session's NN intervals",
    "rmssd": "RMSSD = root mean square of the differences of adjacent NN intervals over the whole session",
    "rmssd_change": "each phase after the baseline phase: its RMSSD minus the baseline phase's, averaged with "
    "each phase weighted by its length",
    "calm": "mean of the 4 Hz calm index after the baseline phase; calm = 0.5 + 2 x the relative HR drop below "
    "the baseline + 0.25 per doubling of RMSSD, clipped to 0-1 and smoothed over 20 s",
    "pain": "the client's verbal rating, 0 no pain to 10 worst imaginable, before and after the session",
    "stress": "the client's verbal rating, 0 none to 10 worst, before and after the session",
    "fms": "Fast Motion sickness Scale (Keshavarz and Hecht 2011): one rating after the session, 0 no sickness "
    f"at all to 20 frank sickness; {FMS_SUGGEST_EYES_CLOSED} or more suggests the eyes-closed scene next time",
    "ssq": "Simulator Sickness Questionnaire (Kennedy, Lane, Berbaum and Lilienthal 1993): 16 symptoms rated "
    f"0-3, subscale raw sums weighted {_SSQ_WEIGHTS}, total = the three raw sums x {SSQ_TOTAL_WEIGHT:g}; a total "
    f"above {SSQ_TOTAL_SUGGEST_EYES_CLOSED:g} suggests the eyes-closed scene next time",
}
FLAGS = (
    "Cybersickness is flagged as rising when the last three FMS ratings rose each time or the latest is 3 or more "
    "above the first."
)
HRV_NOT_INTERPRETABLE = (
    "HRV is not interpretable where the intake lists arrhythmia or a pacemaker (RMSSD, SDNN and the spectrum "
    "follow the rhythm disorder or the pacemaker, not vagal tone) or beta blockers (they blunt heart-rate "
    "responses and raise HRV): those sessions' resting heart rate, SDNN, RMSSD, RMSSD change and calm index "
    "are withheld, here and in the FHIR bundle."
)
