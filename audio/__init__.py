"""Breathing-guide sound and soundscape: synthesis, device output and WAV files."""
