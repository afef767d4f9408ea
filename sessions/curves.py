"""The program's [curves]: how calm maps to what scenes, light and sound receive."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Curve:
    """Piecewise-linear map from calm (0..1) to a level, through (calm, value) points."""

    points: tuple[tuple[float, float], ...]

    def __call__(self, calm: float) -> float:
        if calm <= self.points[0][0]:
            return self.points[0][1]
        for (x0, y0), (x1, y1) in zip(self.points, self.points[1:]):
            if calm <= x1:
                return y0 + (y1 - y0) * (calm - x0) / (x1 - x0) if x1 > x0 else y1
        return self.points[-1][1]


DEFAULT_CURVES = {
    "visual_calm": Curve(((0.0, 0.0), (1.0, 1.0))),  # what scenes receive as u_calm
    "brightness": Curve(((0.0, 1.0), (1.0, 0.85))),  # a calmer client gets a slightly dimmer world
    "volume": Curve(((0.0, 1.0), (1.0, 0.9))),
}
