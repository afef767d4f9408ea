"""The ground floor: what every other part of Tidewell stands on and which imports nothing of Tidewell.

The frame state and clocks, the TOML reader, the event-kind registry, shared constants, the
error root, words for people, owner-only files and input limits.
"""
