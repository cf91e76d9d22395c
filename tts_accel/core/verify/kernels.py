"""Tier 1: every Triton kernel against its pure-torch reference, per dtype, on odd shapes.

Without a GPU the kernels run on CPU tensors under ``TRITON_INTERPRET=1`` (set before
triton is first imported), on the tiny SMALL_SHAPES (FULL_SHAPES on a GPU without ``--quick``).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tts_accel.core.errors import TORCH_INSTALL, TierUnavailable
from tts_accel.core.verify.report import FAIL, Row, check, skip

if TYPE_CHECKING:  # the kernels package is imported when tier 1 runs, not with the CLI
    from tts_accel.kernels import KernelSpec

TIER = 1

# (B, C, T) shapes: odd sizes; the interpreter on CPU gets tiny ones (it runs ~1000x slower).
SMALL_SHAPES = ((1, 5, 17), (2, 7, 33))
FULL_SHAPES = ((3, 37, 123), (5, 123, 123), (1, 192, 1823))


def load_registry() -> list[KernelSpec]:
    """The kernel registry (``tts_accel.kernels.registry()``: imports torch and triton)."""
    from tts_accel.kernels import KernelSpec, registry

    specs = registry()
    bad = [getattr(s, "name", repr(s)) for s in specs if not isinstance(s, KernelSpec)]
    if bad:
        raise TierUnavailable(f"kernel registry entries {bad} are not KernelSpec records: fix tts_accel.kernels")
    return specs


def _prepare() -> tuple[Any, str]:
    """Import torch and triton (interpreter on CPU); raise TierUnavailable with the fix."""
    missing = [m for m in ("torch", "triton") if importlib.util.find_spec(m) is None]
    if missing:
        raise TierUnavailable(
            f"tier 1 needs {' and '.join(missing)}: {TORCH_INSTALL} (kernels run on "
            "CPU under TRITON_INTERPRET=1 when there is no GPU)"
        )
    import torch

    if torch.cuda.is_available():
        return torch, "cuda"
    os.environ.setdefault("TRITON_INTERPRET", "1")  # read when triton is first imported
    return torch, "cpu"


def _outputs(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (tuple, list)) else [value]


def _float64(tensor: Any) -> np.ndarray:
    """A torch tensor (any dtype, any device) or array-like as a float64 numpy array."""
    if hasattr(tensor, "detach"):  # torch: bf16 has no numpy dtype, so widen on the torch side
        tensor = tensor.detach().cpu().double().numpy()
    return np.asarray(tensor, dtype=np.float64)


def compare(got: Any, want: Any, tol: float) -> tuple[float, bool, str]:
    """Max abs difference, and whether every element is within ``tol + tol * |want|``."""
    worst, ok = 0.0, True
    got_list, want_list = _outputs(got), _outputs(want)
    if len(got_list) != len(want_list):
        return float("inf"), False, f"{len(got_list)} outputs, reference has {len(want_list)}"
    for g, w in zip(got_list, want_list, strict=True):
        g64, w64 = _float64(g), _float64(w)
        if g64.shape != w64.shape:
            return float("inf"), False, f"shape {g64.shape}, reference {w64.shape}"
        if g64.size:
            diff = np.abs(g64 - w64)
            worst = max(worst, float(np.nan_to_num(diff, nan=np.inf).max()))
            ok = ok and bool(np.all(diff <= tol + tol * np.abs(w64)))  # NaN compares False: fails
    return worst, ok, "" if ok else "outside tolerance"


def check_kernel(torch: Any, spec: KernelSpec, device: str, small: bool) -> list[Row]:
    """One row per dtype; ``torch`` is the module whose dtypes (float32, ...) are passed on."""
    from tts_accel.kernels import TOLERANCES

    rows = []
    for dtype_name, tol in TOLERANCES.items():
        dtype = getattr(torch, dtype_name)
        item = f"{spec.name} {dtype_name}"
        worst, ok, why, cases = 0.0, True, "", 0
        try:
            for shape in SMALL_SHAPES if small else FULL_SHAPES:
                args: Sequence[Any] = spec.make_inputs(shape, dtype, device)
                cases += 1
                diff, case_ok, case_why = compare(spec.triton_fn(*args), spec.reference_fn(*args), tol)
                worst = max(worst, diff)
                if not case_ok and ok:
                    shapes = [tuple(a.shape) for a in args if hasattr(a, "shape")]
                    ok, why = False, f"{case_why} at shapes {shapes}"
        except Exception as err:  # a kernel that raises is a failed check, not a crash of verify
            rows.append(Row(TIER, item, "runs", None, "", FAIL, f"{type(err).__name__}: {err}"))
            continue
        rows.append(check(TIER, item, f"max abs diff ({cases} shapes)", worst, ok, f"<= {tol:g} + {tol:g}|ref|", why))
    return rows


def tier1(quick: bool) -> list[Row]:
    torch, device = _prepare()
    specs = load_registry()
    if not specs:
        return [skip(TIER, "kernels", "no kernels: tts_accel.kernels has no registry() entries yet")]
    small = quick or device == "cpu"  # the interpreter runs each program instance in Python
    rows: list[Row] = []
    for spec in specs:
        rows.extend(check_kernel(torch, spec, device, small))
    return rows
