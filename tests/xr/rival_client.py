"""A second OpenXR application that runs frames for argv[1] seconds (monado_testbed.hide_session).
Monado shows only one application at a time: while this one runs, the other is hidden."""

import ctypes
import os
import sys
import time

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
os.environ.setdefault("EGL_PLATFORM", "surfaceless")
import xr  # noqa: E402
from xr.utils.gl import OpenGLGraphics  # noqa: E402
from xr.utils.gl.egl_util import EGLOffscreenContextProvider  # noqa: E402

seconds = float(sys.argv[1])
instance = xr.create_instance(
    xr.InstanceCreateInfo(
        application_info=xr.ApplicationInfo(application_name="rival"),
        enabled_extension_names=[xr.KHR_OPENGL_ENABLE_EXTENSION_NAME, xr.MNDX_EGL_ENABLE_EXTENSION_NAME],
    )
)
system = xr.get_system(instance, xr.SystemGetInfo(form_factor=xr.FormFactor.HEAD_MOUNTED_DISPLAY))
graphics = OpenGLGraphics(instance, system, EGLOffscreenContextProvider())
session = xr.create_session(instance, xr.SessionCreateInfo(system_id=system, next=graphics.graphics_binding.pointer))
running, start = False, time.monotonic()
while time.monotonic() - start < seconds:
    try:
        while True:
            event = xr.poll_event(instance)
            if xr.StructureType(event.type) == xr.StructureType.EVENT_DATA_SESSION_STATE_CHANGED:
                state = xr.SessionState(
                    ctypes.cast(ctypes.byref(event), ctypes.POINTER(xr.EventDataSessionStateChanged)).contents.state
                )
                print("rival", state.name, flush=True)
                if state == xr.SessionState.READY:
                    xr.begin_session(
                        session,
                        xr.SessionBeginInfo(primary_view_configuration_type=xr.ViewConfigurationType.PRIMARY_STEREO),
                    )
                    running = True
    except xr.EventUnavailable:
        pass
    if running:
        frame = xr.wait_frame(session)
        xr.begin_frame(session)
        xr.end_frame(
            session,
            xr.FrameEndInfo(
                display_time=frame.predicted_display_time,
                environment_blend_mode=xr.EnvironmentBlendMode.OPAQUE,
                layers=[],
            ),
        )
    else:
        time.sleep(0.05)
xr.destroy_session(session)
xr.destroy_instance(instance)
