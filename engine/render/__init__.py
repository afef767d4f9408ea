"""Render targets (offscreen EGL, pyglet window) and the scene renderer."""
