"""The OpenXR runtime: finding it, what it offers, and what to say when there is none."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from tidewell.core.errors import TidewellError
from tidewell.core.words import plural

INSTALL_HINT = (
    "Install and start an OpenXR runtime, then make it the active one:\n"
    "  - SteamVR (Valve Index, Vive and others): install Steam and SteamVR, start SteamVR, and in its\n"
    "    settings choose 'Set SteamVR as OpenXR runtime'.\n"
    "  - Monado (Linux, open source): apt install monado-service libopenxr1-monado (Debian 13 and\n"
    "    later), then run monado-service.\n"
    "  - WiVRn (Meta Quest and other standalone headsets over Wi-Fi, Linux): install WiVRn, start its\n"
    "    server and the WiVRn app on the headset.\n"
    "  - Meta Quest Link (Windows): install the Meta Quest Link app, connect the headset, and in its\n"
    "    settings make Meta Quest Link the active OpenXR runtime.\n"
    "The runtime is found through the active_runtime.json of the OpenXR loader, or the XR_RUNTIME_JSON\n"
    "environment variable."
)

# Blend modes by preference for an overlay scene (AR) and for an ordinary one.
OVERLAY_BLEND_PREFERENCE = ("ALPHA_BLEND", "ADDITIVE", "OPAQUE")
WORLD_BLEND_PREFERENCE = ("OPAQUE", "ALPHA_BLEND", "ADDITIVE")


class XrUnavailable(TidewellError, RuntimeError):
    """No OpenXR session can be had; the message says what is missing and what to do."""


@dataclass
class RuntimeInfo:
    runtime: str
    runtime_version: str
    system: str
    vendor_id: int
    orientation_tracking: bool
    position_tracking: bool
    max_swapchain: tuple[int, int]
    views: list[dict] = field(default_factory=list)  # recommended / max image sizes per view
    blend_modes: list[str] = field(default_factory=list)
    extensions: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        lines = [
            f"runtime:     {self.runtime} {self.runtime_version}",
            f"system:      {self.system} (vendor {self.vendor_id:#06x})",
            f"tracking:    orientation {'yes' if self.orientation_tracking else 'no'}, "
            f"position {'yes' if self.position_tracking else 'no'}",
            f"swapchains:  up to {self.max_swapchain[0]}x{self.max_swapchain[1]}",
            f"views:       {len(self.views)} (primary stereo)",
        ]
        for index, view in enumerate(self.views):
            lines.append(
                f"  view {index}:    recommended {view['recommended'][0]}x{view['recommended'][1]}, "
                f"max {view['max'][0]}x{view['max'][1]}, {plural(view['samples'], 'sample')}"
            )
        overlay = choose_blend_mode(self.blend_modes, overlay=True)
        lines.append(
            f"blend modes: {', '.join(self.blend_modes)}"
            + ("" if overlay != "OPAQUE" else " (no AR: overlay scenes show on black)")
        )
        lines.append(f"extensions:  {len(self.extensions)}")
        lines += [f"  {name}" for name in self.extensions]
        return lines


def choose_blend_mode(offered: list[str], overlay: bool) -> str:
    """The environment blend mode for a scene: overlay scenes want the real room behind them."""
    for mode in OVERLAY_BLEND_PREFERENCE if overlay else WORLD_BLEND_PREFERENCE:
        if mode in offered:
            return mode
    return offered[0] if offered else "OPAQUE"


def load_xr():
    """pyopenxr, imported with the loader's log quiet unless asked for."""
    os.environ.setdefault("XRT_LOG", "warning")  # Monado's client library logs at info level otherwise
    os.environ.setdefault("XR_LOADER_DEBUG", "none")  # the loader's own errors: ours say it plainly
    try:
        import xr
    except (ImportError, OSError) as error:
        raise XrUnavailable(
            f"pyopenxr (the OpenXR loader for Python) cannot be loaded: {error}. Reinstall Tidewell (bash .ci/install)."
        ) from None
    return xr


def as_text(value) -> str:
    """An OpenXR string field (bytes) as text."""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def available_extensions(xr) -> list[str]:
    try:
        properties = xr.enumerate_instance_extension_properties()
    except xr.exception.XrException as error:
        raise XrUnavailable(f"no OpenXR runtime found: {_where_looked()} ({error}).\n{INSTALL_HINT}") from None
    return sorted(as_text(p.extension_name) for p in properties)


def _where_looked() -> str:
    named = os.environ.get("XR_RUNTIME_JSON")
    if named:
        state = "does not exist" if not os.path.exists(named) else "could not be loaded"
        return f"XR_RUNTIME_JSON names {named}, which {state}"
    return (
        "no active runtime is set (looked for openxr/1/active_runtime.json in $XDG_CONFIG_HOME, "
        "/etc/xdg and the other XDG config folders)"
    )


def create_instance(xr, extensions: list[str], app_name: str = "Tidewell"):
    try:
        return xr.create_instance(
            xr.InstanceCreateInfo(
                application_info=xr.ApplicationInfo(application_name=app_name, engine_name="Tidewell"),
                enabled_extension_names=extensions,
            )
        )
    except xr.exception.XrException as error:
        raise XrUnavailable(
            f"the OpenXR runtime refused to start ({type(error).__name__}: {error}).\n{INSTALL_HINT}"
        ) from None


def headset_system(xr, instance):
    try:
        return xr.get_system(instance, xr.SystemGetInfo(form_factor=xr.FormFactor.HEAD_MOUNTED_DISPLAY))
    except xr.exception.FormFactorUnavailableError:
        raise XrUnavailable(
            "the OpenXR runtime is running but no headset is connected: connect and wake "
            "the headset (and start its link app, if it uses one), then try again"
        ) from None
    except xr.exception.XrException as error:
        raise XrUnavailable(f"the OpenXR runtime has no headset system ({error})") from None


def blend_modes(xr, instance, system) -> list[str]:
    modes = xr.enumerate_environment_blend_modes(instance, system, xr.ViewConfigurationType.PRIMARY_STEREO)
    return [xr.EnvironmentBlendMode(int(m)).name for m in modes]


def describe() -> RuntimeInfo:
    """What `tidewell xr info` prints. Raises XrUnavailable saying what is missing."""
    xr = load_xr()
    extensions = available_extensions(xr)
    instance = create_instance(xr, [], app_name="Tidewell xr info")
    try:
        properties = xr.get_instance_properties(instance)
        system = headset_system(xr, instance)
        system_properties = xr.get_system_properties(instance, system)
        views = [
            {
                "recommended": (v.recommended_image_rect_width, v.recommended_image_rect_height),
                "max": (v.max_image_rect_width, v.max_image_rect_height),
                "samples": v.recommended_swapchain_sample_count,
            }
            for v in xr.enumerate_view_configuration_views(instance, system, xr.ViewConfigurationType.PRIMARY_STEREO)
        ]
        graphics = system_properties.graphics_properties
        tracking = system_properties.tracking_properties
        version = properties.runtime_version
        return RuntimeInfo(
            runtime=as_text(properties.runtime_name),
            runtime_version=str(version),
            system=as_text(system_properties.system_name),
            vendor_id=int(system_properties.vendor_id),
            orientation_tracking=bool(tracking.orientation_tracking),
            position_tracking=bool(tracking.position_tracking),
            max_swapchain=(int(graphics.max_swapchain_image_width), int(graphics.max_swapchain_image_height)),
            views=views,
            blend_modes=blend_modes(xr, instance, system),
            extensions=extensions,
        )
    finally:
        xr.destroy_instance(instance)


def needed_extensions(xr, with_window: bool) -> list[str]:
    """The extensions a headset session needs: OpenGL, and EGL without a (mirror) window's GL context."""
    available = available_extensions(xr)
    if xr.KHR_OPENGL_ENABLE_EXTENSION_NAME not in available:
        raise XrUnavailable(
            "the OpenXR runtime offers no OpenGL graphics binding "
            f"({xr.KHR_OPENGL_ENABLE_EXTENSION_NAME}); Tidewell draws with OpenGL"
        )
    wanted = [xr.KHR_OPENGL_ENABLE_EXTENSION_NAME]
    if not with_window:
        if xr.MNDX_EGL_ENABLE_EXTENSION_NAME not in available:
            raise XrUnavailable(
                "without a display Tidewell needs the runtime's EGL binding (XR_MNDX_egl_enable, offered "
                "by Monado); with a display, run with the desktop mirror (the default)"
            )
        wanted.append(xr.MNDX_EGL_ENABLE_EXTENSION_NAME)
    return wanted


def opengl_graphics(xr, instance, system, mirror=None):
    """The OpenGL binding, made current: the mirror window's GL context (GLX), or EGL without a surface."""
    from xr.utils.gl import OpenGLGraphics

    if mirror is not None:
        provider = mirror.context_provider()
    else:
        # PyOpenGL picks its platform when first imported: EGL without a surface here.
        os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
        os.environ.setdefault("EGL_PLATFORM", "surfaceless")
        from xr.utils.gl.egl_util import EGLOffscreenContextProvider

        try:
            provider = EGLOffscreenContextProvider()
        except Exception as error:  # EGLError, RuntimeError
            raise XrUnavailable(f"no EGL context for the headset: {error}") from None
    return OpenGLGraphics(instance, system, provider)


def quietly(function, *args) -> None:
    """Tear-down after a lost runtime fails in every call; nothing is left to save by then."""
    try:
        function(*args)
    except Exception:
        pass
