"""How a command-line face (``vlm4rec``, ``python app.py``) reports what went wrong: one line on
stderr and an exit code, never a traceback for an error a user can fix."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from pydantic import ValidationError

from .errors import Vlm4recError


def run_reporting_errors(run: Callable[[], int], verbose: bool = False) -> int:
    """``run()``'s exit code; 2 for a user's error, 130 for Ctrl-C, 3 for a bug (re-raised when verbose)."""
    try:
        return run()
    except Vlm4recError as error:
        _report(f"error: {error}")
        return 2
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in error.errors())
        _report(f"error: invalid setting: {problems}")
        return 2
    except BrokenPipeError:  # the reader went away (`vlm4rec search ... | head`): stop quietly, as Unix tools do
        _silence_stdout()
        return 141
    except KeyboardInterrupt:
        _report("interrupted; finished work is kept (an ingest continues where it stopped when run again)")
        return 130
    except Exception as error:  # a bug: say so in one line, traceback only on request
        if verbose:
            raise
        _report(f"internal error: {type(error).__name__}: {error} (run again with --verbose for details)")
        return 3


def _report(line: str) -> None:
    """The one line a command-line face shows for what went wrong: on stderr, as the faces' contract says."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (tests capture it): nothing to do
        pass
