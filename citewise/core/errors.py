"""Errors meant for the user: the CLI prints their message on one line, never a traceback."""


class CitewiseError(Exception):
    """A problem the user can fix (bad input, missing index, wrong settings)."""


class IndexMissingError(CitewiseError):
    pass


class IndexIncompatibleError(CitewiseError):
    pass


class IndexBrokenError(CitewiseError):
    """The published index cannot be read (a file missing or damaged); the message says how to repair it."""
