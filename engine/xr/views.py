"""From OpenXR poses and fields of view to the renderer's per-eye camera.

The runtime reports each eye's pose in its tracking space (LOCAL or STAGE: +Y up, -Z ahead when the
session started). The world is laid out for the body (engine/render/camera.py: lying face-up the
sky is overhead). BodyFrame ties the two together: at a recenter, the head's pose at that moment
becomes the posture's resting view; from then on only the head moves the camera.

Matrices are float64 4x4 in math convention (clip = proj @ view @ point), as in camera.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from tidewell.core.frame_state import Posture
from tidewell.engine.render import camera


def quaternion_matrix(x: float, y: float, z: float, w: float) -> np.ndarray:
    """3x3 rotation of a unit quaternion (normalised here: runtimes hand out slightly off ones)."""
    norm = math.sqrt(x * x + y * y + z * z + w * w)
    if norm == 0.0:
        return np.identity(3)
    x, y, z, w = x / norm, y / norm, z / norm, w / norm
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def pose_matrix(orientation: tuple[float, float, float, float], position: tuple[float, float, float]) -> np.ndarray:
    """4x4 transform from a pose's own space to the space it is given in."""
    matrix = np.identity(4)
    matrix[:3, :3] = quaternion_matrix(*orientation)
    matrix[:3, 3] = position
    return matrix


@lru_cache(maxsize=16)  # a headset's fields of view stay the same frame after frame
def projection_and_inverse(left: float, right: float, up: float, down: float) -> tuple[np.ndarray, np.ndarray]:
    proj = projection_from_fov(left, right, up, down)
    return proj, np.linalg.inv(proj)


def projection_from_fov(
    left: float, right: float, up: float, down: float, near: float = camera.NEAR_M, far: float = camera.FAR_M
) -> np.ndarray:
    """OpenGL projection for an OpenXR field of view (angles in radians; left and down negative).
    Headset fields of view are asymmetric, so this is an off-centre frustum."""
    tan_left, tan_right, tan_up, tan_down = (math.tan(a) for a in (left, right, up, down))
    width, height = tan_right - tan_left, tan_up - tan_down
    if width <= 0 or height <= 0 or not near < far:
        raise ValueError(f"bad field of view: left={left} right={right} up={up} down={down}")
    proj = np.zeros((4, 4))
    proj[0, 0] = 2.0 / width
    proj[0, 2] = (tan_right + tan_left) / width
    proj[1, 1] = 2.0 / height
    proj[1, 2] = (tan_up + tan_down) / height
    proj[2, 2] = -(far + near) / (far - near)
    proj[2, 3] = -2.0 * far * near / (far - near)
    proj[3, 2] = -1.0
    return proj


@dataclass(frozen=True)
class EyeView:
    """One eye's camera in world space, ready for the renderer."""

    eye_to_world: np.ndarray  # the inverse of the view matrix
    proj: np.ndarray
    proj_inverse: np.ndarray
    eye_pos: np.ndarray  # world position of this eye
    head_pos: np.ndarray  # world position between the eyes
    posture: Posture

    @property
    def view(self) -> np.ndarray:
        """world -> eye: the inverse of a rigid transform."""
        rotation = self.eye_to_world[:3, :3]
        view = np.identity(4)
        view[:3, :3] = rotation.T
        view[:3, 3] = -rotation.T @ self.eye_to_world[:3, 3]
        return view

    def uniforms(self) -> dict:
        forward, up = _rest_axes(self.posture)
        inverse = self.eye_to_world @ self.proj_inverse  # (proj @ view)^-1 without inverting per frame
        return {
            "u_inv_view_proj": inverse.astype("f4").T.tobytes(),
            "u_eye_pos": tuple(float(v) for v in self.eye_pos),
            "u_head_pos": tuple(float(v) for v in self.head_pos),
            "u_rest_forward": forward,
            "u_rest_up": up,
        }


@lru_cache(maxsize=8)
def _rest_axes(posture: Posture) -> tuple[tuple[float, ...], tuple[float, ...]]:
    forward, up = camera.rest_axes(posture)
    return tuple(float(v) for v in forward), tuple(float(v) for v in up)


class BodyFrame:
    """Where the tracking space sits in the world, for the posture shown.

    recenter(head) makes `head` (4x4, head -> tracking) the resting view of the posture: the world is
    turned once, while the scene is dark (the runner dims for posture changes). Between recenters
    the mapping is fixed, so the camera moves exactly as the head does.
    """

    def __init__(self, posture: Posture = Posture.SEATED):
        self.posture = Posture(posture)
        self.world_from_tracking: np.ndarray | None = None  # None until the first head pose
        self.recenters = 0

    def recenter(self, head: np.ndarray, posture: Posture | None = None) -> None:
        if posture is not None:
            self.posture = Posture(posture)
        forward, up = camera.rest_axes(self.posture)
        right = np.cross(forward, up)
        rest = np.identity(4)  # rest head -> world: head x right, y up, -z forward, at eye height
        rest[:3, 0], rest[:3, 1], rest[:3, 2] = right, up, -np.asarray(forward, dtype=np.float64)
        rest[:3, 3] = camera.eye_position(self.posture, 0.0)
        self.world_from_tracking = rest @ np.linalg.inv(head)
        self.recenters += 1

    def eye_view(
        self, eye_pose: np.ndarray, head_pose: np.ndarray, proj: np.ndarray, proj_inverse: np.ndarray | None = None
    ) -> EyeView:
        """eye_pose / head_pose: 4x4, eye -> tracking and head -> tracking."""
        if self.world_from_tracking is None:
            self.recenter(head_pose)
        world_eye = self.world_from_tracking @ eye_pose
        world_head_pos = self.world_from_tracking[:3, :3] @ head_pose[:3, 3] + self.world_from_tracking[:3, 3]
        return EyeView(
            eye_to_world=world_eye,
            proj=proj,
            proj_inverse=np.linalg.inv(proj) if proj_inverse is None else proj_inverse,
            eye_pos=world_eye[:3, 3].copy(),
            head_pos=world_head_pos,
            posture=self.posture,
        )


def openxr_pose(pose) -> np.ndarray:
    """An OpenXR XrPosef as a 4x4 matrix."""
    o, p = pose.orientation, pose.position
    return pose_matrix((o.x, o.y, o.z, o.w), (p.x, p.y, p.z))


def fit_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The middle of `image` at the aspect of `size`, scaled to it."""
    from PIL import Image, ImageOps

    return np.asarray(ImageOps.fit(Image.fromarray(image), tuple(size), Image.BILINEAR))
