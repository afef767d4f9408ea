"""Names shared by programs, scenes and the sound: one list each, so they cannot drift apart."""

AUDIO_LAYERS = ("breath", "drone", "ocean", "rain", "wind", "chime")
SWELLS = ("gentle", "even", "full")  # shapes of the breathing sound; the first is the default
