"""Micro-benchmark of each Triton kernel against its pure-torch reference.

    python benchmarks/kernels_bench.py [--repeats 20] [--json out.json]

On a CUDA GPU this times real kernels (synchronised, median of repeats, warm-up and Triton
compile excluded) and reports effective bandwidth. Without a GPU the kernels run under the
Triton interpreter (TRITON_INTERPRET=1, set here): that is a functional run which checks the
outputs agree, and its times say nothing about kernel speed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone


@dataclass
class Row:
    kernel: str
    shape: str
    dtype: str
    device: str
    interpreted: bool
    triton_ms_p50: float
    triton_ms_min: float
    triton_ms_max: float
    reference_ms_p50: float
    speedup: float
    gbps: float | None
    max_abs_diff: float
    torch_version: str
    triton_version: str
    machine: str
    timestamp: str


# shapes the Piper voice produces for ~3 s of speech (300 frames, 77k samples)
SHAPES = {"wn_gate": (1, 192, 300), "add_layer_norm": (1, 192, 150), "add_leaky_relu": (1, 32, 76800)}


def _time(fn, args, repeats: int, cuda: bool) -> list[float]:  # type: ignore[no-untyped-def]
    import torch

    fn(*args)  # warm-up / compile
    out = []
    for _ in range(repeats):
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn(*args)
        if cuda:
            torch.cuda.synchronize()
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    ap.add_argument("--json", help="write the rows here")
    args = ap.parse_args()

    import torch

    cuda = torch.cuda.is_available()
    if not cuda:
        os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton is imported
    import triton

    from tts_accel.kernels import registry

    device, dtype = ("cuda" if cuda else "cpu"), getattr(torch, args.dtype)
    machine = torch.cuda.get_device_name() if cuda else f"{platform.processor() or platform.machine()} CPU"
    repeats = args.repeats if cuda else min(args.repeats, 5)
    rows = []
    for spec in registry():
        shape = SHAPES[spec.name]
        inputs = spec.make_inputs(shape, dtype, device)
        tri = _time(spec.triton_fn, inputs, repeats, cuda)
        ref = _time(spec.reference_fn, inputs, repeats, cuda)
        got, want = spec.triton_fn(*inputs), spec.reference_fn(*inputs)
        got, want = (got if isinstance(got, tuple) else (got,)), (want if isinstance(want, tuple) else (want,))
        diff = max(float((g.float() - w.float()).abs().max()) for g, w in zip(got, want, strict=True))
        moved = sum(t.numel() * t.element_size() for t in (*inputs, *got) if isinstance(t, torch.Tensor))
        p50 = statistics.median(tri)
        rows.append(Row(spec.name, "x".join(map(str, shape)), args.dtype, device, not cuda, p50, min(tri), max(tri),
                        statistics.median(ref), statistics.median(ref) / p50,
                        moved / (p50 / 1e3) / 1e9 if cuda else None, diff, torch.__version__, triton.__version__,
                        machine, datetime.now(timezone.utc).isoformat(timespec="seconds")))  # fmt: skip
    if not cuda:
        print("No CUDA GPU: kernels ran under the Triton interpreter. Functional check only; the times\n"
              "below measure numpy emulation, not the kernels.\n")  # fmt: skip
    print(f"{'kernel':<16}{'shape':<14}{'dtype':<10}{'triton p50 ms (min-max)':<28}{'torch p50 ms':<14}"
          f"{'speedup':<9}{'GB/s':<8}max|diff|")  # fmt: skip
    for r in rows:
        spread = f"{r.triton_ms_p50:.3f} ({r.triton_ms_min:.3f}-{r.triton_ms_max:.3f})"
        gbps = f"{r.gbps:.0f}" if r.gbps is not None else "-"
        print(f"{r.kernel:<16}{r.shape:<14}{r.dtype:<10}{spread:<28}{r.reference_ms_p50:<14.3f}"
              f"{r.speedup:<9.2f}{gbps:<8}{r.max_abs_diff:.2e}")  # fmt: skip
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump([asdict(r) for r in rows], f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
