"""The root of every error Tidewell raises on purpose: bad input, a damaged file, a missing device.

The command line reports a TidewellError as one clear message; anything else is a bug and keeps
its traceback. Each error class also keeps the built-in base it had before (ValueError, OSError,
...), so code that catches those still catches it.
"""


class TidewellError(Exception):
    """Something the person at the keyboard can act on, said in words they understand."""


class UsageError(TidewellError, ValueError):
    """An option, argument or combination of them that cannot be used as given."""


class OutputFileError(TidewellError, OSError):
    """A file or folder Tidewell was asked to write cannot be written."""


class ResourceUnavailable(TidewellError, OSError):
    """The computer refuses something Tidewell needs: a network port, a place to keep a file."""
