"""Tier 1: every Triton kernel against its pure-torch reference, per dtype, on odd shapes.

Without a GPU the kernels run on CPU tensors under ``TRITON_INTERPRET=1`` (set before
triton is first imported), on the small shapes the registry gives for ``small=True``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

from tts_accel.core.verify import Row, TierUnavailable, check, skip

TIER = 1
# Liger-Kernel's table: fp32 keeps 1e-5; fp16 has a 10-bit mantissa (step 1e-3 near 1);
# bf16 a 7-bit one (step 8e-3), so reductions over a few hundred terms drift to ~5e-2.
TOLERANCES = {"float32": 1e-5, "float16": 1e-3, "bfloat16": 5e-2}
KERNELS_MODULE = "tts_accel.kernels"


@runtime_checkable
class KernelSpec(Protocol):
    """What tier 1 needs of one registry entry (``tts_accel.kernels.registry()``).

    ``make_inputs(dtype, device, small)`` returns argument tuples, one per test shape (odd
    sizes such as 1823x781; tiny ones when ``small``); ``triton(*args)`` and
    ``reference(*args)`` return a tensor or a tuple of tensors of the same shapes.
    """

    name: str
    triton: Callable[..., Any]
    reference: Callable[..., Any]
    make_inputs: Callable[[Any, str, bool], Iterable[Sequence[Any]]]


def load_registry() -> list[KernelSpec]:
    """The kernel registry, or [] when the kernels package has none yet."""
    try:
        module = importlib.import_module(KERNELS_MODULE)
    except ImportError:
        return []
    registry = getattr(module, "registry", None)
    if registry is None:
        return []
    specs = list(registry())
    bad = [getattr(s, "name", repr(s)) for s in specs if not isinstance(s, KernelSpec)]
    if bad:
        raise TierUnavailable(
            f"kernel registry entries {bad} lack name/triton/reference/make_inputs: fix tts_accel.kernels"
        )
    return specs


def _prepare() -> tuple[Any, str]:
    """Import torch and triton (interpreter on CPU); raise TierUnavailable with the fix."""
    missing = [m for m in ("torch", "triton") if importlib.util.find_spec(m) is None]
    if missing:
        raise TierUnavailable(
            f"tier 1 needs {' and '.join(missing)}: pip install 'tts-accel[torch]' (kernels run on "
            "CPU under TRITON_INTERPRET=1 when there is no GPU)"
        )
    import torch

    if torch.cuda.is_available():
        return torch, "cuda"
    os.environ.setdefault("TRITON_INTERPRET", "1")  # read when triton is first imported
    return torch, "cpu"


def _outputs(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (tuple, list)) else [value]


def compare(torch: Any, got: Any, want: Any, tol: float) -> tuple[float, bool, str]:
    """Max abs difference, and whether every element is within ``tol + tol * |want|``."""
    worst, ok = 0.0, True
    got_list, want_list = _outputs(got), _outputs(want)
    if len(got_list) != len(want_list):
        return float("inf"), False, f"{len(got_list)} outputs, reference has {len(want_list)}"
    for g, w in zip(got_list, want_list, strict=True):
        if tuple(g.shape) != tuple(w.shape):
            return float("inf"), False, f"shape {tuple(g.shape)}, reference {tuple(w.shape)}"
        g64, w64 = g.detach().double().cpu(), w.detach().double().cpu()
        if g64.numel():
            diff = (g64 - w64).abs()
            worst = max(worst, float(diff.max()))
            ok = ok and bool((diff <= tol + tol * w64.abs()).all())
    return worst, ok, "" if ok else "outside tolerance"


def check_kernel(torch: Any, spec: KernelSpec, device: str, small: bool) -> list[Row]:
    rows = []
    for dtype_name, tol in TOLERANCES.items():
        dtype = getattr(torch, dtype_name)
        item = f"{spec.name} {dtype_name}"
        worst, ok, why, cases = 0.0, True, "", 0
        try:
            for args in spec.make_inputs(dtype, device, small):
                cases += 1
                diff, case_ok, case_why = compare(torch, spec.triton(*args), spec.reference(*args), tol)
                worst = max(worst, diff)
                if not case_ok and ok:
                    shapes = [tuple(a.shape) for a in args if hasattr(a, "shape")]
                    ok, why = False, f"{case_why} at shapes {shapes}"
        except Exception as err:  # a kernel that raises is a failed check, not a crash of verify
            rows.append(Row(TIER, item, "runs", None, "", "fail", f"{type(err).__name__}: {err}"))
            continue
        if cases == 0:
            rows.append(skip(TIER, item, "the registry gave no input shapes"))
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
