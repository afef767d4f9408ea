"""Scenes: folders of scene.toml plus GLSL that the renderer draws."""
