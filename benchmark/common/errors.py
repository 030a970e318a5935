"""Errors every command shares."""


class UsageError(ValueError):
    """A bad command line: printed as one line, exit code 2."""
