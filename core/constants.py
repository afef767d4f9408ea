"""Names shared by programs, scenes and the sound: one list each, so they cannot drift apart."""

AUDIO_LAYERS = ("breath", "drone", "ocean", "rain", "wind", "chime")
SWELLS = ("gentle", "even", "full")  # shapes of the breathing sound; the first is the default
# What a scene shows that some clients fear or cannot take (scene.toml `tags`; sessions/precautions.py):
# water, enclosed spaces, heights, darkness; a guide mainly heard, not seen; stripe-like moving patterns
SCENE_TAGS = ("water", "enclosed", "heights", "dark", "audio_led", "patterned")
COMFORT_PROFILES = ("standard", "photosensitive")  # the render's comfort guard (engine/render/comfort.py)
GUIDANCE = ("both", "visual", "audio")  # how the breathing guide reaches the client
