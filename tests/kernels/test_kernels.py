"""Each Triton kernel against its pure-torch reference, and the launchers' refusals."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("triton")

from tts_accel.kernels import KERNELS, TOLERANCES, registry  # noqa: E402
from tts_accel.kernels._common import KernelInputError, launch_config  # noqa: E402
from tts_accel.kernels.layer_norm import MAX_CHANNELS, add_layer_norm  # noqa: E402
from tts_accel.kernels.leaky_relu import add_leaky_relu  # noqa: E402
from tts_accel.kernels.wn_gate import wn_gate  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
DTYPES = [torch.float32, torch.float16, torch.bfloat16]
SPECS = {spec.name: spec for spec in registry()}


def _as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


def test_registry_lists_every_kernel_once():
    assert tuple(SPECS) == KERNELS


@pytest.mark.parametrize("shape", [(3, 37, 123), (1, 5, 1), (2, 192, 257)])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", KERNELS)
def test_kernel_matches_reference(name, dtype, shape):
    torch.manual_seed(0)
    spec = SPECS[name]
    args = spec.make_inputs(shape, dtype, DEVICE)
    got, want = _as_tuple(spec.triton_fn(*args)), _as_tuple(spec.reference_fn(*args))
    tol = TOLERANCES[str(dtype).removeprefix("torch.")]
    for g, w in zip(got, want, strict=True):
        assert g.dtype == dtype and g.shape == w.shape
        torch.testing.assert_close(g, w, atol=tol, rtol=tol)


@pytest.mark.filterwarnings("ignore:overflow encountered in exp")  # the interpreter's numpy: exp(100) = inf
def test_gate_saturates_without_nan():
    x = torch.tensor([[[-100.0, 0.0, 100.0]] * 2], device=DEVICE)  # (1, 2, 3)
    out = wn_gate(x)
    torch.testing.assert_close(out, torch.tensor([[[-0.0, 0.0, 1.0]]], device=DEVICE), atol=1e-6, rtol=0)


def test_layer_norm_without_residual_normalises_channels():
    x = torch.randn(2, 7, 33, device=DEVICE) * 5 + 3
    out = add_layer_norm(x, None, torch.ones(7, device=DEVICE), torch.zeros(7, device=DEVICE))
    torch.testing.assert_close(out.mean(dim=1), torch.zeros(2, 33, device=DEVICE), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.var(dim=1, unbiased=False), torch.ones(2, 33, device=DEVICE), atol=1e-3, rtol=0)


def test_add_leaky_relu_handles_non_contiguous_inputs():
    a = torch.randn(4, 9, 20, device=DEVICE).transpose(1, 2)  # (4, 20, 9), strided
    b = torch.randn(4, 20, 9, device=DEVICE)
    s, act = add_leaky_relu(a, b, 0.2)
    torch.testing.assert_close(s, a + b)
    torch.testing.assert_close(act, torch.nn.functional.leaky_relu(a + b, 0.2))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: wn_gate(torch.randn(2, 3, 4)), "even channel count"),
        (lambda: wn_gate(torch.randn(6, 4)), "3 dimensions"),
        (lambda: wn_gate(torch.randn(1, 2, 4).double()), "float64"),
        (lambda: wn_gate(torch.zeros(1, 2, 0)), "empty"),
        (lambda: add_leaky_relu(torch.randn(3, 4), torch.randn(3, 5), 0.1), "must match"),
        (lambda: add_leaky_relu(torch.randn(3, 4), torch.randn(3, 4).half(), 0.1), "must match"),
        (lambda: add_layer_norm(torch.randn(1, 4, 5), None, torch.ones(3), torch.zeros(4)), "4 elements"),
        (lambda: add_layer_norm(torch.randn(1, MAX_CHANNELS + 1, 2), None, torch.ones(MAX_CHANNELS + 1),
                                torch.zeros(MAX_CHANNELS + 1)), "up to"),  # fmt: skip
        (lambda: add_layer_norm(torch.randn(1, 4, 5), torch.randn(1, 4, 6), torch.ones(4), torch.zeros(4)),
         "must match"),  # fmt: skip
    ],
)
def test_launchers_refuse_what_they_cannot_handle(call, message):
    with pytest.raises(KernelInputError, match=message):
        call()


def test_cpu_tensors_need_the_interpreter(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    with pytest.raises(KernelInputError, match="CUDA GPU"):
        wn_gate(torch.randn(1, 2, 3))


@pytest.mark.parametrize("n, block", [(1, 16), (100, 128), (4096, 4096), (10**6, 4096)])
def test_launch_config_blocks_are_powers_of_two_and_capped(n, block):
    got, warps = launch_config(n)
    assert got == block and 1 <= warps <= 16


def test_importing_the_kernels_package_imports_neither_torch_nor_triton():
    code = "import sys, tts_accel.kernels; assert not {'torch', 'triton'} & set(sys.modules), sys.modules.keys()"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])
