"""Per-posture view and projection. The world is rotated to match the body; the camera never moves
on its own. World axes: +Y up, the horizon (and the low sun) straight ahead along -Z.

Matrices are numpy float32 4x4 in math convention (clip = proj @ view @ point); upload `.T` to GLSL.
"""

from __future__ import annotations

import numpy as np

from tidewell.core.frame_state import Posture

EYE_HEIGHT_M = 1.8
DEFAULT_FOV_Y_DEG = 70.0
NEAR_M = 0.05
FAR_M = 2000.0

# (forward, up): where the face points and where the top of the head points when resting.
# Seated looks a little below the horizon; lying down, the head points toward the horizon.
_REST_AXES: dict[Posture, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    Posture.SEATED: ((0.0, -0.07, -1.0), (0.0, 1.0, 0.0)),
    Posture.SUPINE: ((0.0, 1.0, 0.0), (0.0, 0.0, -1.0)),
    Posture.PRONE: ((0.0, -1.0, 0.0), (0.0, 0.0, -1.0)),
}


def rest_axes(posture: Posture) -> tuple[np.ndarray, np.ndarray]:
    """Unit forward and up vectors (orthogonal) of the resting view for a posture."""
    forward, up = (np.asarray(v, dtype=np.float64) for v in _REST_AXES[Posture(posture)])
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, up)
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return forward.astype(np.float32), up.astype(np.float32)


def eye_position(posture: Posture, eye_offset_m: float = 0.0) -> np.ndarray:
    """World position of the eye; positive offsets move it to the viewer's right."""
    forward, up = rest_axes(posture)
    right = np.cross(forward, up)
    return (np.array([0.0, EYE_HEIGHT_M, 0.0]) + eye_offset_m * right).astype(np.float32)


def look_at(eye: np.ndarray, forward: np.ndarray, up: np.ndarray) -> np.ndarray:
    f = forward / np.linalg.norm(forward)
    r = np.cross(f, up)
    r /= np.linalg.norm(r)
    u = np.cross(r, f)
    view = np.identity(4)
    view[0, :3], view[1, :3], view[2, :3] = r, u, -f
    view[:3, 3] = -view[:3, :3] @ eye
    return view.astype(np.float32)


def perspective(fov_y_deg: float, aspect: float, near: float = NEAR_M, far: float = FAR_M) -> np.ndarray:
    if not (0.0 < fov_y_deg < 180.0) or aspect <= 0.0:
        raise ValueError(f"bad projection: fov_y_deg={fov_y_deg} (0..180), aspect={aspect} (> 0)")
    f = 1.0 / np.tan(np.radians(fov_y_deg) / 2.0)
    proj = np.zeros((4, 4))
    proj[0, 0] = f / aspect
    proj[1, 1] = f
    proj[2, 2] = (far + near) / (near - far)
    proj[2, 3] = 2.0 * far * near / (near - far)
    proj[3, 2] = -1.0
    return proj.astype(np.float32)


def view_projection(
    posture: Posture, eye_offset_m: float = 0.0, fov_y_deg: float = DEFAULT_FOV_Y_DEG, aspect: float = 16.0 / 9.0
) -> tuple[np.ndarray, np.ndarray]:
    """(view, proj) for one eye; stereo renders call this with -ipd/2 and +ipd/2."""
    forward, up = rest_axes(posture)
    view = look_at(eye_position(posture, eye_offset_m).astype(np.float64), forward, up)
    return view, perspective(fov_y_deg, aspect)
