"""One mode vocabulary: plans validate mode, backend and precision together, and no run falls
back silently to another mode."""

from __future__ import annotations

import importlib.util

import pytest

from tests.utils import DelayBackend, fake_chunks
from tts_accel import synthesize
from tts_accel.core.errors import InputError, ModeNotApplicable, TorchMissing, UnknownMode
from tts_accel.core.pipeline import scheduler
from tts_accel.core.plan import modes
from tts_accel.core.plan.model import ExecutionPlan
from tts_accel.core.voices.params import ZERO_NOISE

HAS_TORCH = importlib.util.find_spec("torch") is not None


def test_the_vocabulary_names_each_mode_once_with_its_backend():
    assert modes.CLI_MODES[0] == "auto" and len(set(modes.CLI_MODES)) == len(modes.CLI_MODES)
    assert set(modes.ONNX_MODES) | set(modes.TORCH_MODES) == set(modes.SPECS)
    assert all(modes.SPECS[m].backend == "torch" for m in modes.TORCH_MODES)
    assert [m for m, s in modes.SPECS.items() if s.batches] == ["batched"]
    with pytest.raises(UnknownMode, match="unknown mode 'warp'.*sequential, parallel"):
        modes.spec("warp")


def test_a_plan_checks_mode_backend_and_precision_together():
    assert ExecutionPlan(mode="torch").backend == "torch"  # the mode's own backend when left out
    assert ExecutionPlan(mode="sequential", precision="int8").backend == "onnx"
    with pytest.raises(UnknownMode, match="use one of auto"):
        ExecutionPlan(mode="warp")
    with pytest.raises(InputError, match="runs on the onnx backend"):
        ExecutionPlan(mode="sequential", backend="torch")
    with pytest.raises(InputError, match="fp32 or fp16 or bf16"):
        ExecutionPlan(mode="torch", precision="int8")
    with pytest.raises(InputError, match="runs on the CPU"):
        ExecutionPlan(mode="pipelined", device="cuda")


def test_the_scheduler_never_runs_an_unknown_mode_sequentially():
    plan = ExecutionPlan(mode="sequential")
    object.__setattr__(plan, "mode", "warp")  # a plan that escaped validation
    with pytest.raises(UnknownMode):
        list(scheduler.run(fake_chunks(3), DelayBackend(0.0), ZERO_NOISE, plan))
    torch_plan = ExecutionPlan(mode="torch")  # torch modes schedule one chunk after another
    out = list(scheduler.run(fake_chunks(5), DelayBackend(0.0), ZERO_NOISE, torch_plan))
    assert [p.chunk.index for p in out] == list(range(5))


def test_the_library_gets_its_plan_from_the_resolver():
    with pytest.raises(UnknownMode, match="unknown mode 'warp'"):
        synthesize("Hello.", mode="warp")
    # Kokoro's family cannot batch: said before any model is loaded (the extra need not be installed)
    with pytest.raises(ModeNotApplicable, match="Kokoro cannot run batched"):
        synthesize("Hello.", voice="kokoro-jf_alpha", mode="batched")


@pytest.mark.skipif(HAS_TORCH, reason="torch is installed here")
def test_library_torch_mode_without_torch_says_how_to_install():
    with pytest.raises(TorchMissing, match=r"pip install 'tts-accel\[torch\]'"):
        synthesize("Hello.", mode="torch")


@pytest.mark.skipif(not HAS_TORCH, reason="needs the torch extra")
def test_library_torch_mode_runs_the_torch_port():
    """It used to build ExecutionPlan(mode='torch') by hand and run ONNX Runtime silently."""
    from tts_accel.core.pipeline.synthesizer import _SYNTHS
    from tts_accel.core.voices.piper.torch_vits.backend import TorchVitsBackend

    audio, rate = synthesize("Hello.", mode="torch", noise_scale=0.0, noise_w=0.0)
    assert rate == 22050 and audio.size > rate // 4
    synth = _SYNTHS[("piper-joe", "torch", None)]
    assert isinstance(synth.backend, TorchVitsBackend) and synth.plan.backend == "torch"
