"""Shared CLI pieces: the consoles, the one error boundary, and the exit codes.

Core raises the exceptions of ``tts_accel.core.errors`` (each names its exit code in the table
there); this module alone turns them into one line on stderr and ``typer.Exit(code)``.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import math
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, cast

import typer
from typer.core import TyperGroup

from tts_accel.core.errors import BrokenPipe, InputError, Interrupted, Terminated, TTSError

if TYPE_CHECKING:
    from rich.console import Console

#: Columns a console gets when it is not a terminal (piped, logged, captured) and $COLUMNS is not
#: set: Rich would assume 80 and squeeze tables into cut names ("ort-f…" in `tts tune`). A table
#: takes only the width it needs, so wide is never padded; a terminal keeps its own width.
NOT_A_TERMINAL_WIDTH = 200


class LazyConsole:
    """A Rich console built on first use: a run that prints nothing (``tts synth -q``) never
    imports Rich's console module. Everything is forwarded to the real ``Console`` (``real``)."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None
        self._lock = threading.Lock()

    @property
    def built(self) -> bool:
        return self._console is not None

    @property
    def real(self) -> Console:
        if self._console is None:
            with self._lock:
                if self._console is None:
                    from rich.console import Console

                    console = Console(**self._options)
                    if not console.is_terminal and not os.environ.get("COLUMNS"):
                        console.width = NOT_A_TERMINAL_WIDTH
                    self._console = console
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def __enter__(self) -> Console:  # Rich's Live enters its console around each refresh
        return self.real.__enter__()

    def __exit__(self, *exc: Any) -> None:
        self.real.__exit__(*exc)


# Everything human-readable goes to stderr: stdout may be carrying audio.
# (typed as the Console each stands for: commands hand them to Rich's Progress and renderers)
err_console = cast("Console", LazyConsole(stderr=True, highlight=False))
# Reports that are a command's output (`tts profile`, `tts voices`, `tts verify`) go to stdout.
out_console = cast("Console", LazyConsole(highlight=False, soft_wrap=True))

F = TypeVar("F", bound=Callable[..., Any])

EXIT_INTERRUPTED = 130


def _plain_flags(params: list[Any]) -> list[Any]:
    """An on/off flag takes no value: its help row shows no ``<bool>`` type (Typer shows the
    annotation's type for every option unless a metavar is set)."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class Group(TyperGroup):
    """The `tts` group and its sub-groups: every command's help, flags without a value type."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_flags(super().get_params(ctx))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _plain_flags(command.get_params(ctx))  # the declared options and the (cached) --help
        return command


def plural(count: int, noun: str) -> str:
    """``1 chunk``, ``2 chunks``: a count with its noun in agreement (regular plurals only)."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def fail(message: str, code: int) -> typer.Exit:
    if _plain(err_console, sys.stderr):
        # what Rich prints to a stream that is not a terminal, without importing Rich (0.1 s, and
        # 0.4-0.6 s beside a stopped run's busy threads under load: most of signal-to-exit)
        sys.stderr.write(f"error: {message}\n")
        sys.stderr.flush()
        return typer.Exit(code)
    from rich.markup import escape

    # escape: a message such as "pip install 'tts-accel[plot]'" must print as written
    err_console.print(f"[bold red]error:[/] {escape(message)}", markup=True, soft_wrap=True)
    return typer.Exit(code)


def _plain(console: object, stream: Any) -> bool:
    """Plain text serves: no Rich console was built yet (it would be kept for the rest of the
    run), the stream is not a terminal, and no colour is forced."""
    if not isinstance(console, LazyConsole) or console.built or os.environ.get("FORCE_COLOR"):
        return False
    try:
        return not stream.isatty()
    except (AttributeError, ValueError):  # no stream, or a closed one
        return False


def _silence_stdout() -> None:
    """After the reader of stdout went away, point fd 1 at /dev/null so that Python's
    final flush does not print a second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


class CtrlC:
    """SIGINT (Ctrl-C) and SIGTERM cancel the run (``cancel``, a ``core.cancel.Cancel``): its
    model runs in flight are aborted, and the run stops at its next check (between chunks,
    windows and phonemizer calls), instead of an exception raised at an arbitrary bytecode (Python
    ignores one raised inside a weakref callback during an import, and then the run goes on).
    Inside ``blocking()`` (opening a FIFO, writing to a reader that stalls, reading stdin) the
    signal interrupts at once, since the run would never reach the next check. A second signal
    interrupts at once anywhere. Exit 130 and 143.

    Python runs a signal's handler on the main thread, and only between two bytecodes: so the
    pipeline never runs a model there (``pipeline.scheduler``); the main thread waits where the
    handler runs at once, and the cancel wakes it."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        from tts_accel.core.cancel import Cancel

        self.cancel = Cancel()
        self.signum: int | None = None  # the last signal (the handler takes no lock: see Cancel)
        self._blocking = 0

    def install(self) -> None:
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        again = self.signum is not None
        self.signum = signum
        self.cancel.cancel(functools.partial(_stopped_by, signum))
        if again or self._blocking:
            raise self._error()

    def _error(self) -> Interrupted:
        return _stopped_by(self.signum)

    def check(self) -> None:
        self.cancel.check()

    @contextlib.contextmanager
    def blocking(self) -> Iterator[None]:
        """A region where a signal raises at once (a call that may block for good)."""
        self._blocking += 1
        try:
            self.check()
            yield
        finally:
            self._blocking -= 1


def _stopped_by(signum: int | None) -> Interrupted:
    """The error of a run stopped by ``signum``: exit 143 for SIGTERM, 130 for SIGINT."""
    if signum == signal.SIGTERM:
        return Terminated(TERMINATED)
    return Interrupted(INTERRUPTED)


INTERRUPTED = "interrupted: nothing was written under the output name (a stream stops where it was)."
TERMINATED = "terminated (SIGTERM): nothing was written under the output name (a stream stops where it was)."
# Write errors that mean "the output cannot be written", wherever they escape (stdout's final flush).
WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG, errno.EROFS}


def error_boundary(func: F) -> F:
    """Turn TTSError, Ctrl-C and surprises into one line on stderr and an exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            check_finite(kwargs)
            result = func(*args, **kwargs)
            sys.stdout.flush()  # a table on stdout, to a full disk: fail here, not silently at exit
            return result
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
        except OSError as err:
            if err.errno not in WRITE_ERRNOS:
                return _internal(err)
            _silence_stdout()  # what stdout still buffers would fail again at exit
            where = err.filename or "stdout"
            raise fail(f"cannot write {where}: {err.strerror} ({errno.errorcode[err.errno]}).", 4) from None
        except Exception as err:  # the last line of defence: never a bare traceback
            return _internal(err)

    return wrapper  # type: ignore[return-value]


def check_finite(options: dict[str, Any]) -> None:
    """Every float option of every command is a finite number: click reads "nan" and "inf" as
    floats, and a range check such as ``value <= 0`` lets nan through. InputError (exit 2)."""
    for name, value in options.items():
        for item in value if isinstance(value, (list, tuple)) else (value,):
            if isinstance(item, float) and not math.isfinite(item):
                flag = "--" + name.replace("_", "-")
                raise InputError(f"{flag} {item} is not a number: give a finite value, e.g. {flag} 1.")


def _internal(err: Exception) -> NoReturn:
    if os.environ.get("TTS_ACCEL_DEBUG"):
        traceback.print_exc()
    raise fail(
        f"internal error: {type(err).__name__}: {err} (set TTS_ACCEL_DEBUG=1 for the traceback and report it)", 1
    ) from None


def run_app(app: Callable[[], Any]) -> None:
    """Run the Typer app. What escapes every command's boundary (``--version`` or ``--help`` to a
    full or closed stdout) still ends in one line and an exit code, never a traceback."""
    try:
        app()
    except SystemExit as done:
        if done.code in (Interrupted.exit_code, Terminated.exit_code):
            _exit_now(done.code)
        raise
    except BrokenPipeError:
        _silence_stdout()
        sys.exit(BrokenPipe.exit_code)
    except OSError as err:
        if err.errno not in WRITE_ERRNOS:
            raise
        _silence_stdout()
        fail(f"cannot write {err.filename or 'stdout'}: {err.strerror} ({errno.errorcode[err.errno]}).", 4)
        sys.exit(4)


def _exit_now(code: int) -> NoReturn:
    """End a stopped run without the rest of Python's shutdown: the run cleaned up after itself
    (its temporary files are gone, its message is out), and what is left only costs time: joining
    worker threads (a torch window cannot be aborted, a compile runs for minutes), then freeing
    every object (0.25-0.35 s after a 2 MB text on the dev VM under load, half of signal-to-exit).
    The exit handlers still run: multiprocessing's release what `tts batch`'s pool held."""
    import atexit

    with contextlib.suppress(Exception):
        atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
