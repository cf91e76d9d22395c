"""Mode names the CLI accepts, and the plan one run gets on this machine.

Every plan comes from one function, ``plan.resolve_for_machine`` (flag > this machine's tuned
profile > shipped preset > heuristic); this module only names its inputs.
"""

from __future__ import annotations

import os

from tts_accel.core.plan import (
    CLI_MODES,
    PRECISIONS,
    SCHEDULING_MODES,
    TORCH_MODES,
    ExecutionPlan,
    resolve_for_machine,
)
from tts_accel.core.voices import voice_family

ONNX_MODES = SCHEDULING_MODES
MODES = CLI_MODES
ONNX_PRECISIONS = PRECISIONS["onnx"]

__all__ = ["MODES", "ONNX_MODES", "ONNX_PRECISIONS", "TORCH_MODES", "cpu_count", "plan_for"]


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def plan_for(
    mode: str = "auto",
    voice: str = "",
    precision: str | None = None,
    *,
    tuned: bool = True,
    **settings: object,
) -> ExecutionPlan:
    """The plan for ``mode`` on this machine. ``settings`` are further command-line flags
    (``workers``, ``intra_op_threads``, ``batch_size``; None means not given). ``tuned=False``
    leaves this machine's tuned profile out: `tts bench` and `tts verify` measure each mode as it
    is defined, not as `tts tune` left it."""
    flags = {"mode": mode, "precision": precision, **settings}
    return resolve_for_machine(flags, voice_family=voice_family(voice), use_tuned=tuned)
