"""The root of every error Tidewell raises on purpose: bad input, a damaged file, a missing device.

The command line reports a TidewellError as one clear message; anything else is a bug and keeps
its traceback.
"""


class TidewellError(Exception):
    """Something the person at the keyboard can act on, said in words they understand."""
