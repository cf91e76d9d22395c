"""`--explain`: each field of a plan with its value and where it came from, and the reasons."""

from __future__ import annotations

from tts_accel.core.acoustic.windows import OFF
from tts_accel.core.hardware.profile import format_cpu_list
from tts_accel.core.plan.model import ExecutionPlan


def explain_notes(plan: ExecutionPlan) -> list[str]:
    """``field: reason`` lines for the fields a rule decided (the acoustic engine's costs)."""
    return [f"{name}: {why}" for name, why in plan.reasons.items()]


def explain_rows(plan: ExecutionPlan) -> list[tuple[str, str, str]]:
    """(field, value, source) rows for `tts synth --explain`."""
    rows = []
    for name in ExecutionPlan.field_names():
        value = getattr(plan, name)
        text = format_cpu_list(value) if name == "affinity" else str(value)
        if name == "affinity" and not value:
            text = "none (the OS scheduler decides)"
        elif name in ("intra_op_threads", "inter_op_threads") and value == 0:
            text = "0 (runtime default)"
        elif name == "windows":
            windows = plan.window_plan
            text = windows.describe() if windows else f"{value or OFF} (whole chunks)"
        rows.append((name, text, plan.sources.get(name, "default")))
    return rows
