"""Errors meant for the user: the CLI prints their message on one line, never a traceback."""


class CitewiseError(Exception):
    """A problem the user can fix (bad input, missing index, wrong settings)."""


class IndexMissingError(CitewiseError):
    pass


class IndexIncompatibleError(CitewiseError):
    pass
