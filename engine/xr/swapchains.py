"""The headset's eye images: one OpenXR swapchain per eye that moderngl draws into, and the projection
layer that hands them to the runtime's compositor each frame."""

from __future__ import annotations

from dataclasses import dataclass

import moderngl

from tidewell.engine.xr import runtime as xr_runtime

# Colour formats, best first: 8-bit sRGB (the scenes write display values, which the runtime then
# reads as sRGB), plain 8-bit, then half float (what Monado lists first).
GL_SRGB8_ALPHA8, GL_RGBA8, GL_RGB10_A2, GL_RGBA16F = 0x8C43, 0x8058, 0x8059, 0x881A
FORMAT_DTYPES = {GL_SRGB8_ALPHA8: "f1", GL_RGBA8: "f1", GL_RGB10_A2: "f1", GL_RGBA16F: "f2"}


@dataclass
class Swapchain:
    handle: object
    size: tuple[int, int]
    framebuffers: list[moderngl.Framebuffer]
    textures: list[moderngl.Texture]


def color_format(xr, session) -> int:
    """The best colour format the runtime offers; XrUnavailable when it offers none Tidewell can draw into."""
    formats = [int(f) for f in xr.enumerate_swapchain_formats(session)]
    chosen = next((f for f in (GL_SRGB8_ALPHA8, GL_RGBA8, GL_RGB10_A2, GL_RGBA16F) if f in formats), None)
    if chosen is None:
        raise xr_runtime.XrUnavailable(
            f"the runtime offers no colour format Tidewell can draw into (it has {', '.join(hex(f) for f in formats)})"
        )
    return chosen


def make_swapchain(xr, session, ctx: moderngl.Context, format_: int, view) -> Swapchain:
    """One eye's swapchain at the runtime's recommended size, each image wrapped as a framebuffer."""
    size = (int(view.recommended_image_rect_width), int(view.recommended_image_rect_height))
    handle = xr.create_swapchain(
        session,
        xr.SwapchainCreateInfo(
            usage_flags=xr.SwapchainUsageFlags.COLOR_ATTACHMENT_BIT | xr.SwapchainUsageFlags.SAMPLED_BIT,
            format=format_,
            sample_count=1,
            width=size[0],
            height=size[1],
            face_count=1,
            array_size=1,
            mip_count=1,
        ),
    )
    images = xr.enumerate_swapchain_images(handle, xr.SwapchainImageOpenGLKHR)
    textures, framebuffers = [], []
    for image in images:
        texture = ctx.external_texture(int(image.image), size, 4, 0, FORMAT_DTYPES[format_])
        textures.append(texture)
        framebuffers.append(ctx.framebuffer(color_attachments=[texture]))
    return Swapchain(handle, size, framebuffers, textures)


def projection_layers(xr, swapchains: list[Swapchain], space) -> tuple[object, dict[bool, object]]:
    """The layer views (one per eye; each frame sets their pose and field of view) and the projection
    layer over them, opaque (False) and alpha-blended (True). Made once: pyopenxr's structures cost tens
    of microseconds each to build."""
    layer_views = (xr.CompositionLayerProjectionView * len(swapchains))(
        *[xr.CompositionLayerProjectionView() for _ in swapchains]
    )
    for layer_view, swapchain in zip(layer_views, swapchains):
        layer_view.sub_image.swapchain = swapchain.handle
        layer_view.sub_image.image_rect.offset[:] = [0, 0]
        layer_view.sub_image.image_rect.extent[:] = list(swapchain.size)
        layer_view.sub_image.image_array_index = 0
    flags = {False: xr.CompositionLayerFlags.NONE, True: xr.CompositionLayerFlags.BLEND_TEXTURE_SOURCE_ALPHA_BIT}
    layers = {
        alpha: xr.CompositionLayerProjection(layer_flags=flags[alpha], space=space, views=layer_views)
        for alpha in (False, True)
    }
    return layer_views, layers


def release_swapchains(xr, swapchains: list[Swapchain], quietly) -> None:
    for swapchain in swapchains:
        for framebuffer in swapchain.framebuffers:
            framebuffer.release()
        quietly(xr.destroy_swapchain, swapchain.handle)
