"""What every heart-rate source delivers: RR intervals stamped on the session clock.

Every source has every method of BeatSource; one with nothing to say (a simulated heart, an RR file)
answers with nothing: the session loop never asks which kind it holds.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol, runtime_checkable


class RawRR(NamedTuple):
    t_s: float  # session clock time at which the beat ends
    rr_ms: float  # interval from the previous beat, as the source reported it


@runtime_checkable
class BeatSource(Protocol):
    name: str
    description: str

    @property
    def finished(self) -> bool:
        """True once a replay has released its last beat; live sources never finish."""

    def poll(self, now_s: float, breath_level: float) -> list[RawRR]:
        """All beats ending at or before now_s that were not returned yet, oldest first.

        breath_level (0..1) is the guide's current lung fill; only a simulated heart uses it.
        """

    def drain_status(self) -> list:
        """What the sensor said about itself since the last call: sensors/packets.py SensorEvents
        (connected, contact lost, ...)."""

    def drain_packets(self) -> list[tuple[float, bytes]]:
        """The raw packets (receipt time, bytes) since the last call, for the session log."""

    def stop(self) -> None:
        """Let go of the sensor (a Bluetooth link, its thread) at the session's end."""
