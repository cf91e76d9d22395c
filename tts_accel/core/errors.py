"""Every exception class of tts-accel. Only the CLI turns them into messages and exit codes.

Each class carries the exit code the CLI gives it (the README's table):
  0 success · 1 unexpected internal error · 2 bad input or usage · 3 voice not found or
  not installed · 4 output cannot be written · 5 model failed to load or run ·
  6 a verify tier could not run · 7 `tts batch`: some rows failed (the others are done) ·
  130 interrupted (Ctrl-C, SIGINT) · 141 stdout closed by the reader (broken pipe) ·
  143 terminated (SIGTERM)
"""

from __future__ import annotations

import errno as _errno
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TORCH_INSTALL = "pip install 'tts-accel[torch]'"
EVAL_INSTALL = "pip install 'tts-accel[eval]'"


class TTSError(Exception):
    """Base class: ``str(err)`` is one line that names the problem and the fix."""

    exit_code = 1


class InputError(TTSError):
    """The text or an option is unusable."""

    exit_code = 2


class UnknownMode(InputError):
    """A mode name that is not in the vocabulary (``tts_accel.core.plan.modes``)."""


class ModeNotApplicable(InputError):
    """A known mode or precision that this voice family, this machine or this graph cannot run;
    bench, tune and verify skip it with this reason, `tts synth` refuses it."""


class TorchMissing(ModeNotApplicable):
    """PyTorch (the ``torch`` extra) is needed and not installed."""


class GraphSplitError(ModeNotApplicable):
    """A voice's graph cannot be split into a text stage and a windowed acoustic stage (not a
    Piper VITS graph, or an acoustic part that looks across time). Without ``--windows`` the run
    falls back to whole chunks with a ``--verbose`` note; with it, this is the error."""


class NonLocalError(GraphSplitError):
    """A node of an acoustic-stage graph looks along time in a way windows cannot reproduce."""


class VoiceError(TTSError):
    """The voice is unknown, not installed, or its files are broken."""

    exit_code = 3


class OutputError(TTSError):
    """The output cannot be written where the user asked."""

    exit_code = 4


class ModelError(TTSError):
    """The model failed to load or to run."""

    exit_code = 5


class DeviceUnavailableError(ModeNotApplicable, ModelError):
    """The requested mode needs hardware this machine does not have (a CUDA GPU). A model error
    (exit 5) for `tts synth`; bench and verify skip the mode with this reason."""

    exit_code = 5


class KernelInputError(ModelError, ValueError):
    """A Triton kernel launcher was given a tensor it cannot handle (shape, dtype, device or layout)."""


class TierUnavailable(TTSError):
    """A `tts verify` tier cannot run here at all (an extra is missing); ``str`` says why and how to fix it."""

    exit_code = 6


class EvalUnavailable(TierUnavailable):
    """The speech recognizer (the ``eval`` extra) is not installed or its model is missing."""


class BrokenPipe(TTSError):
    """The reader of stdout went away before the audio was done."""

    exit_code = 141


class Interrupted(TTSError):
    """The user pressed Ctrl-C; raised at a safe point between chunks."""

    exit_code = 130


class Terminated(Interrupted):
    """SIGTERM arrived; raised at a safe point between chunks, or at once while output is blocked."""

    exit_code = 143


class RowsFailed(TTSError):
    """`tts batch` finished, but some rows could not be synthesized (listed in errors.jsonl)."""

    exit_code = 7


def torch_missing(what: str) -> TorchMissing:
    """The one message for a missing torch: ``what`` needs it, and the command that installs it."""
    return TorchMissing(f"{what} needs PyTorch: {TORCH_INSTALL}, or use --mode auto.")


def output_error(path: str | os.PathLike[str], err: OSError, what: str = "write") -> OutputError:
    """An OSError on a user-visible write, as one line naming the path, the cause and a fix."""
    cause = err.strerror or str(err)
    hint = {
        _errno.ENOSPC: "free some space",
        _errno.EROFS: "the file system is read-only: choose another place",
        _errno.EACCES: "check the permissions or choose another place",
        _errno.EPERM: "check the permissions or choose another place",
        _errno.ENOENT: "check that the folder exists",
        _errno.ENOTDIR: "a part of the path is a file, not a folder",
    }.get(err.errno or 0, "choose a writable place")
    return OutputError(f"cannot {what} {Path(path)}: {cause}; {hint}.")


@dataclass(frozen=True)
class RowError:
    """One corpus row that failed (`tts batch`): never raised, it is written to errors.jsonl and
    the run goes on with the next row. Here beside the exceptions because it is an error's record."""

    line: int  # 1-based line of the input where the row starts
    id: str | None  # None when the row's id could not be read
    error: str  # the one-line message, naming the fix

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "line": self.line, "error": self.error}


# --- `tts serve`: what a request can meet --------------------------------------------------------


class Busy(TTSError):
    """The queue is full: try again later (HTTP 429 with Retry-After)."""

    exit_code = 2


class Cancelled(TTSError):
    """The request was cancelled (its client went away, or it ran out of time)."""

    exit_code = 2


class ApiError(Exception):
    """One reply: ``status`` and OpenAI's ``{"error": {"message", "type", "param", "code"}}``."""

    def __init__(
        self,
        status: int,
        message: str,
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.headers = dict(headers or {})

    @property
    def type(self) -> str:
        if self.status == 401:
            return "authentication_error"
        if self.status == 429:
            return "rate_limit_exceeded"
        return "invalid_request_error" if self.status < 500 else "server_error"

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}
