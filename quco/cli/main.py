# PYTHON_ARGCOMPLETE_OK
"""The `quco` command line. The library raises; this module formats errors as one line."""

from __future__ import annotations

import argparse
import os
import sys

from quco import __version__
from quco.cli import batch, check, demo, index, ops, reward, serve
from quco.cli.common import Parser
from quco.errors import QucoError, Terminated
from quco.process import interrupts_noted, signalled_stop


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="quco", description="Decide when an LLM must retrieve, from corpus statistics (QuCo-RAG).")
    p.add_argument("--version", action="version", version=f"quco {__version__}")
    p.add_argument("--config", help="path to a quco.toml (default: ./quco.toml if present)")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)
    for group in (index, check, batch, reward, serve, ops, demo):  # the order of `quco --help`
        group.register(sub)
    return p


def _add_verbosity(parser: argparse.ArgumentParser) -> None:
    """-v / -q on every command and subcommand (argparse keeps options per parser)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _add_verbosity(sub)
    if not any("--quiet" in a.option_strings for a in parser._actions):
        g = parser.add_mutually_exclusive_group()
        g.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
        g.add_argument("-q", "--quiet", action="store_true", help="only errors: no warnings, no progress bars")


def _configure_logging(args) -> None:
    import logging

    level = logging.ERROR if args.quiet else {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="quco: %(message)s" if level >= logging.WARNING else
                        "quco %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("quco").setLevel(level)
    if args.quiet and hasattr(args, "no_progress"):
        args.no_progress = True


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    _add_verbosity(parser)
    try:  # shell completion when argcomplete is installed: eval "$(register-python-argcomplete quco)"
        import argcomplete

        argcomplete.autocomplete(parser)
    except ImportError:
        pass
    args = parser.parse_args(argv)
    _configure_logging(args)
    with interrupts_noted():  # Ctrl-C stays KeyboardInterrupt, and is known where DuckDB swallowed it
        try:
            return args.handler(args)
        except QucoError as exc:
            if (stop := signalled_stop()) is not None:  # an error wrapping a query the signal cut short
                return _stopped(args, stop)
            return _failed(args, f"error: {exc}", type(exc).__name__, exc.exit_code)
        except (KeyboardInterrupt, Terminated) as signalled:
            return _stopped(args, signalled)
        except BrokenPipeError:
            return 0
        except Exception as exc:  # a bug: say so in one line; the traceback is one variable away
            if (stop := signalled_stop()) is not None:  # DuckDB reports a query the signal cut short as "Query interrupted"
                return _stopped(args, stop)
            if os.environ.get("QUCO_DEBUG"):
                raise
            return _failed(args, f"internal error: {type(exc).__name__}: {exc} (set QUCO_DEBUG=1 for a traceback)",
                           "InternalError", 70)


def _stopped(args, stop: BaseException) -> int:
    """The exit for a stop signal: 143 after SIGTERM (``Terminated``), 130 after Ctrl-C."""
    if isinstance(stop, Terminated):
        return _failed(args, "terminated", "Terminated", 143)
    return _failed(args, "interrupted", "KeyboardInterrupt", 130)


def _failed(args, message: str, kind: str, code: int) -> int:
    """One line on stderr; under --json also the error as a JSON object on stdout, where the
    command's JSON would have been: {"error": {"type", "message", "exit_code"}}."""
    print(f"quco: {message}", file=sys.stderr)
    if getattr(args, "json", False):
        import json

        print(json.dumps({"error": {"type": kind, "message": message, "exit_code": code}}))
    return code


if __name__ == "__main__":
    sys.exit(main())
