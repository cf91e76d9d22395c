"""The one place every run gets its plan: this machine's facts fed to ``plan.resolve_plan``.

`tts synth`, ``tts_accel.synthesize``, `tts bench`, `tts tune` and `tts verify` all call
``plan_for`` (or ``resolve_for_machine``): it detects the hardware, reads the tuned profile of
this machine and voice family, picks the shipped preset, looks up the voice family's
capabilities, and resolves flag > tuned > preset > heuristic.
"""

from __future__ import annotations

from collections.abc import Mapping

from tts_accel.core.gpu import torch_available
from tts_accel.core.hardware import HardwareProfile
from tts_accel.core.plan import ExecutionPlan, resolve_plan
from tts_accel.core.profiles import load_tuned, pick_preset
from tts_accel.core.voices.base import Family
from tts_accel.core.voices.registry import DEFAULT_VOICE, family_of


def resolve_for_machine(
    flags: Mapping[str, object],
    *,
    family: Family | None = None,
    hw: HardwareProfile | None = None,
    use_tuned: bool = True,
    streaming: bool = False,
) -> ExecutionPlan:
    """resolve_plan on this machine for voices of ``family`` (the default voice's when None).
    ``use_tuned=False`` leaves the tuned profile out (bench and verify measure each mode as
    defined, not as tuned). A tuned profile that cannot be read is an InputError naming it.
    ``streaming``: the output is a stream (stdout, FIFO, device), so a mode not given as a flag
    streams window by window (``plan.resolve_plan``)."""
    family = family or family_of(DEFAULT_VOICE)
    machine = hw or HardwareProfile.detect()
    has_torch = torch_available()
    return resolve_plan(
        flags, machine, tuned=load_tuned(machine, family.name) if use_tuned else None,
        preset=pick_preset(machine, torch_available=has_torch), family=family, torch_available=has_torch,
        streaming=streaming,
    )  # fmt: skip


def plan_for(
    mode: str = "auto",
    voice: str = DEFAULT_VOICE,
    precision: str | None = None,
    *,
    tuned: bool = True,
    streaming: bool = False,
    **settings: object,
) -> ExecutionPlan:
    """The plan for ``mode`` and ``voice`` on this machine. ``settings`` are further command-line
    flags (``workers``, ``intra_op_threads``, ``batch_size``; None means not given). ``tuned=False``
    leaves this machine's tuned profile out: `tts bench` and `tts verify` measure each mode as it
    is defined, not as `tts tune` left it. ``streaming``: the output is not a regular file."""
    flags = {"mode": mode, "precision": precision, **settings}
    return resolve_for_machine(flags, family=family_of(voice or DEFAULT_VOICE), use_tuned=tuned, streaming=streaming)
