"""The JSON bodies the console's API accepts, validated strictly from the raw bytes (pydantic).

Strict: no string is read as a number or a boolean, no float as an integer; unknown keys are
refused, so a misspelt field is reported rather than silently ignored. Wrong input becomes a 422
naming the field.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError

from tidewell.core.errors import TidewellError
from tidewell.core.limits import MAX_NOTE_CHARS, MAX_ROW_ID
from tidewell.core.terminal import control_characters
from tidewell.sessions.program import MAX_PROGRAM_MINUTES, MIN_SCALED_MINUTES
from tidewell.sessions.pseudonyms import checked_pseudonym

MARKER_MAX = 200


def _printable(text: str) -> str:
    """Free text from the tablet, with no control characters (they would reach terminals and logs)."""
    found = control_characters(text)
    if found:
        raise ValueError(f"control characters are not allowed, got {''.join(found)!r}")
    return text


RowId = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]
Score = Annotated[int, Field(ge=0, le=10)] | None
RequestId = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")] | None


class Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)


class PairBody(Body):
    code: Annotated[str, Field(max_length=20)]


class NewClient(Body):
    pseudonym: Annotated[str, BeforeValidator(checked_pseudonym)]


class Rating(Body):
    pain: Score = None
    stress: Score = None
    note: Annotated[str, Field(max_length=MAX_NOTE_CHARS), AfterValidator(_printable)] = ""


class RatingBody(Rating):
    moment: Literal["before", "after"] = "after"


class StartBody(Body):
    client_id: RowId
    program: Annotated[str, Field(max_length=100)]
    minutes: Annotated[float, Field(ge=MIN_SCALED_MINUTES, le=MAX_PROGRAM_MINUTES)] | None = None
    before: Rating = Rating()
    request_id: RequestId = None
    eyes_closed: bool = False  # every phase in the eyes-closed scene


class NextControl(Body):
    action: Literal["next"]
    from_phase: Annotated[int, Field(ge=0, le=10_000)]
    request_id: RequestId = None


class PauseControl(Body):
    action: Literal["pause"]
    paused: bool
    request_id: RequestId = None


class MarkerControl(Body):
    action: Literal["marker"]
    text: Annotated[str, Field(max_length=MARKER_MAX), AfterValidator(_printable)] | None = None
    request_id: RequestId = None


class EndControl(Body):
    action: Literal["end"]
    request_id: RequestId = None


Control = TypeAdapter(Annotated[NextControl | PauseControl | MarkerControl | EndControl, Field(discriminator="action")])
Parsed = TypeVar("Parsed")


class BadBody(TidewellError, ValueError):
    """A body that does not fit its schema; str() names each field and what is wrong with it."""

    def __init__(self, error: ValidationError):
        self.problems = [
            {"field": _field(e), "problem": e["msg"].removeprefix("Value error, ")}
            for e in error.errors(include_url=False, include_input=False, include_context=False)
        ]
        super().__init__("; ".join(f"{p['field']}: {p['problem']}" for p in self.problems))


def parse(schema: type[Parsed] | TypeAdapter, raw: bytes) -> Parsed:
    try:
        if isinstance(schema, TypeAdapter):
            return schema.validate_json(raw)
        return schema.model_validate_json(raw)
    except ValidationError as error:
        raise BadBody(error) from None


def _field(error: dict) -> str:
    if error["type"].startswith("union_tag"):
        return "action"
    loc = [str(part) for part in error["loc"]]
    if loc and loc[0] in ("next", "pause", "marker", "end"):
        loc = loc[1:]  # the union's tag, already implied by the action
    return ".".join(loc) or "body"
