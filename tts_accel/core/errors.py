"""One exception hierarchy. Only the CLI turns these into messages and exit codes.

Exit codes (documented in the README):
  0 success · 1 unexpected internal error · 2 bad input or usage · 3 voice not found or
  not installed · 4 output cannot be written · 5 model failed to load or run ·
  6 a verify tier could not run · 130 interrupted (Ctrl-C, SIGINT) · 141 stdout closed by the reader
  (broken pipe) · 143 terminated (SIGTERM)
"""

from __future__ import annotations


class TTSError(Exception):
    """Base class: ``str(err)`` is one line that names the problem and the fix."""

    exit_code = 1


class InputError(TTSError):
    """The text or an option is unusable."""

    exit_code = 2


class VoiceError(TTSError):
    """The voice is unknown, not installed, or its files are broken."""

    exit_code = 3


class OutputError(TTSError):
    """The output cannot be written where the user asked."""

    exit_code = 4


class ModelError(TTSError):
    """The model failed to load or to run."""

    exit_code = 5


class BrokenPipe(TTSError):
    """The reader of stdout went away before the audio was done."""

    exit_code = 141


class Interrupted(TTSError):
    """The user pressed Ctrl-C; raised at a safe point between chunks."""

    exit_code = 130


class Terminated(Interrupted):
    """SIGTERM arrived; raised at a safe point between chunks, or at once while output is blocked."""

    exit_code = 143
