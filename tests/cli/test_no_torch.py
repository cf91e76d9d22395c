"""`tts synth` on the default voice never imports torch (importing it costs a second), even
with the torch extra installed: the ONNX path is the one a user gets by default."""

from __future__ import annotations

import importlib.util
import json

import pytest
import soundfile as sf

from tests.utils import run_python
from tts_accel.core.hardware.gpu import driver_present

CODE = """
import json, sys
from tts_accel.cli.app import app
try:
    app(["synth", "Hello there, no torch today.", "-o", {out!r}, "-q"], standalone_mode=False)
finally:
    print(json.dumps({{m: m in sys.modules for m in ("torch", "triton", "tts_accel.kernels")}}))
"""


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="proves nothing without torch installed")
@pytest.mark.skipif(driver_present(), reason="with a GPU driver, `auto` looks for a CUDA GPU through torch")
def test_synth_on_the_default_voice_never_imports_torch(tmp_path):
    out = tmp_path / "hello.wav"
    loaded = json.loads(run_python(CODE.format(out=str(out))).stdout.strip().splitlines()[-1])
    assert sf.info(out).duration > 0.5  # it really spoke
    assert loaded == {"torch": False, "triton": False, "tts_accel.kernels": False}
