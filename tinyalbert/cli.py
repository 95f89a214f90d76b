"""What the command-line tools share: a user's mistake becomes one `error:` line, never a
traceback or argparse's usage block."""
from __future__ import annotations

import argparse
import sys


class UsageError(Exception):
    """A mistake in what the user asked for: reported as one `error:` line, exit status 2."""


def print_error(message, prefix: str = "error") -> None:
    """`error: MESSAGE` on standard error, as one line whatever the message holds: line breaks
    and other white space (a quoted argument may carry them) are folded into single spaces."""
    print(f"{prefix}: {' '.join(str(message).split())}", file=sys.stderr)


class OneLineErrorParser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of argparse's usage block
        raise UsageError(f"{message} (see --help)")


def int_at_least(minimum: int):
    """An argparse `type` accepting integers >= `minimum`, with a message that says so."""
    wanted = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {value}")
        return value

    return parse
