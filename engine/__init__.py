"""Session engine: clock, frame state, session runner, render targets and CLI."""
