"""The headset as a render target: an OpenXR session whose swapchain images moderngl draws into.

The session loop (engine/session_loop.py) drives it once per frame, as any LiveTarget
(engine/render/protocols.py):
    if target.wait_frame():     # xrWaitFrame + xrBeginFrame: the runtime paces the loop
        ...                     # target.clock.now() is the frame's predicted display time
    target.render(state)        # both eyes, then xrEndFrame
and reads target.drain_events() for what happened to the headset (engine/xr/session_states.py): a
runtime that goes away is reported once as "xr_lost"; the target then renders nothing and the session
goes on with sound.
"""

from __future__ import annotations

import ctypes
import time
from dataclasses import replace

import moderngl
import numpy as np

from tidewell.core.frame_state import FrameState, Posture
from tidewell.engine.render.comfort import GuardedFrame
from tidewell.engine.render.scene_renderer import SceneRenderer, still_state
from tidewell.engine.render.targets import draw_snapshot, read_rgb, release_framebuffer
from tidewell.engine.xr import runtime as xr_runtime
from tidewell.engine.xr.display_clock import DisplayClock
from tidewell.engine.xr.frame_timing import FrameTiming
from tidewell.engine.xr.session_states import SessionStates
from tidewell.engine.xr.swapchains import (
    FORMAT_DTYPES,
    Swapchain,
    color_format,
    make_swapchain,
    projection_layers,
    release_swapchains,
)
from tidewell.engine.xr.views import BodyFrame, fit_image, openxr_pose, projection_and_inverse

IDLE_WAIT_S = 0.05  # loop pace while the runtime wants no frames


class XrTarget(FrameTiming):
    def __init__(self, reference: str = "local", mirror=None):
        """reference: "local" or "stage". mirror: an engine/xr/mirror.MirrorWindow, whose GL context
        (GLX) the session then uses; without one the context is EGL without a surface, which needs
        the runtime's XR_MNDX_egl_enable."""
        self._xr = xr = xr_runtime.load_xr()
        self.mirror = mirror
        self.live_view = None  # the console's live view of the left eye (engine/render/live_view.py)
        self.capture = False  # set: each eye's image is read back every frame (read_eye)
        self.closed = False
        self.drew_layer = False  # the last render() put the scene before the eyes (else they saw black)
        self.clock = DisplayClock()
        self.states = SessionStates(xr)
        self._start_timing()
        self.last_eyes: list[np.ndarray | None] = [None, None]
        self._frame = None
        self._ending = False  # frames after the session's end are not counted as missed
        self._snapshot: moderngl.Framebuffer | None = None
        self._contact_wanted = False
        self._contact_image: np.ndarray | None = None
        self._graphics = None
        self.instance = self.session = None
        self.renderer: SceneRenderer | None = None
        self._guards: list[GuardedFrame] = []
        self._swapchains: list[Swapchain] = []
        self._spaces: list = []
        try:
            self._open(xr, xr_runtime.needed_extensions(xr, mirror is not None), reference)
        except BaseException:
            self.close()
            raise

    # -- set-up -------------------------------------------------------------------------------
    def _open(self, xr, extensions: list[str], reference: str) -> None:
        self.instance = xr_runtime.create_instance(xr, extensions)
        properties = xr.get_instance_properties(self.instance)
        self.runtime_name = xr_runtime.as_text(properties.runtime_name)
        self.system = xr_runtime.headset_system(xr, self.instance)
        self.blend_modes = xr_runtime.blend_modes(xr, self.instance, self.system)
        self._graphics = xr_runtime.opengl_graphics(xr, self.instance, self.system, self.mirror)
        self.ctx = moderngl.create_context()  # the context the binding made current
        self.session = self.states.session = xr.create_session(
            self.instance, xr.SessionCreateInfo(system_id=self.system, next=self._graphics.graphics_binding.pointer)
        )
        self._open_spaces(xr, reference)
        self.color_format = color_format(xr, self.session)
        self.views = xr.enumerate_view_configuration_views(
            self.instance, self.system, xr.ViewConfigurationType.PRIMARY_STEREO
        )
        self._swapchains = [make_swapchain(xr, self.session, self.ctx, self.color_format, v) for v in self.views]
        self.renderer = SceneRenderer(self.ctx)
        self._guards = [GuardedFrame(self.ctx) for _ in self._swapchains]  # one per eye: each filters in time
        self.body = BodyFrame()
        self._layer_views, self._layers = projection_layers(xr, self._swapchains, self.space)
        self.image_rects = [swapchain.size for swapchain in self._swapchains]  # each layer view's image rect
        self._acquire_info = xr.SwapchainImageAcquireInfo()
        self._wait_info = xr.SwapchainImageWaitInfo(timeout=xr.INFINITE_DURATION)
        self._release_info = xr.SwapchainImageReleaseInfo()
        self._locate_info = xr.ViewLocateInfo(
            view_configuration_type=xr.ViewConfigurationType.PRIMARY_STEREO, space=self.space
        )
        if self.mirror is not None:
            self.mirror.attach(self.ctx)

    def _open_spaces(self, xr, reference: str) -> None:
        spaces = [r.name for r in (xr.ReferenceSpaceType(int(s)) for s in xr.enumerate_reference_spaces(self.session))]
        kind = reference.upper()
        if kind not in ("LOCAL", "STAGE"):
            raise ValueError(f"reference space must be 'local' or 'stage', got {reference!r}")
        if kind not in spaces:
            raise xr_runtime.XrUnavailable(f"the runtime offers no {kind} reference space (it has {', '.join(spaces)})")
        identity = xr.Posef()
        self.space = xr.create_reference_space(
            self.session,
            xr.ReferenceSpaceCreateInfo(
                reference_space_type=xr.ReferenceSpaceType[kind], pose_in_reference_space=identity
            ),
        )
        self.head_space = xr.create_reference_space(
            self.session,
            xr.ReferenceSpaceCreateInfo(
                reference_space_type=xr.ReferenceSpaceType.VIEW, pose_in_reference_space=identity
            ),
        )
        self._spaces = [self.space, self.head_space]
        self.reference = kind

    @property
    def description(self) -> str:
        size = self._swapchains[0].size if self._swapchains else (0, 0)
        return (
            f"OpenXR on {self.runtime_name}, {size[0]}x{size[1]} per eye, {self.reference} space, "
            f"{'GLX with desktop mirror' if self.mirror is not None else 'EGL'}"
        )

    # -- what the session states say ----------------------------------------------------------
    @property
    def state(self) -> str:
        return self.states.state

    @property
    def shown(self) -> bool:
        return self.states.shown

    @property
    def lost(self) -> str | None:
        return self.states.lost

    @property
    def exiting(self) -> bool:
        return self.states.exiting

    @property
    def end_request(self) -> str | None:
        return "the headset runtime asked the session to exit" if self.states.exiting else None

    def _on_state(self, state) -> None:
        self.states.on_state(state)

    def _lose(self, why) -> None:
        self.states.lose(why)
        self._frame = None

    def drain_events(self) -> list[tuple[str, str]]:
        return self.states.drain_events()

    # -- the frame loop -----------------------------------------------------------------------
    def wait_frame(self) -> bool:
        """Handle the runtime's events, then wait for and begin the next frame. True when a frame
        was begun (render() must follow); False when the runtime wants none now."""
        xr = self._xr
        self._measure_frame()
        self.states.poll(self.instance)
        if self.lost is not None:
            self._frame = None
        if not self.states.running or self.lost is not None:
            self.clock.pause()
            if self.mirror is not None:
                self.mirror.dispatch_events()
            time.sleep(IDLE_WAIT_S)
            return False
        try:
            frame = xr.wait_frame(self.session)
            self._frame_began()
            xr.begin_frame(self.session)
        except xr.exception.XrException as error:
            self._lose(error)
            return False
        display_ns = int(frame.predicted_display_time)
        self._count_skips(display_ns, frame.predicted_display_period, self.clock.now, not self._ending)
        self.clock.frame(display_ns)
        self._frame = frame
        return True

    def render(self, state: FrameState) -> None:
        frame, self._frame = self._frame, None
        self.drew_layer = False
        if frame is None:
            return
        xr = self._xr
        layers = []
        overlay = self._is_overlay(state.scene)
        blend = xr_runtime.choose_blend_mode(self.blend_modes, overlay)
        try:
            if frame.should_render:
                layer = self._draw_eyes(xr, frame, state, overlay and blend == "ALPHA_BLEND")
                if layer is not None:
                    layers.append(ctypes.byref(layer))
            before = time.perf_counter()
            xr.end_frame(
                self.session,
                xr.FrameEndInfo(
                    display_time=frame.predicted_display_time,
                    environment_blend_mode=xr.EnvironmentBlendMode[blend],
                    layers=layers,
                ),
            )
            self._waits += time.perf_counter() - before
        except xr.exception.XrException as error:
            self._lose(error)
            return
        self.drew_layer = bool(layers)
        self._measure_pending = True
        self.frames += 1
        if self.mirror is not None:
            self.mirror.dispatch_events()

    def _draw_eyes(self, xr, frame, state: FrameState, alpha: bool):
        self._locate_info.display_time = frame.predicted_display_time
        view_state, views = xr.locate_views(self.session, self._locate_info)
        if not view_state.view_state_flags & xr.ViewStateFlags.ORIENTATION_VALID_BIT:
            return None  # no tracking: show nothing rather than a world stuck to the face
        head_location = xr.locate_space(self.head_space, self.space, frame.predicted_display_time)
        head = openxr_pose(head_location.pose)
        if self.body.world_from_tracking is None or self.states.recenter_wanted or state.posture != self.body.posture:
            self.body.recenter(head, Posture(state.posture))
            self.states.recenter_wanted = False
        for index, (view, swapchain) in enumerate(zip(views, self._swapchains)):
            image = xr.acquire_swapchain_image(swapchain.handle, self._acquire_info)
            before = time.perf_counter()
            xr.wait_swapchain_image(swapchain.handle, self._wait_info)
            self._waits += time.perf_counter() - before
            fov = view.fov
            eye = self.body.eye_view(
                openxr_pose(view.pose),
                head,
                *projection_and_inverse(fov.angle_left, fov.angle_right, fov.angle_up, fov.angle_down),
            )
            framebuffer = swapchain.framebuffers[image]
            before = time.perf_counter()
            # The scene's own render size, in the image's corner: the compositor scales it to the
            # display as it warps the image for the lenses (no full-size pass of ours).
            drawn = self._guards[index].render(
                self.renderer, state, framebuffer, swapchain.size, eye=eye, keep_alpha=alpha, upscale=False
            )
            self._gl += time.perf_counter() - before
            if self.capture or (index == 0 and self._contact_wanted):
                self.last_eyes[index] = read_rgb(framebuffer, drawn)
                if index == 0 and self._contact_wanted:
                    self._contact_image, self._contact_wanted = self.last_eyes[0], False
            if index == 0 and self.mirror is not None:
                self.mirror.show(swapchain.textures[image], drawn)
            if index == 0 and self.live_view is not None:  # a small GPU pass; the read-back is asynchronous
                self.live_view.offer(swapchain.textures[image], drawn)
            before = time.perf_counter()
            xr.release_swapchain_image(swapchain.handle, self._release_info)
            self._waits += time.perf_counter() - before
            layer_view = self._layer_views[index]
            layer_view.pose = view.pose
            layer_view.fov = view.fov
            if drawn != self.image_rects[index]:
                layer_view.sub_image.image_rect.extent[:] = list(drawn)
                self.image_rects[index] = drawn
        return self._layers[alpha]

    def _is_overlay(self, scene_id: str) -> bool:
        info = self.renderer.scenes.get(scene_id)
        return info is not None and info.overlay

    def prepare(self, scene_ids) -> None:
        """Compile and draw the session's scenes once, and the comfort passes at the eyes' size, before
        the first frame (engine/render/scene_renderer.SceneRenderer.prepare)."""
        self.renderer.prepare(scene_ids)
        # The swapchain's own format and size: drivers compile shader variants per target format.
        scratch = self.ctx.framebuffer(
            color_attachments=[
                self.ctx.texture(
                    self._swapchains[0].size,
                    4,
                    dtype=FORMAT_DTYPES[self.color_format],
                    internal_format=self.color_format,
                )
            ]
        )
        try:
            for scene_id in dict.fromkeys(scene_ids):
                for guard in self._guards:  # each eye's own passes and textures, made now
                    guard.render(self.renderer, still_state(scene_id), scratch, self._swapchains[0].size, upscale=False)
            scratch.read(components=1)
        finally:
            for guard in self._guards:
                guard.reset()  # their filters start with the session
            scratch.color_attachments[0].release()
            scratch.release()

    # -- what the session loop asks of a live target (engine/render/protocols.py) --------------------
    def drain_problems(self) -> list[str]:
        return self.renderer.drain_problems()

    def as_seen(self, state: FrameState) -> FrameState:
        """The frame as drawn; a frame that showed no layer showed black."""
        seen = self.renderer.as_drawn(state)
        return replace(seen, fade=0.0) if not self.drew_layer and seen.fade != 0.0 else seen

    def dispatch_events(self) -> None:
        """Nothing: the mirror's keys are handled with each frame (render, wait_frame)."""

    def end(self, timeout_s: float = 2.0) -> None:
        """Leave the headset the way OpenXR asks: request the exit, end the session at STOPPING and
        wait for EXITING, so the runtime hands the headset on cleanly."""
        xr = self._xr
        self._ending = True
        if self.session is None or self.lost is not None or self.exiting:
            return
        if self.states.running:
            try:
                xr.request_exit_session(self.session)
            except xr.exception.XrException as error:
                self._lose(error)
                return
        deadline = time.monotonic() + timeout_s
        while not self.exiting and self.lost is None and time.monotonic() < deadline:
            if self.wait_frame():  # handles the events; waits a moment while no frames are wanted
                self.render_nothing()

    def render_nothing(self) -> None:
        """End a begun frame with no layers (the headset shows black)."""
        frame, self._frame = self._frame, None
        if frame is None:
            return
        xr = self._xr
        try:
            xr.end_frame(
                self.session,
                xr.FrameEndInfo(
                    display_time=frame.predicted_display_time,
                    environment_blend_mode=xr.EnvironmentBlendMode.OPAQUE,
                    layers=[],
                ),
            )
        except xr.exception.XrException as error:
            self._lose(error)

    def snapshot(self, state: FrameState, size: tuple[int, int]) -> np.ndarray | None:
        """For the contact sheet: the client's left eye as the next frame draws it, fitted to `size`.
        None until that frame has been drawn (ask again next frame). Drawing the scene once more
        instead would cost a headset frame's budget on a slow GPU."""
        if self._contact_image is not None:
            image, self._contact_image = self._contact_image, None
            return fit_image(image, size)
        self._contact_wanted = True
        return None

    def render_snapshot(self, state: FrameState, size: tuple[int, int]) -> np.ndarray:
        """`state` drawn now from the posture's resting view at `size`, off the headset (the contact
        sheet's last frame, when no more frames come). Uses the headset's own GL context: a second
        context would change the current one under it."""
        pixels, self._snapshot = draw_snapshot(self.ctx, self.renderer, state, size, self._snapshot)
        return pixels

    # -- reading back -------------------------------------------------------------------------
    def read_eye(self, index: int) -> np.ndarray | None:
        """The eye's last image as HxWx3 uint8, top row first (while `capture` is set)."""
        return self.last_eyes[index]

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        xr = self._xr
        if self.renderer is not None:
            self.renderer.release()
        for guard in self._guards:
            guard.release()
        if self.live_view is not None:
            self.live_view.close()
        release_framebuffer(self._snapshot)
        release_swapchains(xr, self._swapchains, xr_runtime.quietly)
        for space in self._spaces:
            xr_runtime.quietly(xr.destroy_space, space)
        if self.session is not None:
            xr_runtime.quietly(xr.destroy_session, self.session)
        if self._graphics is not None:
            xr_runtime.quietly(self._graphics.destroy)
        if self.instance is not None:
            xr_runtime.quietly(xr.destroy_instance, self.instance)
        if self.mirror is not None:
            self.mirror.close()
