"""Replay of the raw Bluetooth packets a session logged, through the same decoder as live data."""

from __future__ import annotations

from tidewell.sensors.packets import PacketDecoder, SensorEvent
from tidewell.sensors.source import RawRR


class PacketReplay:
    """Releases each logged packet when the clock reaches its receipt time, so a replayed session
    rebuilds the recorded beats exactly. `disconnects` are the logged link losses: the live source
    restarts its beat chain there, and so does the replay."""

    name = "replay"

    def __init__(self, packets: list[tuple[float, bytes]], description: str, disconnects: list[float] = ()):
        self.description = description
        # a disconnect sorts before a packet of the same time: the link was gone before it came back
        items = [(t, 0, b"") for t in disconnects] + [(t, 1, data) for t, data in packets]
        self._items = sorted(items, key=lambda item: (item[0], item[1]))
        self._packets = [item for item in self._items if item[1] == 1]
        self._next = 0
        self._decoder = PacketDecoder()
        self._status: list[SensorEvent] = []
        self._released: list[tuple[float, bytes]] = []

    def __len__(self) -> int:
        return len(self._packets)

    @property
    def finished(self) -> bool:
        return self._next >= len(self._items)

    def poll(self, now_s: float, breath_level: float = 0.5) -> list[RawRR]:
        beats: list[RawRR] = []
        while self._next < len(self._items) and self._items[self._next][0] <= now_s:
            t_s, is_packet, data = self._items[self._next]
            self._next += 1
            if not is_packet:
                self._decoder.timeline.reset()
                continue
            self._released.append((t_s, data))
            new_beats, events = self._decoder.feed(t_s, data)
            beats += new_beats
            self._status += events
        return beats

    def drain_status(self) -> list[SensorEvent]:
        events, self._status = self._status, []
        return events

    def drain_packets(self) -> list[tuple[float, bytes]]:
        packets, self._released = self._released, []
        return packets

    def stop(self) -> None:
        pass  # nothing to let go of
