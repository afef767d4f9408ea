"""The headset as a render target: an OpenXR session whose swapchain images moderngl draws into.

The session loop (engine/session.py) drives it once per frame:
    if target.wait_frame():     # xrWaitFrame + xrBeginFrame: the runtime paces the loop
        ...                     # target.clock.now() is the frame's predicted display time
    target.render(state)        # both eyes, then xrEndFrame
and reads target.drain_events() for what happened to the headset.

Lifecycle (OpenXR session states): READY begins the session, STOPPING ends it, EXITING and
LOSS_PENDING end it for good. The runtime shows the session only in VISIBLE and FOCUSED: leaving
those (the headset was taken off, or the runtime hid the session) is reported as "headset_off",
coming back as "headset_on". A runtime that goes away (instance or session lost) is reported once
as "xr_lost"; the target then renders nothing and the session goes on with sound.
"""
from __future__ import annotations

import ctypes
import os
import time
from collections import deque
from dataclasses import dataclass

import moderngl
import numpy as np

from tidewell.core.frame_state import FrameState, Posture
from tidewell.engine.render.comfort import GuardedFrame
from tidewell.engine.render.scene_renderer import SceneRenderer, still_state
from tidewell.engine.render.targets import draw_snapshot, read_rgb
from tidewell.engine.xr import runtime as xr_runtime
from tidewell.engine.xr.views import BodyFrame, pose_matrix, projection_and_inverse

# Colour formats, best first: 8-bit sRGB (the scenes write display values, which the runtime then
# reads as sRGB), plain 8-bit, then half float (what Monado lists first).
GL_SRGB8_ALPHA8, GL_RGBA8, GL_RGB10_A2, GL_RGBA16F = 0x8C43, 0x8058, 0x8059, 0x881A
FORMAT_DTYPES = {GL_SRGB8_ALPHA8: "f1", GL_RGBA8: "f1", GL_RGB10_A2: "f1", GL_RGBA16F: "f2"}
IDLE_WAIT_S = 0.05  # loop pace while the runtime wants no frames


@dataclass
class _Swapchain:
    handle: object
    size: tuple[int, int]
    framebuffers: list[moderngl.Framebuffer]
    textures: list[moderngl.Texture]


class DisplayClock:
    """Session time that follows the runtime's predicted display times while frames run, and the wall
    clock in between; it never runs backwards."""

    virtual = False

    def __init__(self):
        self._start = time.monotonic()
        self._anchor: tuple[int, float] | None = None  # (display time ns, session time) of a frame
        self._last = 0.0

    def frame(self, display_ns: int) -> float:
        if self._anchor is None:
            self._anchor = (display_ns, max(self._last, self._wall()))
        t = self._anchor[1] + (display_ns - self._anchor[0]) / 1e9
        self._last = max(self._last, t)
        return self._last

    def restart(self) -> None:
        """Session time 0 is now (the session loop starts)."""
        self._start = time.monotonic()
        self._anchor = None
        self._last = 0.0

    def pause(self) -> None:
        """Frames stopped: follow the wall clock until they run again."""
        self._anchor = None

    def now(self) -> float:
        if self._anchor is None:
            self._last = max(self._last, self._wall())
        return self._last

    def sleep_until(self, t: float) -> None:
        """Nothing: the runtime paces the loop (XrTarget.wait_frame waits for the next frame, or a
        moment while the runtime wants none)."""

    def _wall(self) -> float:
        return time.monotonic() - self._start


class XrTarget:
    def __init__(self, reference: str = "local", mirror=None):
        """reference: "local" or "stage". mirror: an engine/xr/mirror.MirrorWindow, whose GL context
        (GLX) the session then uses; without one the context is EGL without a surface, which needs
        the runtime's XR_MNDX_egl_enable."""
        self._xr = xr = xr_runtime.load_xr()
        self.mirror = mirror
        self.capture = False  # set: each eye's image is read back every frame (read_eye)
        self.closed = False
        self.lost: str | None = None
        self.exiting = False
        self.drew_layer = False  # the last render() put the scene before the eyes (else they saw black)
        self.state = "IDLE"
        self.shown = False
        self._ever_shown = False
        self.clock = DisplayClock()
        self.frames = 0
        self.missed = 0  # display periods the runtime skipped because a frame came late
        self.missed_at: list[float] = []  # session times of the frames after such a skip
        self.missed_by_engine = 0  # skips after a frame whose engine work took longer than its drawing
        self.engine_s: deque[float] = deque(maxlen=100_000)  # per frame, runtime waits excluded
        self.engine_cpu_s: deque[float] = deque(maxlen=100_000)  # per frame, this thread's CPU time
        # per frame, in the GL calls that draw the eyes: the GPU's work, and on a machine without
        # one Mesa's llvmpipe drawing on the CPU
        self.gl_s: deque[float] = deque(maxlen=100_000)
        self.last_eyes: list[np.ndarray | None] = [None, None]
        self._events: deque[tuple[str, str]] = deque()
        self._running = False
        self._frame = None
        self._last_display_ns: int | None = None
        self._frame_started = (0.0, 0.0)
        self._waits = 0.0
        self._gl = 0.0
        self._measure_pending = False
        self._ending = False  # frames after the session's end are not counted as missed
        self._recenter_wanted = False
        self._snapshot: moderngl.Framebuffer | None = None
        self._contact_wanted = False
        self._contact_image: np.ndarray | None = None
        self._graphics = None
        self.instance = self.session = None
        self._spaces: list = []

        available = xr_runtime.available_extensions(xr)
        if xr.KHR_OPENGL_ENABLE_EXTENSION_NAME not in available:
            raise xr_runtime.XrUnavailable("the OpenXR runtime offers no OpenGL graphics binding "
                                           f"({xr.KHR_OPENGL_ENABLE_EXTENSION_NAME}); Tidewell draws with OpenGL")
        wanted = [xr.KHR_OPENGL_ENABLE_EXTENSION_NAME]
        if mirror is None:
            if xr.MNDX_EGL_ENABLE_EXTENSION_NAME not in available:
                raise xr_runtime.XrUnavailable(
                    "without a display Tidewell needs the runtime's EGL binding (XR_MNDX_egl_enable, offered "
                    "by Monado); with a display, run with the desktop mirror (the default)")
            wanted.append(xr.MNDX_EGL_ENABLE_EXTENSION_NAME)
        try:
            self._open(xr, wanted, reference)
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
        self._graphics = self._graphics_binding(xr)
        self.ctx = moderngl.create_context()  # the context the binding made current
        self.session = xr.create_session(self.instance, xr.SessionCreateInfo(
            system_id=self.system, next=self._graphics.graphics_binding.pointer))
        spaces = [r.name for r in (xr.ReferenceSpaceType(int(s)) for s in xr.enumerate_reference_spaces(self.session))]
        kind = reference.upper()
        if kind not in ("LOCAL", "STAGE"):
            raise ValueError(f"reference space must be 'local' or 'stage', got {reference!r}")
        if kind not in spaces:
            raise xr_runtime.XrUnavailable(f"the runtime offers no {kind} reference space (it has {', '.join(spaces)})")
        identity = xr.Posef()
        self.space = xr.create_reference_space(self.session, xr.ReferenceSpaceCreateInfo(
            reference_space_type=xr.ReferenceSpaceType[kind], pose_in_reference_space=identity))
        self.head_space = xr.create_reference_space(self.session, xr.ReferenceSpaceCreateInfo(
            reference_space_type=xr.ReferenceSpaceType.VIEW, pose_in_reference_space=identity))
        self._spaces = [self.space, self.head_space]
        self.reference = kind

        formats = [int(f) for f in xr.enumerate_swapchain_formats(self.session)]
        self.color_format = next((f for f in (GL_SRGB8_ALPHA8, GL_RGBA8, GL_RGB10_A2, GL_RGBA16F) if f in formats), None)
        if self.color_format is None:
            raise xr_runtime.XrUnavailable(f"the runtime offers no colour format Tidewell can draw into "
                                           f"(it has {', '.join(hex(f) for f in formats)})")
        self.views = xr.enumerate_view_configuration_views(self.instance, self.system,
                                                           xr.ViewConfigurationType.PRIMARY_STEREO)
        self._swapchains = [self._make_swapchain(xr, v) for v in self.views]
        self.renderer = SceneRenderer(self.ctx)
        self._guards = [GuardedFrame(self.ctx) for _ in self._swapchains]  # one per eye: each filters in time
        self.body = BodyFrame()
        self._layer_views = (xr.CompositionLayerProjectionView * len(self._swapchains))(
            *[xr.CompositionLayerProjectionView() for _ in self._swapchains])
        for layer_view, swapchain in zip(self._layer_views, self._swapchains):  # per frame: pose and fov
            layer_view.sub_image.swapchain = swapchain.handle
            layer_view.sub_image.image_rect.offset[:] = [0, 0]
            layer_view.sub_image.image_rect.extent[:] = list(swapchain.size)
            layer_view.sub_image.image_array_index = 0
        self.image_rects = [swapchain.size for swapchain in self._swapchains]  # each layer view's image rect
        # Made once: pyopenxr's structures cost tens of microseconds each to build.
        self._layers = {alpha: xr.CompositionLayerProjection(
            layer_flags=xr.CompositionLayerFlags.BLEND_TEXTURE_SOURCE_ALPHA_BIT if alpha else xr.CompositionLayerFlags.NONE,
            space=self.space, views=self._layer_views) for alpha in (False, True)}
        self._acquire_info = xr.SwapchainImageAcquireInfo()
        self._wait_info = xr.SwapchainImageWaitInfo(timeout=xr.INFINITE_DURATION)
        self._release_info = xr.SwapchainImageReleaseInfo()
        self._locate_info = xr.ViewLocateInfo(view_configuration_type=xr.ViewConfigurationType.PRIMARY_STEREO,
                                              space=self.space)
        if self.mirror is not None:
            self.mirror.attach(self.ctx)

    def _graphics_binding(self, xr):
        from xr.utils.gl import OpenGLGraphics

        if self.mirror is not None:
            provider = self.mirror.context_provider()
        else:
            # PyOpenGL picks its platform when first imported: EGL without a surface here.
            os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
            os.environ.setdefault("EGL_PLATFORM", "surfaceless")
            from xr.utils.gl.egl_util import EGLOffscreenContextProvider

            try:
                provider = EGLOffscreenContextProvider()
            except Exception as error:  # EGLError, RuntimeError
                raise xr_runtime.XrUnavailable(f"no EGL context for the headset: {error}") from None
        return OpenGLGraphics(self.instance, self.system, provider)

    def _make_swapchain(self, xr, view) -> _Swapchain:
        size = (int(view.recommended_image_rect_width), int(view.recommended_image_rect_height))
        handle = xr.create_swapchain(self.session, xr.SwapchainCreateInfo(
            usage_flags=xr.SwapchainUsageFlags.COLOR_ATTACHMENT_BIT | xr.SwapchainUsageFlags.SAMPLED_BIT,
            format=self.color_format, sample_count=1, width=size[0], height=size[1],
            face_count=1, array_size=1, mip_count=1))
        images = xr.enumerate_swapchain_images(handle, xr.SwapchainImageOpenGLKHR)
        textures, framebuffers = [], []
        for image in images:
            texture = self.ctx.external_texture(int(image.image), size, 4, 0, FORMAT_DTYPES[self.color_format])
            textures.append(texture)
            framebuffers.append(self.ctx.framebuffer(color_attachments=[texture]))
        return _Swapchain(handle, size, framebuffers, textures)

    @property
    def description(self) -> str:
        size = self._swapchains[0].size if getattr(self, "_swapchains", None) else (0, 0)
        return (f"OpenXR on {self.runtime_name}, {size[0]}x{size[1]} per eye, {self.reference} space, "
                f"{'GLX with desktop mirror' if self.mirror is not None else 'EGL'}")

    # -- the frame loop -----------------------------------------------------------------------
    def wait_frame(self) -> bool:
        """Handle the runtime's events, then wait for and begin the next frame. True when a frame
        was begun (render() must follow); False when the runtime wants none now."""
        xr = self._xr
        self._measure_frame()
        self._poll()
        if not self._running or self.lost is not None:
            self.clock.pause()
            if self.mirror is not None:
                self.mirror.dispatch_events()
            time.sleep(IDLE_WAIT_S)
            return False
        try:
            frame = xr.wait_frame(self.session)
            self._frame_started = (time.perf_counter(), time.thread_time())
            self._waits = 0.0
            self._gl = 0.0
            xr.begin_frame(self.session)
        except xr.exception.XrException as error:
            self._lose(error)
            return False
        display_ns = int(frame.predicted_display_time)
        if self._last_display_ns is not None and frame.predicted_display_period > 0 and not self._ending:
            periods = round((display_ns - self._last_display_ns) / frame.predicted_display_period)
            if periods > 1:
                self.missed += periods - 1
                self.missed_at.append(self.clock.now())
                # Whose lateness: the engine's own work, or drawing (the GPU, or llvmpipe on the CPU)?
                if self.engine_s and self.engine_s[-1] >= self.gl_s[-1]:
                    self.missed_by_engine += periods - 1
        self._last_display_ns = display_ns
        self.clock.frame(display_ns)
        self._frame = frame
        return True

    def _measure_frame(self) -> None:
        """The last frame's engine time: from xrWaitFrame's return to the next xrWaitFrame call (the
        whole loop: session step, sound, log, both eyes), less runtime waits and GL drawing."""
        if not self._measure_pending:
            return
        self._measure_pending = False
        started, cpu_started = self._frame_started
        self.engine_s.append(time.perf_counter() - started - self._waits - self._gl)
        self.gl_s.append(self._gl)
        self.engine_cpu_s.append(time.thread_time() - cpu_started)

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
            xr.end_frame(self.session, xr.FrameEndInfo(
                display_time=frame.predicted_display_time,
                environment_blend_mode=xr.EnvironmentBlendMode[blend], layers=layers))
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
        head = _pose(head_location.pose)
        if self.body.world_from_tracking is None or self._recenter_wanted or state.posture != self.body.posture:
            self.body.recenter(head, Posture(state.posture))
            self._recenter_wanted = False
        for index, (view, swapchain) in enumerate(zip(views, self._swapchains)):
            image = xr.acquire_swapchain_image(swapchain.handle, self._acquire_info)
            before = time.perf_counter()
            xr.wait_swapchain_image(swapchain.handle, self._wait_info)
            self._waits += time.perf_counter() - before
            fov = view.fov
            eye = self.body.eye_view(_pose(view.pose), head, *projection_and_inverse(
                fov.angle_left, fov.angle_right, fov.angle_up, fov.angle_down))
            framebuffer = swapchain.framebuffers[image]
            before = time.perf_counter()
            # The scene's own render size, in the image's corner: the compositor scales it to the
            # display as it warps the image for the lenses (no full-size pass of ours).
            drawn = self._guards[index].render(self.renderer, state, framebuffer, swapchain.size, eye=eye,
                                               keep_alpha=alpha, upscale=False)
            self._gl += time.perf_counter() - before
            if self.capture or (index == 0 and self._contact_wanted):
                self.last_eyes[index] = read_rgb(framebuffer, drawn)
                if index == 0 and self._contact_wanted:
                    self._contact_image, self._contact_wanted = self.last_eyes[0], False
            if index == 0 and self.mirror is not None:
                self.mirror.show(swapchain.textures[image], drawn)
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
        scratch = self.ctx.framebuffer(color_attachments=[self.ctx.texture(
            self._swapchains[0].size, 4, dtype=FORMAT_DTYPES[self.color_format], internal_format=self.color_format)])
        try:
            for scene_id in dict.fromkeys(scene_ids):
                for guard in self._guards:  # each eye's own passes and textures, made now
                    guard.render(self.renderer, still_state(scene_id), scratch, self._swapchains[0].size,
                                 upscale=False)
            scratch.read(components=1)
        finally:
            for guard in self._guards:
                guard.reset()  # their filters start with the session
            scratch.color_attachments[0].release()
            scratch.release()

    # -- events -------------------------------------------------------------------------------
    def _poll(self) -> None:
        xr = self._xr
        if self.lost is not None or self.instance is None:
            return
        while True:
            try:
                event = xr.poll_event(self.instance)
            except xr.EventUnavailable:
                return
            except xr.exception.XrException as error:
                self._lose(error)
                return
            kind = xr.StructureType(event.type)
            if kind == xr.StructureType.EVENT_DATA_SESSION_STATE_CHANGED:
                changed = ctypes.cast(ctypes.byref(event), ctypes.POINTER(xr.EventDataSessionStateChanged)).contents
                self._on_state(xr.SessionState(changed.state))
            elif kind == xr.StructureType.EVENT_DATA_INSTANCE_LOSS_PENDING:
                self._lose("the runtime is shutting down (instance loss pending)")
                return
            elif kind == xr.StructureType.EVENT_DATA_REFERENCE_SPACE_CHANGE_PENDING:
                self._recenter_wanted = True  # the user recentred through the runtime's own menu

    def _on_state(self, state) -> None:
        xr = self._xr
        self.state = state.name
        self._events.append(("xr_state", state.name))
        try:
            if state == xr.SessionState.READY:
                xr.begin_session(self.session, xr.SessionBeginInfo(
                    primary_view_configuration_type=xr.ViewConfigurationType.PRIMARY_STEREO))
                self._running = True
            elif state == xr.SessionState.STOPPING:
                self._running = False
                xr.end_session(self.session)
            elif state == xr.SessionState.EXITING:
                self._running = False
                self.exiting = True
            elif state == xr.SessionState.LOSS_PENDING:
                self._lose("the runtime lost the session (LOSS_PENDING)")
        except xr.exception.XrException as error:
            self._lose(error)
        shown = state in (xr.SessionState.VISIBLE, xr.SessionState.FOCUSED)
        if shown != self.shown:
            if shown and self._ever_shown:
                self._events.append(("headset_on", f"the headset shows the session again ({state.name})"))
            elif not shown:
                self._events.append(("headset_off", f"the headset stopped showing the session ({state.name}): "
                                                    "taken off, or the runtime hid it"))
            self.shown = shown
            self._ever_shown = self._ever_shown or shown

    def _lose(self, why) -> None:
        if self.lost is not None:
            return
        text = why if isinstance(why, str) else f"{type(why).__name__}: {why}"
        self.lost = f"the OpenXR runtime went away ({text})"
        self._running = False
        self._frame = None
        self.shown = False
        self._events.append(("xr_lost", self.lost))

    def end(self, timeout_s: float = 2.0) -> None:
        """Leave the headset the way OpenXR asks: request the exit, end the session at STOPPING and
        wait for EXITING, so the runtime hands the headset on cleanly."""
        xr = self._xr
        self._ending = True
        if self.session is None or self.lost is not None or self.exiting:
            return
        if self._running:
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
            xr.end_frame(self.session, xr.FrameEndInfo(display_time=frame.predicted_display_time,
                                                       environment_blend_mode=xr.EnvironmentBlendMode.OPAQUE,
                                                       layers=[]))
        except xr.exception.XrException as error:
            self._lose(error)

    def drain_events(self) -> list[tuple[str, str]]:
        events = list(self._events)
        self._events.clear()
        return events

    def snapshot(self, state: FrameState, size: tuple[int, int]) -> np.ndarray | None:
        """For the contact sheet: the client's left eye as the next frame draws it, fitted to `size`.
        None until that frame has been drawn (ask again next frame). Drawing the scene once more
        instead would cost a headset frame's budget on a slow GPU."""
        if self._contact_image is not None:
            image, self._contact_image = self._contact_image, None
            return _fit(image, size)
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
        if hasattr(self, "renderer"):
            self.renderer.release()
        for guard in getattr(self, "_guards", []):
            guard.release()
        if self._snapshot is not None:
            self._snapshot.color_attachments[0].release()
            self._snapshot.release()
        for swapchain in getattr(self, "_swapchains", []):
            for framebuffer in swapchain.framebuffers:
                framebuffer.release()
            _quietly(xr.destroy_swapchain, swapchain.handle)
        for space in self._spaces:
            _quietly(xr.destroy_space, space)
        if self.session is not None:
            _quietly(xr.destroy_session, self.session)
        if self._graphics is not None:
            _quietly(self._graphics.destroy)
        if self.instance is not None:
            _quietly(xr.destroy_instance, self.instance)
        if self.mirror is not None:
            self.mirror.close()


def _pose(pose) -> np.ndarray:
    o, p = pose.orientation, pose.position
    return pose_matrix((o.x, o.y, o.z, o.w), (p.x, p.y, p.z))


def _fit(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The middle of `image` at the aspect of `size`, scaled to it."""
    from PIL import Image, ImageOps

    return np.asarray(ImageOps.fit(Image.fromarray(image), tuple(size), Image.BILINEAR))


def _quietly(function, *args) -> None:
    """Tear-down after a lost runtime fails in every call; nothing is left to save by then."""
    try:
        function(*args)
    except Exception:
        pass
