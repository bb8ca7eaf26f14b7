"""What every command shares for its command line: a parser that reports errors as the usage exit code
instead of exiting, and the exit-code table as help text."""

from __future__ import annotations

import argparse
from typing import NoReturn

from kubetask_client._errors import EXIT_CODE_TABLE, ClientUsageError


class CommandParser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so main() returns the usage exit status."""

    def error(self, message: str) -> NoReturn:
        raise ClientUsageError(message)


def exit_code_help() -> str:
    rows = "\n".join(f"  {code:>3}  {meaning}" for code, meaning in EXIT_CODE_TABLE)
    return f"exit codes (every command):\n{rows}"


def add_input_options(parser: argparse.ArgumentParser, *, input_help: str) -> None:
    """``-i NAME=VALUE`` (repeatable) and ``--inputs-file FILE``, as run, submit and rerun take them."""
    parser.add_argument(
        "-i", "--input", dest="inputs", action="append", default=[], metavar="NAME=VALUE", help=input_help
    )
    parser.add_argument(
        "--inputs-file",
        metavar="FILE",
        help="a JSON or YAML object of inputs by name (-i values override it)",
    )
