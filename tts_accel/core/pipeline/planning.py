"""The one place every run gets its plan: this machine's facts fed to ``plan.resolve_plan``.

`tts synth`, ``tts_accel.synthesize``, `tts bench`, `tts tune` and `tts verify` all call
``plan_for`` (or ``resolve_for_machine``): it detects the hardware, reads the tuned profile of
this machine and voice family, picks the shipped preset, looks up the voice family's
capabilities, and resolves flag > tuned > preset > heuristic.

For a family with a separate acoustic stage it also gathers what the cost-aware choice of the
acoustic engine needs, without importing torch: the expected audio (characters of input times
the family's seconds per character), this CPU's ISA class, whether the bf16 engine's window
shapes are compiled here (a stat), and the costs and quality verdicts `tts tune` stored (else
the measured defaults of the ISA class).
"""

from __future__ import annotations

from collections.abc import Mapping

from tts_accel.core.acoustic.registry import FAST, REFERENCE
from tts_accel.core.hardware.gpu import torch_available
from tts_accel.core.hardware.profile import HardwareProfile
from tts_accel.core.plan import costs
from tts_accel.core.plan.model import ExecutionPlan
from tts_accel.core.plan.profiles import Profile, load_tuned, pick_preset
from tts_accel.core.plan.resolve import resolve_plan
from tts_accel.core.voices.base import Family
from tts_accel.core.voices.registry import DEFAULT_VOICE, family_of


def resolve_for_machine(
    flags: Mapping[str, object],
    *,
    family: Family | None = None,
    hw: HardwareProfile | None = None,
    use_tuned: bool = True,
    voice: str = DEFAULT_VOICE,
    text_chars: int | None = None,
    speed: float = 1.0,
    streaming: bool = False,
) -> ExecutionPlan:
    """resolve_plan on this machine for voices of ``family`` (the default voice's when None).
    ``use_tuned=False`` leaves the tuned profile out (bench and verify measure each mode as
    defined, not as tuned). A tuned profile that cannot be read is an InputError naming it.
    ``text_chars`` (None: unknown, e.g. stdin) and ``speed`` size the run for the acoustic engine.
    ``streaming``: the output is a stream (stdout, FIFO, device), so a mode not given as a flag
    streams window by window (``plan.resolve_plan``)."""
    family = family or family_of(voice)
    machine = hw or HardwareProfile.detect()
    has_torch = torch_available()
    tuned = load_tuned(machine, family.name) if use_tuned else None
    facts = acoustic_facts(family, voice, machine, tuned, has_torch, text_chars, speed)
    return resolve_plan(
        flags, machine, tuned=tuned, preset=pick_preset(machine, torch_available=has_torch), family=family,
        torch_available=has_torch, acoustic=facts, streaming=streaming,
    )  # fmt: skip


def acoustic_facts(
    family: Family,
    voice: str,
    hw: HardwareProfile,
    tuned: Profile | None,
    has_torch: bool,
    text_chars: int | None,
    speed: float = 1.0,
) -> costs.Facts | None:
    """What ``costs.choose`` needs for ``voice`` on this machine; None for a family without a
    separate acoustic stage. Nothing here imports torch: the cache check is a stat per shape."""
    support = family.acoustic
    if support is None:
        return None
    isa = costs.isa_class(hw.isa)
    audio_s = None if text_chars is None else text_chars * support.seconds_per_char / max(speed, 1e-3)
    measured = tuned.acoustic_costs() if tuned is not None else {}
    table = costs.default_costs(isa, hw.cpu_vendor)
    if measured:  # this machine's own figures, the ISA class's defaults for any engine not measured
        spread = tuned.acoustic.get("margin") if tuned is not None else None
        mine = costs.CostTable.from_profile(measured, spread if isinstance(spread, int | float) else None)
        both = all(name in mine.costs for name in (REFERENCE, FAST))
        unit = mine.unit if both else table.unit
        source = "tuned" if both else "tuned and default"
        table = costs.CostTable({**table.costs, **mine.costs}, source, mine.margin, unit)
    # The stat (and the artifact key behind it: torch's version from its metadata, ~10 ms of a
    # one-sentence start) is worth doing only where the costs pick bf16: `choose` reads ``warm``
    # nowhere else.
    fast, ort = table.costs.get(FAST), table.costs.get(REFERENCE)
    worth = has_torch and isa in costs.BF16_ISAS and audio_s is not None and fast is not None and ort is not None
    wins = worth and costs.compare(audio_s, ort, fast, table.margin).engine == FAST  # type: ignore[arg-type]
    warm = bool(wins) and support.compiled(voice, FAST)
    same = tuned.acoustic_same_voice() if tuned is not None else {}
    return costs.Facts(audio_s, has_torch, isa, warm, table, same)


def plan_for(
    mode: str = "auto",
    voice: str = DEFAULT_VOICE,
    precision: str | None = None,
    *,
    tuned: bool = True,
    text_chars: int | None = None,
    speed: float = 1.0,
    streaming: bool = False,
    **settings: object,
) -> ExecutionPlan:
    """The plan for ``mode`` and ``voice`` on this machine. ``settings`` are further command-line
    flags (``workers``, ``intra_op_threads``, ``batch_size``, ``windows``, ``acoustic``; None means
    not given). ``tuned=False`` leaves this machine's tuned profile out: `tts bench` and `tts verify`
    measure each mode as it is defined, not as `tts tune` left it. ``text_chars`` is the input's
    length when known (the acoustic engine is chosen from the expected work); ``streaming``: the
    output is not a regular file."""
    flags = {"mode": mode, "precision": precision, **settings}
    voice = voice or DEFAULT_VOICE
    return resolve_for_machine(
        flags, family=family_of(voice), use_tuned=tuned, voice=voice, text_chars=text_chars, speed=speed,
        streaming=streaming,
    )  # fmt: skip
