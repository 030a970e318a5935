"""Errors every command shares."""


class UsageError(ValueError):
    """A bad command line: printed as one line, exit code 2."""


def tool_main(prog: str, description: str | None, add_arguments, run, argv: list[str] | None) -> int:
    """The ``python -m`` entry of a tool that ``bench`` also runs: a bad option is argparse's usage error,
    a bad input one line on stderr and exit code 2."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog=prog, description=description)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except UsageError as exc:
        parser.error(str(exc))
    except (ValueError, OSError) as exc:
        print(exc, file=sys.stderr)
        return 2
