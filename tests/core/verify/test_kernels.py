"""Tier 1's checking logic on numpy stand-ins for kernels: it runs without torch, so these
tests prove on every install that a wrong kernel fails and a right one passes."""

from __future__ import annotations

import types

import numpy as np

from tts_accel.core.verify.kernels import SMALL_SHAPES, check_kernel, compare
from tts_accel.core.verify.report import FAIL, PASS
from tts_accel.kernels import TOLERANCES, KernelSpec

# dtype names as torch spells them; bf16 has no numpy dtype, float32 stands in for it.
FAKE_TORCH = types.SimpleNamespace(float32=np.float32, float16=np.float16, bfloat16=np.float32)


def odd_inputs(shape, dtype, device):
    return (np.random.default_rng(0).standard_normal(shape).astype(dtype),)


def stand_in(name, triton_fn, reference_fn, make_inputs=odd_inputs):
    return KernelSpec(name, triton_fn, reference_fn, make_inputs, doc="a numpy stand-in")


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_a_faithful_kernel_passes_every_dtype_and_is_a_kernel_spec():
    spec = stand_in("softmax", softmax, lambda x: softmax(x.astype(np.float64)).astype(x.dtype))
    rows = check_kernel(FAKE_TORCH, spec, "cpu", small=True)
    assert [r.item for r in rows] == [f"softmax {d}" for d in TOLERANCES]
    assert all(r.status == PASS for r in rows)


def test_an_off_by_a_little_kernel_fails_only_where_the_tolerance_is_tight():
    spec = stand_in("scale", lambda x: x * np.float32(1 + 1e-4), lambda x: x)
    rows = {r.item.split()[1]: r for r in check_kernel(FAKE_TORCH, spec, "cpu", small=True)}
    assert rows["float32"].status == FAIL and str(SMALL_SHAPES[0]) in rows["float32"].reason
    assert rows["bfloat16"].status == PASS  # 1e-4 relative is within bf16's 5e-2


def test_a_kernel_that_raises_is_a_failed_check_not_a_crash():
    def boom(x):
        raise ValueError("width 123 not supported")

    raising = check_kernel(FAKE_TORCH, stand_in("boom", boom, lambda x: x), "cpu", True)
    assert len(raising) == len(TOLERANCES) and all(r.status == FAIL and "width 123" in r.reason for r in raising)


def test_compare_catches_shape_count_and_nan_mismatches():
    a = np.ones((3, 4))
    assert compare(a, a, 1e-5) == (0.0, True, "")
    assert compare(a[:, :3], a, 1e-5)[1:] == (False, "shape (3, 3), reference (3, 4)")
    assert compare((a, a), a, 1e-5)[1] is False
    nan = a.copy()
    nan[0, 0] = np.nan
    worst, ok, _ = compare(nan, a, 1e-5)
    assert not ok and worst == np.inf
    assert compare(a * (1 + 2e-5), a, 1e-5)[1] is True  # within tol + tol * |ref|
    assert compare(a * (1 + 3e-5), a, 1e-5)[1] is False
