"""What each acoustic engine costs on this machine, and the choice between them for a run.

    t(audio_s) = fixed_s + per_audio_s * audio_s   (+ compile_s once, on a cold compile cache)

``fixed_s`` is what a process costs before its first window (for torch: importing it, loading the
compiled window shapes, their first calls); ``per_audio_s`` its cost per second of audio
(margins' overlap and padding included); ``compile_s`` building every window shape once per
machine. `tts tune` and the measured class defaults fit whole processes (the text stage and the
flow included: ``CostTable.unit``).
Figures are CPU seconds: on a machine the run fills they track wall time, and they are far less
sensitive to a shared machine's load. ``compare`` picks the cheaper engine past a decision margin
(near ties keep the engine cheaper to start) and words the reason from the same numbers.

``choose`` is pure and imports nothing: the planner calls it with facts it got without importing
torch (is torch installed: ``find_spec``; the ISA class: /proc/cpuinfo flags; a warm cache: a
``stat`` per compiled shape). A short input never pays torch's start-up; a book gets the faster
stage when its shapes are compiled; a run never compiles unless asked (`tts tune` builds them).
Measurements behind every constant: docs/acoustic.md.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from tts_accel.core.acoustic.registry import FAST, REFERENCE

#: ISA classes the planner tells apart, best first: (name, CPU flags it needs).
ISA_CLASSES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("amx", ("amx_tile",)),  # Sapphire Rapids and later: amx_bf16 / amx_int8 come with the tiles
    ("avx512_bf16", ("avx512_bf16",)),  # Cooper Lake, Zen 4, Zen 5
    ("avx512", ("avx512f",)),
    ("avx2", ("avx2", "fma")),
)
#: oneDNN's ISA cap (``ONEDNN_MAX_CPU_ISA``) as an ISA class: emulating a smaller CPU lowers the class.
_ONEDNN_CAPS = {"AVX512_CORE_BF16": "avx512_bf16", "AVX512_CORE_VNNI": "avx512", "AVX512_CORE": "avx512",
                "AVX2": "avx2", "AVX2_VNNI": "avx2", "AVX2_VNNI_2": "avx2"}  # fmt: skip
#: Classes where bf16 convolutions are fast. Without avx512_bf16 or AMX, oneDNN runs a bf16 conv
#: as a reference loop: 12.7 s instead of 33 ms in fp32 for one 256x256, k=7 conv over 2048
#: samples on the dev VM capped to AVX2 (about 380x slower): bf16 is never chosen there.
BF16_ISAS = ("amx", "avx512_bf16")
#: The decision margin: the engine with the higher fixed cost (torch's start-up) is chosen only when
#: its estimate beats the other's by this share; a nearer tie keeps the engine that is cheaper to
#: start. `tts tune` raises it to the spread it measured (``CostTable.margin``) when that is wider.
#: At most this share is lost on a near tie, and a tune's noise cannot flip a run across it.
MARGIN = 0.05
#: The widest margin a tune's spread may set: past it the figures say nothing and `tts tune` says so.
MAX_MARGIN = 0.25


def isa_class(flags: Iterable[str]) -> str:
    """The best ISA class these CPU flags allow: amx | avx512_bf16 | avx512 | avx2 | base."""
    have = set(flags)
    best = next((name for name, need in ISA_CLASSES if all(f in have for f in need)), "base")
    cap = _ONEDNN_CAPS.get(os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper())
    if cap is not None:
        order = [name for name, _ in ISA_CLASSES] + ["base"]
        best = order[max(order.index(best), order.index(cap))]
    return best


@dataclass(frozen=True)
class EngineCost:
    fixed_s: float  # once per process, before the first window
    per_audio_s: float  # per second of audio, steady state
    compile_s: float = 0.0  # once per machine: every window shape built (cold cache)

    def total(self, audio_s: float, warm: bool = True) -> float:
        return self.fixed_s + (0.0 if warm else self.compile_s) + self.per_audio_s * audio_s


@dataclass(frozen=True)
class CostTable:
    """Per-engine costs for one machine, measured by `tts tune`, or an ISA class's defaults."""

    costs: Mapping[str, EngineCost] = field(default_factory=dict)
    source: str = "default"  # default (measured on the dev VM, docs/acoustic.md) | tuned (this machine)
    #: the decision margin for these figures (``MARGIN``, or the wider spread a tune measured)
    margin: float = MARGIN
    #: what the figures count: a tune's lines and the measured class defaults are whole processes
    #: (``WHOLE``); "CPU s" is a table made by hand (tests, a lab)
    unit: str = "CPU s"

    def with_cost(self, engine: str, cost: EngineCost) -> CostTable:
        return replace(self, costs={**self.costs, engine: cost})

    @classmethod
    def from_profile(cls, table: Mapping[str, Mapping[str, object]], margin: float | None = None) -> CostTable:
        """From a tuned profile's ``[acoustic.costs.<engine>]`` tables (fixed_s, per_audio_s, compile_s)."""
        rows = {}
        for name, row in table.items():
            rows[name] = EngineCost(
                float(row.get("fixed_s", 0.0)),
                float(row.get("per_audio_s", 0.0)),
                float(row.get("compile_s", 0.0)),  # type: ignore[arg-type]
            )
        return cls(rows, "tuned", max(MARGIN, min(MAX_MARGIN, float(margin or 0.0))), WHOLE)

    def to_profile(self) -> dict[str, dict[str, float]]:
        return {n: {"fixed_s": round(c.fixed_s, 4), "per_audio_s": round(c.per_audio_s, 5),
                    "compile_s": round(c.compile_s, 2)} for n, c in self.costs.items()}  # fmt: skip


#: The unit of a table fitted on whole processes (`tts tune`, the measured class defaults).
WHOLE = "CPU s of the whole process"

#: Defaults per ISA class (and, where the vendors' cores differ, per vendor: "<class>/<vendor>"),
#: CPU seconds; `tts tune` replaces them with this machine's own. docs/acoustic.md has the runs.
#:
#: amx: measured on the 2-vCPU Intel Xeon AMX VM ("Intel(R) Xeon(R) Processor", family 6 model 167,
#:   amx_tile + amx_bf16 + avx512_bf16), 3 Dec 2026, `tts tune --acoustic-only` (whole processes
#:   over paragraph.txt's first sentence and the paragraph 6 and 18 times over, 3 alternated rounds,
#:   quiet, spread 3 %): ORT fp32 0.62 + 0.0676/s; bf16 9.50 + 0.0287/s, its line through the two
#:   long runs (past the hand-off: ``tune.acoustic.fit_tail``), so its fixed cost counts the
#:   windows ORT runs while bf16 loads and warms. The decoder alone: bf16 0.0154 against ORT's
#:   0.0527 CPU-s per second of audio (3.4x). bf16 pays from ~230 s of audio (with the margin
#:   ~260 s). 71 CPU-s to compile the 5 shapes. (November's defaults, parts measured apart,
#:   counted only what differs between the engines: 0.28 + 0.074/s against 7.58 + 0.042/s.)
#: avx512_bf16 on Intel (no AMX: Cooper Lake, or a Xeon whose VM hides AMX): measured in issue
#:   18's round on the 2-vCPU "Intel Xeon model 207" VM (avx512_bf16 + avx512_vnni, no AMX), `tts
#:   tune --acoustic-only` (whole processes at 3 lengths, 3 alternated rounds, load 8-20, spread
#:   1.4 %): ORT fp32 1.12 + 0.1054/s, bf16 1.12 + 4.22 + 0.1160/s. bf16's decoder alone ran at
#:   ORT's pace (0.0888 vs 0.0879 CPU-s per second of audio): Intel's VDPBF16PS issues on one port,
#:   so bf16 has no more arithmetic than fp32 there, and bf16 is never chosen.
#: avx512_bf16 on AMD (Zen 4; Zen 5 assumed alike): issue 18's measurements on a 2-vCPU EPYC (family
#:   25 model 17), not re-measured here: whole processes over 630 s of audio, ORT 55-60 CPU-s and
#:   bf16 39-46, fixed 1.07 and 4.72 from that VM's tune: ORT 1.07 + (57.5 - 1.07) / 630 = 0.0896/s,
#:   bf16 4.72 + (42.5 - 4.72) / 630 = 0.0600/s (bf16 pays from ~150 s of audio).
COMPILE_PER_SHAPE_S = 21.0
DEFAULTS: dict[str, CostTable] = {
    "amx": CostTable(
        {
            REFERENCE: EngineCost(0.62, 0.0676),
            FAST: EngineCost(9.50, 0.0287, compile_s=71.0),
        }, unit=WHOLE,
    ),  # fmt: skip
    "avx512_bf16": CostTable(
        {
            REFERENCE: EngineCost(1.124, 0.1054),
            FAST: EngineCost(5.339, 0.1160, compile_s=5 * COMPILE_PER_SHAPE_S),
        }, unit=WHOLE,
    ),  # fmt: skip
    "avx512_bf16/AMD": CostTable(
        {
            REFERENCE: EngineCost(1.07, round((57.5 - 1.07) / 630, 4)),
            FAST: EngineCost(4.72, round((42.5 - 4.72) / 630, 4), compile_s=72.0),
        }, unit=WHOLE,
    ),  # fmt: skip
}


def default_costs(isa: str, vendor: str = "") -> CostTable:
    """The defaults of ISA class ``isa`` on a CPU of ``vendor`` (its own row where the vendors'
    cores differ, else the class's)."""
    return DEFAULTS.get(f"{isa}/{vendor}") or DEFAULTS.get(isa, CostTable({}))


@dataclass(frozen=True)
class Facts:
    """What the chooser knows about this run and machine, gathered without importing torch."""

    audio_s: float | None  # expected seconds of audio (None: unknown, e.g. text on stdin)
    torch_installed: bool
    isa: str  # isa_class of this CPU
    warm: bool  # every bf16 window shape is compiled here (looked up only where the costs pick bf16)
    costs: CostTable
    #: engine -> same voice as fp32 (tts tune's quality gate); an engine absent here is judged
    #: by the measured defaults (bf16: same voice, docs/verify.md)
    same_voice: Mapping[str, bool] = field(default_factory=dict)


def choose(facts: Facts) -> tuple[str, str]:
    """The acoustic engine for a run and the reason, in the words `--explain` prints."""
    ort = REFERENCE
    if not facts.torch_installed:
        return ort, "torch is not installed: ONNX Runtime fp32 (pip install 'tts-accel[torch]' adds the bf16 engine)"
    if facts.isa not in BF16_ISAS:
        return ort, f"this CPU ({facts.isa}) has no bf16 instructions (avx512_bf16 or AMX): ONNX Runtime fp32"
    if facts.same_voice.get(FAST) is False:
        return ort, "bf16 failed the same-voice gate in `tts tune` on this machine: ONNX Runtime fp32"
    if facts.audio_s is None:
        return (
            ort,
            "input length not known in advance (text on stdin): ONNX Runtime fp32 (--acoustic torch-bf16 for bf16)",
        )
    fast, base = facts.costs.costs.get(FAST), facts.costs.costs.get(ort)
    if fast is None or base is None:
        return ort, f"no measured costs for bf16 on this CPU class ({facts.isa}): run `tts tune` to measure them"
    verdict = compare(facts.audio_s, base, fast, facts.costs.margin)
    figures = (f"expected {facts.audio_s:.1f} s of audio: {verdict.figures} "
               f"({facts.costs.source} costs, {facts.costs.unit})")  # fmt: skip
    if verdict.engine == FAST and not facts.warm:
        build = f"~{fast.compile_s:.0f} CPU-s" if fast.compile_s > 0 else "minutes"
        return ort, (f"ONNX Runtime fp32: {figures}; {verdict.sentence}, but bf16's window shapes are not compiled "
                     f"here and a run never compiles them: `tts tune` builds them once ({build})")  # fmt: skip
    lead = "bf16 acoustic stage" if verdict.engine == FAST else LABELS[REFERENCE]
    return verdict.engine, f"{lead}: {figures}; {verdict.sentence}"


#: How `--explain` names the two engines the cost model weighs.
LABELS = {REFERENCE: "ONNX Runtime fp32", FAST: "bf16"}


@dataclass(frozen=True)
class Verdict:
    """The cost model's comparison for one expected length: the engine it picks and, derived from
    the same numbers, the figures and the sentence `--explain` prints."""

    engine: str
    figures: str
    sentence: str
    ort_s: float
    fast_s: float


def _signed(value: float, more: str, less: str, unit: str, spec: str) -> str:
    if abs(value) < 0.5 * 10 ** -int(spec.strip(".f")):  # rounds to zero at the printed precision
        return f"the same {unit}"
    return f"{abs(value):{spec}} CPU-s {more if value > 0 else less} {unit}"


def compare(audio_s: float, ort: EngineCost, fast: EngineCost, margin: float = MARGIN) -> Verdict:
    """Which of ONNX Runtime fp32 (``ort``) and bf16 (``fast``) to run for ``audio_s`` seconds of
    audio, with the sentence that says why. The cheaper estimate wins when it is cheaper by more
    than ``margin`` (a share of the dearer one); a nearer tie keeps the engine with the lower fixed
    cost (ORT fp32 on equal fixed costs), so the noise of one tune never flips a run onto the engine
    that costs more to start. Every number in the sentence is computed here from the costs given."""
    t_ort, t_fast = ort.total(audio_s), fast.total(audio_s)
    names = {REFERENCE: LABELS[REFERENCE], FAST: LABELS[FAST]}
    figures = (f"{names[REFERENCE]} ~{t_ort:.2f} s ({ort.fixed_s:.2f} fixed + {ort.per_audio_s:.4f}/s), "
               f"{names[FAST]} ~{t_fast:.2f} s ({fast.fixed_s:.2f} fixed + {fast.per_audio_s:.4f}/s)")  # fmt: skip
    cheap, dear = (FAST, REFERENCE) if t_fast < t_ort else (REFERENCE, FAST)
    t_cheap, t_dear = min(t_ort, t_fast), max(t_ort, t_fast)
    share = 1.0 - t_cheap / t_dear if t_dear > 0 else 0.0
    low_fixed = FAST if fast.fixed_s < ort.fixed_s else REFERENCE
    engine = cheap if share > margin else low_fixed
    d_fixed, d_per = fast.fixed_s - ort.fixed_s, fast.per_audio_s - ort.per_audio_s
    parts = f"bf16 costs {_signed(d_per, 'more', 'less', 'per second of audio', '.4f')}"
    parts += f" and {_signed(d_fixed, 'more', 'less', 'to start', '.2f')}"
    if share <= 0.0:
        head = "both cost the same for this text"
    else:
        head = f"{names[cheap]} is {100 * share:.0f} % cheaper than {names[dear]} for this text"
    if engine != cheap:
        head += (f", inside the {100 * margin:.0f} % margin: {names[engine]} stays, the engine with the lower "
                 f"fixed cost")  # fmt: skip
    even = crossing_s(ort, fast, margin)
    tail = ""
    if even is not None and even[1] > 0:
        tail = f"; {names[even[0]]} wins by the margin from ~{even[1]:.0f} s of audio"
    return Verdict(engine, figures, f"{head} ({parts}{tail})", t_ort, t_fast)


def crossing_s(ort: EngineCost, fast: EngineCost, margin: float = MARGIN) -> tuple[str, float] | None:
    """(engine, seconds of audio) from which that engine, the cheaper per second, beats the other
    by ``margin``; None when one engine is cheaper (or dearer) at every length."""
    if fast.per_audio_s == ort.per_audio_s:
        return None
    lo, hi = (fast, ort) if fast.per_audio_s < ort.per_audio_s else (ort, fast)
    winner = FAST if lo is fast else REFERENCE
    gain = (1.0 - margin) * hi.per_audio_s - lo.per_audio_s
    extra = lo.fixed_s - (1.0 - margin) * hi.fixed_s
    if gain <= 0:
        return None  # never wins by the margin
    return winner, max(0.0, extra / gain)  # 0.0: wins from the first second


def break_even_s(ort: EngineCost, bf16: EngineCost, warm: bool = True) -> float | None:
    """Seconds of audio from which bf16 beats ORT by the margin (0.0: from the first second); None
    if it never does on a long text (it is not cheaper per second by the margin)."""
    fast = bf16 if warm else replace(bf16, fixed_s=bf16.fixed_s + bf16.compile_s)
    found = crossing_s(ort, fast)
    return found[1] if found is not None and found[0] == FAST else None
