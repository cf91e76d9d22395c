"""`tts bench`: the bench loop over execution modes on the same texts, and its writers.

Every mode gets its own loaded Synthesizer (load time reported apart), one warm-up run that is
not measured, then ``repeats`` runs per text; the modes take turns within each repeat so that
noise from other processes on the machine falls on all of them alike. Texts are spoken with
zero noise, so every mode does the same work and the samples can be compared. Measuring one
run is ``tts_accel.core.bench.measure`` (shared with `tts tune`); the texts are ``tts_accel.core.text.samples``.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from tts_accel.core.bench import save_figure
from tts_accel.core.bench.measure import RssPeak, VramPeak, load_case, measure_once, rss_mb
from tts_accel.core.errors import InputError, ModeNotApplicable, TorchMissing, output_error
from tts_accel.core.hardware.gpu import cuda_available, torch_available
from tts_accel.core.hardware.profile import cpu_count, machine_label
from tts_accel.core.pipeline.planning import plan_for
from tts_accel.core.pipeline.stats import RunStats
from tts_accel.core.plan.model import ExecutionPlan
from tts_accel.core.plan.modes import ONNX_MODES, PRECISIONS, SPECS, TORCH_MODES
from tts_accel.core.text.samples import TEXT_NAMES, TEXTS_ENV, load_texts, texts_dir
from tts_accel.core.versions import versions_label
from tts_accel.core.voices.registry import DEFAULT_VOICE, family_of

__all__ = ["TEXTS_ENV", "TEXT_NAMES", "BenchCase", "BenchRow", "load_texts", "parse_modes", "run_bench",
           "texts_dir", "write_csv", "write_json", "plot"]  # fmt: skip


@dataclass
class BenchRow:
    mode: str
    text: str
    rtf: float  # median over repeats: seconds of compute per second of audio
    rtf_p20: float
    rtf_p80: float
    wall_s: float  # median
    ttfa_s: float  # median time to first audio
    stall_s: float  # median time a player started at first audio waited for later audio
    audio_s: float
    cpu_util: float  # CPU seconds per wall second over all cores: 1.0 = every core busy
    #: a one-mode process's peak, estimated in this shared process: RSS before any model was
    #: loaded + what loading this mode added + the most its runs rose above their start
    peak_rss_mb: float
    speedup: float | None  # sequential's median wall / this mode's, same text, same run
    load_s: float  # this mode's model load (session creation), measured once
    #: the plan's window schedule: the pipelined mode streams each sentence window by window
    #: (TTFA is then the first window's); "off" for whole chunks (``pipelined@off`` compares)
    windows: str
    vram_mb: float | None  # torch modes on a CUDA GPU: peak torch.cuda.max_memory_allocated
    machine: str
    versions: str
    timestamp: str


@dataclass(frozen=True)
class BenchCase:
    name: str
    plan: ExecutionPlan | None
    #: why this case cannot run for the voice or on this machine (then ``plan`` is None)
    skip: str = ""


def parse_modes(spec: str | None, voice: str = "") -> list[BenchCase]:
    """``sequential,parallel,batched+int8,pipelined@off``: modes of the vocabulary, each
    optionally ``+PRECISION`` and, for the pipelined mode, ``@WINDOWS`` (a window schedule, or
    ``off`` for whole sentences: the streamed run's reference). A mode the voice's family cannot
    run becomes a case skipped with its reason; a mode that needs torch without torch installed
    is refused with the install command. The default list adds ``pipelined@off`` after
    ``pipelined`` where the voice streams windows, so that whole-sentence and streamed runs of
    the same mode sit side by side."""
    names = [m.strip() for m in spec.split(",") if m.strip()] if spec else default_modes()
    if not spec and "pipelined" in names and family_of(voice or DEFAULT_VOICE).windows:
        names.insert(names.index("pipelined") + 1, "pipelined@off")
    cases = []
    for name in names:
        head, _, windows = name.partition("@")
        mode, _, precision = head.partition("+")
        known = mode in SPECS and (not precision or precision in PRECISIONS[SPECS[mode].backend])
        if not known or (windows and SPECS[mode].schedule != "pipelined"):
            raise InputError(
                f"cannot bench {name!r}: use {', '.join(ONNX_MODES)} (optionally +int8) or {', '.join(TORCH_MODES)} "
                "(optionally +fp16 or +bf16); pipelined@off (or @SCHEDULE) sets its windows."
            )
        try:
            # Each mode as defined, on this machine's preset and heuristics: a tuned profile is left out.
            plan = plan_for(mode, voice, precision or None, tuned=False, windows=windows or None)
            cases.append(BenchCase(name, plan))
        except TorchMissing:
            raise
        except ModeNotApplicable as err:
            cases.append(BenchCase(name, None, str(err)))
    if len({c.name for c in cases}) != len(cases):
        raise InputError("a mode is listed twice in --modes.")
    return cases


def default_modes() -> list[str]:
    """Every mode this machine can run: the ONNX modes; eager torch when the torch extra is
    installed; the fused and CUDA-graph modes only on a CUDA GPU (on a CPU, Triton runs in its
    interpreter and graphs do not exist). The voice's family then skips what it cannot run."""
    names = list(ONNX_MODES)
    if torch_available():
        names.append("torch")
        if cuda_available():
            names += ["triton", "graph", "hybrid"]
    return names


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def run_bench(
    cases: Sequence[BenchCase],
    texts: dict[str, str],
    repeats: int = 3,
    voice: str = "piper-joe",
    on_step: Callable[[str], None] | None = None,
    on_skip: Callable[[str, str], None] | None = None,
) -> list[BenchRow]:
    """Rows per (mode, text). A mode the voice's family or this machine cannot run (batched on
    a graph that takes one sequence, a CUDA-graph mode on a CPU) is left out and reported through
    ``on_skip(mode, reason)``, not an error."""
    if repeats < 1:
        raise InputError("--repeats must be at least 1.")
    if not cases:
        raise InputError("no modes to bench: give --modes, e.g. sequential,parallel.")
    loaded, load_mb = {}, {}
    base_mb = rss_mb()
    runnable = []
    for case in cases:
        reason = case.skip
        if case.plan is not None:
            if on_step:
                on_step(f"loading {case.name}")
            before = rss_mb()
            try:
                synth, load_s = load_case(case.plan, voice)
            except ModeNotApplicable as err:
                reason = str(err)
        if reason or case.plan is None:
            if on_skip:
                on_skip(case.name, reason)
            continue
        loaded[case.name] = synth, load_s
        load_mb[case.name] = rss_mb() - before
        runnable.append(case)
    if not runnable:
        raise InputError(f"none of the modes asked for can run on {voice}: see the reasons above.")
    cases = runnable
    runs: dict[tuple[str, str], list[RunStats]] = {}
    peaks: dict[str, float] = {}
    vram: dict[str, float] = {}
    for text_name, text in texts.items():
        for _ in range(repeats):
            for case in cases:  # modes take turns: machine noise hits all of them alike
                if on_step:
                    on_step(f"{text_name}: {case.name}")
                plan = case.plan
                assert plan is not None  # runnable cases have a plan
                with RssPeak() as rss, VramPeak(plan) as gpu:
                    stats = measure_once(loaded[case.name][0], text)
                if gpu.peak_mb is not None:
                    vram[case.name] = max(vram.get(case.name, 0.0), gpu.peak_mb)
                rise = rss.peak_mb - rss.start_mb
                peaks[case.name] = max(peaks.get(case.name, 0.0), base_mb + load_mb[case.name] + rise)
                runs.setdefault((case.name, text_name), []).append(stats)
    machine, versions = machine_label(), versions_label()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    cpus = cpu_count()
    rows = []
    for text_name in texts:
        base = runs.get(("sequential", text_name))
        base_wall = float(np.median([s.wall_s for s in base])) if base else None
        for case in cases:
            stats_list = runs[(case.name, text_name)]
            rtfs = [s.rtf for s in stats_list]
            wall = float(np.median([s.wall_s for s in stats_list]))
            cpu = float(np.median([s.cpu_s / s.wall_s for s in stats_list if s.wall_s > 0]))
            rows.append(BenchRow(
                mode=case.name, text=text_name, rtf=_pct(rtfs, 50), rtf_p20=_pct(rtfs, 20),
                rtf_p80=_pct(rtfs, 80), wall_s=wall,
                ttfa_s=float(np.median([s.ttfa_s or 0.0 for s in stats_list])),
                stall_s=float(np.median([s.stall_s for s in stats_list])),
                audio_s=stats_list[0].audio_s, cpu_util=cpu / cpus, peak_rss_mb=peaks[case.name],
                speedup=(base_wall / wall) if base_wall else None, load_s=loaded[case.name][1],
                windows=str(case.plan.windows or "off") if case.plan else "off", vram_mb=vram.get(case.name),
                machine=machine, versions=versions, timestamp=stamp,
            ))  # fmt: skip
    for synth, _ in loaded.values():
        synth.backend.close()
    return rows


FIELDS = [f.name for f in fields(BenchRow)]


def write_json(rows: Sequence[Any], path: Path) -> None:
    """Rows (``BenchRow``, or any flat dataclass such as the acoustic bench's) as a JSON list."""
    _write(path, json.dumps([asdict(r) for r in rows], indent=2) + "\n")


def write_csv(rows: Sequence[Any], path: Path) -> None:
    buf = io.StringIO()
    names = [f.name for f in fields(rows[0])] if rows else FIELDS
    writer = csv.DictWriter(buf, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(asdict(row))
    _write(path, buf.getvalue())


def _write(path: Path, text: str) -> None:
    # A plain write, not a rename over the target: --json may name /dev/stdout or a FIFO.
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        raise output_error(path, err) from None


def plot(rows: Sequence[BenchRow], path: Path) -> None:
    """RTF per mode (bars with p20-p80 whiskers), one group per text."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError("--plot needs matplotlib: pip install 'tts-accel[plot]'") from None
    texts = list(dict.fromkeys(r.text for r in rows))
    modes = list(dict.fromkeys(r.mode for r in rows))
    fig, ax = plt.subplots(figsize=(1.5 + 1.2 * len(texts) * len(modes) / 2, 4))
    width = 0.8 / len(modes)
    for i, mode in enumerate(modes):
        sel = [next(r for r in rows if r.text == t and r.mode == mode) for t in texts]
        xs = [j + i * width for j in range(len(texts))]
        err = [[r.rtf - r.rtf_p20 for r in sel], [r.rtf_p80 - r.rtf for r in sel]]
        ax.bar(xs, [r.rtf for r in sel], width, yerr=err, label=mode, capsize=3)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(texts))], texts)
    ax.set_ylabel("RTF (lower is faster)")
    ax.set_title(rows[0].machine if rows else "")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path)
