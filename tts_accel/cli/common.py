"""Shared CLI pieces: the consoles, the one error boundary, and the exit codes.

Core raises the exceptions of ``tts_accel.core.errors`` (each names its exit code in the table
there); this module alone turns them into one line on stderr and ``typer.Exit(code)``.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console

from tts_accel.core.errors import BrokenPipe, Interrupted, TTSError

# Everything human-readable goes to stderr: stdout may be carrying audio.
err_console = Console(stderr=True, highlight=False)
# Piped or logged, Rich assumes 80 columns and would cut wide tables (`tts bench`) short.
wide_err_console = Console(stderr=True, width=110, highlight=False)
# Reports that are a command's output (`tts profile`, `tts voices`, `tts verify`) go to stdout.
out_console = Console(highlight=False, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])

EXIT_INTERRUPTED = 130


def fail(message: str, code: int) -> typer.Exit:
    from rich.markup import escape

    # escape: a message such as "pip install 'tts-accel[plot]'" must print as written
    err_console.print(f"[bold red]error:[/] {escape(message)}", markup=True, soft_wrap=True)
    return typer.Exit(code)


def _silence_stdout() -> None:
    """After the reader of stdout went away, point fd 1 at /dev/null so that Python's
    final flush does not print a second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


class CtrlC:
    """Ctrl-C sets a flag that the run checks between chunks, instead of a KeyboardInterrupt
    raised at an arbitrary bytecode (Python ignores one raised inside a weakref callback during
    an import, and then the run goes on). A second Ctrl-C interrupts at once."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def install(self) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        self.event.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def check(self) -> None:
        if self.event.is_set():
            raise Interrupted(INTERRUPTED)


INTERRUPTED = "interrupted: nothing was written under the output name."


def error_boundary(func: F) -> F:
    """Turn TTSError, Ctrl-C and surprises into one line on stderr and an exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except BrokenPipe as err:
            _silence_stdout()
            raise fail(str(err), err.exit_code) from None
        except TTSError as err:
            raise fail(str(err), err.exit_code) from None
        except KeyboardInterrupt:
            raise fail(INTERRUPTED, EXIT_INTERRUPTED) from None
        except BrokenPipeError:
            _silence_stdout()
            raise fail("stdout was closed before the output was done.", BrokenPipe.exit_code) from None
        except Exception as err:  # the last line of defence: never a bare traceback
            if os.environ.get("TTS_ACCEL_DEBUG"):
                traceback.print_exc()
            raise fail(
                f"internal error: {type(err).__name__}: {err} (set TTS_ACCEL_DEBUG=1 for the traceback "
                "and report it)",
                1,
            ) from None

    return wrapper  # type: ignore[return-value]
