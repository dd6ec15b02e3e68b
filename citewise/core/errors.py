"""Errors meant for the user: the CLI prints their message on one line, never a traceback."""


class CitewiseError(Exception):
    """A problem the user can fix (bad input, missing index, wrong settings)."""


class IndexMissingError(CitewiseError):
    pass


class IndexIncompatibleError(CitewiseError):
    pass


class IndexBrokenError(CitewiseError):
    """The published index cannot be read (a file missing or damaged); the message says how to repair it."""


class InvalidInput(CitewiseError):
    """Several problems in one input (each bad line of a file), reported together so all can be fixed at once."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems) or ["invalid input"]
        more = len(self.problems) - 1
        super().__init__(self.problems[0] + (f" (and {more} more problems)" if more else ""))
