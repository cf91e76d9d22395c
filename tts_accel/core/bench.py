"""`tts bench`: measure execution modes on the same texts, as flat rows.

Every mode gets its own loaded Synthesizer (load time reported apart), one warm-up run that is
not measured, then ``repeats`` runs per text; the modes take turns within each repeat so that
noise from other processes on the machine falls on all of them alike. Texts are spoken with
zero noise, so every mode does the same work and the samples can be compared.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from tts_accel.core.errors import InputError, OutputError
from tts_accel.core.metrics import RunStats
from tts_accel.core.modes import ONNX_MODES, ONNX_PRECISIONS, TORCH_MODES, cpu_count, plan_for
from tts_accel.core.params import SynthParams
from tts_accel.core.plan import ExecutionPlan

TEXT_NAMES = ("short", "paragraph", "long")
TEXTS_ENV = "TTS_ACCEL_TEXTS"
ZERO_NOISE = SynthParams(noise_scale=0.0, noise_w=0.0)
WARMUP_TEXT = "A short warm-up sentence, not measured."


@dataclass
class BenchRow:
    mode: str
    text: str
    rtf: float  # median over repeats: seconds of compute per second of audio
    rtf_p20: float
    rtf_p80: float
    wall_s: float  # median
    ttfa_s: float  # median time to first audio
    audio_s: float
    cpu_util: float  # CPU seconds per wall second over all cores: 1.0 = every core busy
    #: a one-mode process's peak, estimated in this shared process: RSS before any model was
    #: loaded + what loading this mode added + the most its runs rose above their start
    peak_rss_mb: float
    speedup: float | None  # sequential's median wall / this mode's, same text, same run
    load_s: float  # this mode's model load (session creation), measured once
    vram_mb: float | None  # torch modes on a CUDA GPU: peak torch.cuda.max_memory_allocated
    machine: str
    versions: str
    timestamp: str


@dataclass(frozen=True)
class BenchCase:
    name: str
    plan: ExecutionPlan


def texts_dir() -> Path:
    """$TTS_ACCEL_TEXTS, else the repository's ../shared/texts, else the copies in the package."""
    env = os.environ.get(TEXTS_ENV)
    if env:
        return Path(env)
    repo_shared = Path(__file__).resolve().parents[2].parent / "shared" / "texts"
    if (repo_shared / "paragraph.txt").is_file():
        return repo_shared
    return Path(__file__).resolve().parents[1] / "data" / "texts"


def load_texts(names: Sequence[str] = TEXT_NAMES, files: Sequence[Path] = ()) -> dict[str, str]:
    if files:
        out = {}
        for path in files:
            try:
                out[path.stem] = path.read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError) as err:
                raise InputError(f"cannot read benchmark text {path}: {err}; give a UTF-8 file to -i.") from None
        return out
    folder = texts_dir()
    missing = [n for n in names if not (folder / f"{n}.txt").is_file()]
    if missing:
        raise InputError(f"benchmark texts {', '.join(missing)} not in {folder}: set {TEXTS_ENV} or use -i FILE.")
    return {n: (folder / f"{n}.txt").read_text(encoding="utf-8") for n in names}


def parse_modes(spec: str | None, voice: str = "") -> list[BenchCase]:
    """``sequential,parallel,batched+int8``: ONNX modes, each optionally ``+PRECISION``."""
    names = [m.strip() for m in spec.split(",") if m.strip()] if spec else default_modes(voice)
    cases = []
    for name in names:
        mode, _, precision = name.partition("+")
        onnx = mode in ONNX_MODES and (not precision or precision in ONNX_PRECISIONS)
        if not onnx and not (mode in TORCH_MODES and not precision):
            raise InputError(
                f"cannot bench {name!r}: use {', '.join(ONNX_MODES)} (optionally +int8) or {', '.join(TORCH_MODES)}."
            )
        # Each mode as defined, on this machine's preset and heuristics: a tuned profile is left out.
        cases.append(BenchCase(name, plan_for(mode, voice, precision or None, tuned=False)))
    if len({c.name for c in cases}) != len(cases):
        raise InputError("a mode is listed twice in --modes.")
    return cases


def default_modes(voice: str = "") -> list[str]:
    """Every mode that applies here: the ONNX modes; eager torch when the torch extra is
    installed and the voice has a torch port; the fused and CUDA-graph modes only on a CUDA GPU
    (on a CPU, Triton runs in its interpreter and graphs do not exist)."""
    import importlib.util

    from tts_accel.core.plan import TORCH_FAMILIES
    from tts_accel.core.voices import voice_family

    names = list(ONNX_MODES)
    if voice_family(voice) in TORCH_FAMILIES and importlib.util.find_spec("torch") is not None:
        names.append("torch")
        if _cuda():
            names += ["triton", "graph", "hybrid"]
    return names


def _cuda() -> bool:
    import sys

    torch = sys.modules.get("torch")
    if torch is None:
        import importlib.util

        if importlib.util.find_spec("torch") is None:
            return False
        import torch
    return bool(torch.cuda.is_available())


def _vram_reset(plan: ExecutionPlan) -> bool:
    if plan.backend != "torch" or not _cuda():
        return False
    import torch

    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    return True


def _vram_peak_mb() -> float:
    import torch

    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() / 2**20


def machine_label() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {cpu_count()} CPUs, {platform.system()}"


def versions_label() -> str:
    import onnxruntime

    from tts_accel import __version__

    return (
        f"tts-accel {__version__}; onnxruntime {onnxruntime.__version__}; numpy {np.__version__}; "
        f"python {platform.python_version()}"
    )


def rss_mb() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss / 2**20)


class RssPeak:
    """The highest resident set size of this process seen while the block runs (10 ms samples)."""

    def __init__(self) -> None:
        import psutil

        self._proc = psutil.Process()
        self.start_mb = self.peak_mb = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            self.peak_mb = max(self.peak_mb, self._proc.memory_info().rss / 2**20)
            if self._stop.wait(0.01):
                return

    def __enter__(self) -> RssPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, self._proc.memory_info().rss / 2**20)


def measure_once(synth, text: str, params: SynthParams = ZERO_NOISE) -> RunStats:  # type: ignore[no-untyped-def]
    """One measured run of ``text`` through ``synth.stream``; audio is produced and dropped."""
    stats = RunStats()
    for _ in synth.stream([text], params, stats):
        pass
    return stats


def load_case(case: BenchCase, voice: str):  # type: ignore[no-untyped-def]
    """(Synthesizer, load seconds) with one unmeasured warm-up run done."""
    from tts_accel.core.engine import Synthesizer

    start = time.perf_counter()
    synth = Synthesizer(voice, case.plan)
    getattr(synth.backend, "session", None)  # the ONNX session loads on a thread: wait for it
    load_s = time.perf_counter() - start
    if not synth.backend.unsupported(case.plan.mode):
        measure_once(synth, WARMUP_TEXT)
    return synth, load_s


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
    """Rows per (mode, text). A mode the voice's model cannot run (batched on a graph that takes
    one sequence) is left out and reported through ``on_skip(mode, reason)``, not an error."""
    if repeats < 1:
        raise InputError("--repeats must be at least 1.")
    if not cases:
        raise InputError("no modes to bench: give --modes, e.g. sequential,parallel.")
    loaded, load_mb = {}, {}
    base_mb = rss_mb()
    runnable = []
    for case in cases:
        if on_step:
            on_step(f"loading {case.name}")
        before = rss_mb()
        synth, load_s = load_case(case, voice)
        reason = synth.backend.unsupported(case.plan.mode)
        if reason:
            synth.backend.close()
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
                on_gpu = _vram_reset(case.plan)
                with RssPeak() as rss:
                    stats = measure_once(loaded[case.name][0], text)
                if on_gpu:
                    vram[case.name] = max(vram.get(case.name, 0.0), _vram_peak_mb())
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
                audio_s=stats_list[0].audio_s, cpu_util=cpu / cpus, peak_rss_mb=peaks[case.name],
                speedup=(base_wall / wall) if base_wall else None, load_s=loaded[case.name][1],
                vram_mb=vram.get(case.name),
                machine=machine, versions=versions, timestamp=stamp,
            ))  # fmt: skip
    for synth, _ in loaded.values():
        synth.backend.close()
    return rows


FIELDS = [f.name for f in fields(BenchRow)]


def write_json(rows: Sequence[BenchRow], path: Path) -> None:
    _write(path, json.dumps([asdict(r) for r in rows], indent=2) + "\n")


def write_csv(rows: Sequence[BenchRow], path: Path) -> None:
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(asdict(row))
    _write(path, buf.getvalue())


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        raise OutputError(f"cannot write {path}: {err.strerror}; check the folder exists and is writable.") from None


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
    try:
        fig.savefig(path)
    except OSError as err:
        raise OutputError(f"cannot write {path}: {err.strerror}") from None
    finally:
        plt.close(fig)
