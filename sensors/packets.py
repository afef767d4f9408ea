"""From timestamped 0x2A37 packets to beats and sensor states: shared by live Bluetooth and replay."""

from __future__ import annotations

from dataclasses import dataclass

from tidewell.sensors.hrm import parse_hrm
from tidewell.sensors.source import RawRR

RESYNC_S = 1.5  # re-anchor the beat chain to receipt time when it drifts further than this


@dataclass(frozen=True)
class SensorEvent:
    t_s: float
    kind: str  # connected, disconnected, contact_lost, contact_back, malformed, battery, body_location, error
    detail: str = ""


class BeatTimeline:
    """RR values → beat end times.

    A packet received at T lists RRs oldest first, and its newest beat ended just before T. Beats
    are chained from the previous beat so packet jitter does not reach the beat times; the chain is
    re-anchored to T - sum(RR) after a gap or when it drifts more than RESYNC_S from receipt time.
    Packets without RR values add no beats.
    """

    def __init__(self):
        self.last_beat_s: float | None = None

    def add(self, received_s: float, rr_ms: tuple[float, ...]) -> list[RawRR]:
        if not rr_ms:
            return []
        span_s = sum(rr_ms) / 1000.0
        start = received_s - span_s
        if self.last_beat_s is not None and abs(self.last_beat_s + span_s - received_s) <= RESYNC_S:
            start = self.last_beat_s
        elif self.last_beat_s is not None:
            start = max(start, self.last_beat_s)  # beat times never run backwards
        beats = []
        t = start
        for rr in rr_ms:
            t += rr / 1000.0
            beats.append(RawRR(t, rr))
        self.last_beat_s = t
        return beats

    def reset(self) -> None:
        """After a disconnect: the next packet starts a new chain."""
        self.last_beat_s = None


class PacketDecoder:
    """Parses packets, rebuilds beat times and turns sensor contact into states, not data: RR
    values from a packet that says 'no contact' are not beats."""

    def __init__(self):
        self.timeline = BeatTimeline()
        self.contact: str | None = None
        self.malformed = 0
        self.packets = 0
        self.last_hr_bpm: int | None = None

    def feed(self, t_s: float, data: bytes) -> tuple[list[RawRR], list[SensorEvent]]:
        self.packets += 1
        m = parse_hrm(data)
        events = []
        if not m.valid:
            self.malformed += 1
            events.append(SensorEvent(t_s, "malformed", f"{data.hex()}: {m.error}"))
        if m.sensor_contact != self.contact:
            if m.sensor_contact == "not_detected":
                events.append(SensorEvent(t_s, "contact_lost", "the sensor reports no skin contact"))
            elif self.contact == "not_detected":
                events.append(SensorEvent(t_s, "contact_back", m.sensor_contact))
            self.contact = m.sensor_contact
        if m.sensor_contact == "not_detected":
            self.timeline.reset()
            return [], events
        if m.hr_bpm:
            self.last_hr_bpm = m.hr_bpm
        return self.timeline.add(t_s, m.rr_ms), events
