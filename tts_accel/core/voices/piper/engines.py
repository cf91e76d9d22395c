"""The acoustic engines of Piper voices, and the lab that bench, tune and verify measure them in.

Imports neither torch nor the torch engines at module level: ``make_engine`` opens the door to
``torch_acoustic.engine`` only for a torch engine (the declared import-linter exception), and
``compiled`` answers "are the bf16 window shapes built here" with a stat per shape.

Engines (``modes.ACOUSTIC_SPECS``), each a ``DecoderEngine`` (``run(z_ctx (192, W)) -> W * 256
samples``) over the decoder's input, the tensor ``/Mul_7_output_0`` of the voice's graph:

* ``ort-fp32``: the decoder cut out of the voice's own graph, on ONNX Runtime (the reference);
* ``ort-int8``: the same cut out of the landed int8 copy (``graph_cache``: static QDQ of the
  decoder's convolutions but the first and last);
* ``torch-fp32``, ``torch-bf16-eager``: the 2-D torch decoder, eager, at any window length;
* ``torch-bf16``: the same, AOTInductor-compiled at ``SHAPES`` (context lengths), pad + mask.

The window schedule here mirrors the two-stage design (first window 32 frames, a 128-frame ramp,
then 512-frame steps, margins 11/11 from the decoder's receptive field, sentences of at most 200
frames whole; later sentences 512-frame windows): ``SHAPES`` are its context lengths rounded up
to a multiple of 16, with two rungs between, so padding costs little (docs/acoustic.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tts_accel.core.errors import InputError, ModelError, output_error
from tts_accel.core.files.atomic import build_atomic
from tts_accel.core.files.cache import cache_dir, model_digest
from tts_accel.core.plan.modes import acoustic_spec
from tts_accel.core.versions import ort_version

if TYPE_CHECKING:  # pragma: no cover
    from tts_accel.core.plan.model import ExecutionPlan
    from tts_accel.core.voices.base import Voice

#: The decoder's input in Piper's graph (feeds /dec/conv_pre/Conv) and the graph's audio output.
DECODER_INPUT = "/Mul_7_output_0"
AUDIO_OUTPUT = "output"
HOP = 256
CHANNELS = 192
#: One OpenMP thread per call: 2 workers x 1 thread on one package gave 5.1x ORT's throughput on
#: the dev VM, 2 threads with a passive wait policy 3.4-3.5x (docs/acoustic.md, tables P, W-omp).
THREADS = 1


@dataclass(frozen=True)
class Margins:
    """Receptive field of the decoder in latent frames: context each side of a window's core."""

    left: int
    right: int


#: Derived from the graph (conv_pre k7, ResBlock2 3/5/7 with dilations up to 12 at 8 samples per
#: frame, ...): a perturbed frame moves output frames -11..+11, exactly (issue 11's measurement).
MARGINS = Margins(11, 11)


@dataclass(frozen=True)
class Schedule:
    first: int
    step: int
    ramp: tuple[int, ...] = ()
    whole_up_to: int = 0


#: The first sentence of a stream: a small first window, then larger; later sentences: big windows.
OPENING = Schedule(first=32, step=512, ramp=(128,), whole_up_to=200)
STEADY = Schedule(first=512, step=512)
#: Context lengths the compiled engine is built for: the schedules' 43, 150, <= 200 (whole), <= 534
#: frames rounded up to 16, plus 288 and 400 so a whole sentence or a last window is padded by at
#: most ~40 % (one compile each: ~21 CPU-s per shape on the dev VM, in `tts tune`).
SHAPES = (48, 160, 288, 400, 544)


def windows(n: int, schedule: Schedule, margins: Margins = MARGINS) -> list[tuple[int, int, int, int]]:
    """(ctx_start, ctx_stop, core_start, core_stop) covering ``n`` frames: cores tile [0, n)."""
    if n < 1:
        raise ValueError(f"a sentence has at least 1 frame, got {n}")
    if n <= max(schedule.first + margins.right, schedule.whole_up_to):
        return [(0, n, 0, n)]
    out = [(0, schedule.first + margins.right, 0, schedule.first)]
    start, k = schedule.first, 1
    while start < n:
        core = schedule.ramp[k - 1] if k <= len(schedule.ramp) else schedule.step
        stop = n if n - start <= core + margins.right else start + core
        out.append((max(0, start - margins.left), min(n, stop + margins.right), start, stop))
        start, k = stop, k + 1
    return out


def run_windowed(run: Callable[[np.ndarray], np.ndarray], z: np.ndarray, schedule: Schedule,
                 hop: int = HOP) -> np.ndarray:  # fmt: skip
    """The audio of latent ``z`` (192, F), produced window by window and cut to each core."""
    pieces = []
    for c0, c1, k0, k1 in windows(z.shape[1], schedule):
        audio = run(np.ascontiguousarray(z[:, c0:c1]))
        if audio.shape[0] != (c1 - c0) * hop:
            raise ModelError(f"the acoustic engine gave {audio.shape[0]} samples for {c1 - c0} frames (hop {hop})")
        pieces.append(audio[(k0 - c0) * hop : (k1 - c0) * hop])
    return np.concatenate(pieces)


# -- graphs derived from the voice's own file (cached like graph_cache's) ------------------------
def _derived(model_path: Path, name: str, build: Callable[[str, str], None]) -> Path:
    dst = cache_dir() / "graphs" / f"{model_digest(model_path)[:20]}-ort{ort_version()}-{name}.onnx"
    if dst.is_file():
        return dst
    try:
        build_atomic(dst, lambda tmp: build(str(model_path), tmp), suffix=".onnx")
    except OSError as err:
        raise output_error(dst, err, "cache the derived graph in") from None
    return dst


def decoder_graph(model_path: Path, source: Path | None = None, tag: str = "fp32") -> Path:
    """The decoder cut out of ``source`` (the voice's graph, or a derived int8 copy of it)."""
    import onnx.utils

    src = source or model_path

    def build(_: str, dst: str) -> None:
        onnx.utils.extract_model(str(src), dst, [DECODER_INPUT], [AUDIO_OUTPUT])

    return _derived(model_path, f"decoder-{tag}", build)


def tapped_graph(model_path: Path) -> Path:
    """The voice's graph with the decoder's input as a second output (latents for the lab)."""
    import onnx

    def build(src: str, dst: str) -> None:
        model = onnx.load(src)
        model.graph.output.append(onnx.helper.make_tensor_value_info(DECODER_INPUT, onnx.TensorProto.FLOAT, None))
        onnx.save(model, dst)

    return _derived(model_path, "tap-z", build)


class OrtDecoderEngine:
    """The decoder on ONNX Runtime at any window length (fp32, or an int8 copy's decoder)."""

    shapes: tuple[int, ...] | None = None

    def __init__(self, graph: Path, margins: Margins = MARGINS, threads: int = THREADS) -> None:
        from tts_accel.core.onnx.sessions import create_session
        from tts_accel.core.plan.model import ExecutionPlan

        self.hop, self.margins, self.graph = HOP, margins, graph
        self.session = create_session(graph, ExecutionPlan(intra_op_threads=threads, inter_op_threads=1))
        self._input = self.session.get_inputs()[0].name

    def run(self, z_ctx: np.ndarray) -> np.ndarray:
        z = np.ascontiguousarray(z_ctx, dtype=np.float32)[np.newaxis]  # (1, 192, W)
        (audio,) = self.session.run([AUDIO_OUTPUT], {self._input: z})
        return np.asarray(audio, dtype=np.float32).reshape(-1)


def compiled(model_path: Path, engine: str) -> bool:
    """Whether ``engine``'s compiled window shapes are on disk here (a stat per shape)."""
    from tts_accel.core.voices.piper.torch_acoustic.artifacts import ready

    spec = acoustic_spec(engine)
    return spec.compiled and ready(model_path, spec.precision, SHAPES, THREADS)


def make_engine(
    name: str,
    model_path: Path,
    *,
    margins: Margins | Any = MARGINS,
    runners: int = 1,
    allow_compile: bool = True,
    on_compile: Callable[[Any], None] | None = None,
    calibration: Callable[[], Sequence[np.ndarray]] | None = None,
) -> Any:
    """A ``DecoderEngine`` for acoustic engine ``name`` (``modes.ACOUSTIC_SPECS``).

    ``runners``: windows that may run at once (workers). ``allow_compile=False`` makes a compiled
    engine refuse to build a missing shape (ModelError naming `tts tune`); ``on_compile(key)`` is
    told before a shape compiles. ``calibration`` gives id sequences for building the int8 copy."""
    spec = acoustic_spec(name)
    if spec.runtime == "onnx":
        if spec.precision == "fp32":
            return OrtDecoderEngine(decoder_graph(model_path), margins)
        from tts_accel.core.voices.piper.graph_cache import derived_model

        int8 = derived_model(model_path, "int8", lengths=True, calibration=calibration)
        return OrtDecoderEngine(decoder_graph(model_path, int8, "int8"), margins)
    try:
        from tts_accel.core.voices.piper.torch_acoustic.engine import TorchDecoderEngine
    except ImportError as err:
        from tts_accel.core.errors import torch_missing

        raise torch_missing(f"--acoustic {name}") from err
    return TorchDecoderEngine(
        model_path, precision=spec.precision, compiled=spec.compiled, shapes=SHAPES if spec.compiled else (),
        threads=THREADS, runners=runners, margins=margins, allow_compile=allow_compile, on_compile=on_compile,
    )  # fmt: skip


def engine_for_plan(
    plan: ExecutionPlan,
    model_path: Path,
    *,
    margins: Margins | Any = MARGINS,
    calibration: Callable[[], Sequence[np.ndarray]] | None = None,
    on_compile: Callable[[Any], None] | None = None,
    first: Any = None,
    longest: int | None = None,
) -> Any:
    """The ``DecoderEngine`` a plan asks for (the two-stage path's factory calls this for any
    engine but ort-fp32). ``first``: the ORT fp32 engine the stage already made (else one is made
    here); ``longest``: the longest window context the schedule will send (a compiled engine
    refuses a schedule whose windows exceed its largest shape, or stays on ORT when chosen on costs).

    A compiled engine starts as a ``HandoffEngine``: ONNX Runtime fp32 runs the first windows
    while a thread imports torch and loads (or, when asked, compiles) the shapes, then every later
    window runs compiled: first audio stays ORT's, torch's start-up overlaps synthesis. One the
    cost-aware choice picked (source "heuristic") may not compile: it was chosen because its
    shapes are on disk; if one turns out unusable the run stays on ORT fp32 (``plan.reasons`` says
    so) rather than compile or fail. Asked for by flag or profile, it compiles what is missing."""
    name = plan.acoustic
    spec = acoustic_spec(name)
    chosen_by_costs = plan.sources.get("acoustic") == "heuristic"

    def torch_engine() -> Any:
        engine = make_engine(
            name, model_path, margins=margins, runners=max(1, plan.workers), allow_compile=not chosen_by_costs,
            on_compile=on_compile, calibration=calibration,
        )  # fmt: skip
        return engine.prepare() if spec.compiled else engine

    if spec.runtime == "torch" and spec.compiled:

        def failed(err: BaseException) -> None:
            plan.reasons["acoustic"] = f"{plan.reasons.get('acoustic', name)}; stayed on ONNX Runtime fp32: {err}"

        first = first if first is not None else OrtDecoderEngine(decoder_graph(model_path), margins)
        if longest is not None and longest > SHAPES[-1]:
            too_long = ModelError(
                f"--acoustic {name}: the window schedule sends contexts of up to {longest} frames, longer than the "
                f"largest compiled shape ({SHAPES[-1]}): use steps of at most {SHAPES[-1] - 22} frames in --windows"
            )
            if not chosen_by_costs:
                raise too_long
            failed(too_long)
            return first
        return HandoffEngine(first, torch_engine, on_error=failed, raise_errors=not chosen_by_costs)
    return torch_engine() if spec.runtime == "torch" else make_engine(name, model_path, margins=margins,
                                                                       calibration=calibration)  # fmt: skip


class HandoffEngine:
    """ONNX Runtime fp32 until the faster engine is ready, then that engine, window by window.

    ``load()`` runs on a thread (not a daemon: a process exiting mid-import of torch can abort);
    ``run`` never waits for it. Both engines are the same voice (the gate), and a join between an
    fp32 window and a bf16 one is no different from a join between two bf16 windows. An error
    while loading keeps ORT (``on_error`` is told); with ``raise_errors`` the next ``run`` raises
    it instead (an engine the user asked for must not silently be another)."""

    def __init__(self, first: Any, load: Callable[[], Any], *, on_error: Callable[[BaseException], None] | None = None,
                 raise_errors: bool = False) -> None:  # fmt: skip
        import threading

        self.first, self.hop, self.margins = first, first.hop, first.margins
        self.shapes: tuple[int, ...] | None = SHAPES  # the windows must fit the engine handed over to
        self.handed_over_at: int | None = None  # windows run before the handoff (None: not yet)
        self._next: Any = None
        self._error: BaseException | None = None
        self._raise = raise_errors
        self._on_error = on_error
        self._windows = 0
        self._thread = threading.Thread(target=self._load, args=(load,), name="tts-acoustic-load")
        self._thread.start()

    def _load(self, load: Callable[[], Any]) -> None:
        try:
            self._next = load()
        except BaseException as err:  # reported on the thread that runs windows
            self._error = err
            if self._on_error is not None:
                self._on_error(err)

    def run(self, z_ctx: np.ndarray) -> np.ndarray:
        if self._error is not None and self._raise:
            raise self._error
        engine = self._next
        if engine is None:
            self._windows += 1
            return self.first.run(z_ctx)  # type: ignore[no-any-return]
        if self.handed_over_at is None:
            self.handed_over_at = self._windows
        return engine.run(z_ctx)  # type: ignore[no-any-return]

    def wait(self) -> Any:
        """Block until the loading is done; the engine handed over to (None if it failed)."""
        self._thread.join()
        return self._next


# -- the lab: bench, tune and verify run engines over real latents --------------------------------
@dataclass
class Utterance:
    text: str
    ids: np.ndarray  # (T,) int64
    z: np.ndarray  # (192, F) float32: the decoder's input, zero noise
    audio: np.ndarray  # (F * 256,) float32: the voice's whole graph, fp32 (the reference)


class AcousticLab:
    """Real latents of texts through the voice's own graph (zero noise), and the engines run over
    them window by window: what bench, tune and verify measure, apart from the text stage."""

    def __init__(self, voice: Voice) -> None:  # a PiperVoice (model_path, calibration_ids)
        self.voice: Any = voice
        self.model_path = Path(self.voice.model_path)
        self.sample_rate = voice.sample_rate
        self.hop = HOP
        self._session: Any = None

    def utterances(self, texts: Sequence[str]) -> list[Utterance]:
        """Each chunk of each text (the chunker's own split) with its latent and reference audio."""
        from tts_accel.core.onnx.sessions import create_session
        from tts_accel.core.plan.model import ExecutionPlan
        from tts_accel.core.text.chunking import chunk_text, normalize

        if self._session is None:
            self._session = create_session(tapped_graph(self.model_path), ExecutionPlan(intra_op_threads=1))
        out = []
        for text in texts:
            for piece in chunk_text(normalize(text), self.voice.chunk_budget, self.voice.measure):
                ids = self.voice.encode(piece.text)
                if ids.size == 0:
                    continue
                feeds = {"input": ids[np.newaxis], "input_lengths": np.array([ids.size], dtype=np.int64),
                         "scales": np.array([0.0, 1.0, 0.0], dtype=np.float32)}  # fmt: skip
                audio, z = self._session.run([AUDIO_OUTPUT, DECODER_INPUT], feeds)
                out.append(Utterance(piece.text, ids, np.ascontiguousarray(z[0]), audio.reshape(-1)))
        if not out:
            raise InputError("the texts have nothing to pronounce")
        return out

    def engine(self, name: str, **kw: Any) -> Any:
        return make_engine(name, self.model_path, calibration=self.voice.calibration_ids, **kw)

    def stream(self, engine: Any, z: np.ndarray, opening: bool = True) -> tuple[np.ndarray, list[int]]:
        """One latent's audio through ``engine``, window by window, and the sample index of every
        join between windows (for the join check)."""
        schedule = OPENING if opening else STEADY
        joins = [k1 * self.hop for _, _, _, k1 in windows(z.shape[1], schedule)[:-1]]
        return run_windowed(engine.run, z, schedule, self.hop), joins

    def render(self, engine: Any, utterances: Sequence[Utterance]) -> tuple[list[np.ndarray], float]:
        """Each utterance's audio through ``engine``, windowed as a stream is (the first with the
        opening schedule), and the CPU seconds the engine took (this thread's)."""
        out, cpu = [], 0.0
        for i, utt in enumerate(utterances):
            t0 = time.thread_time()
            out.append(run_windowed(engine.run, utt.z, OPENING if i == 0 else STEADY, self.hop))
            cpu += time.thread_time() - t0
        return out, cpu


# -- what an engine adds to a process before its first window (measured in a fresh process) -------
_PROBE = """
import json, resource, sys, time
import numpy, onnxruntime  # every run pays these, whichever acoustic engine it uses
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
c0, w0 = cpu(), time.perf_counter()
from pathlib import Path
from tts_accel.core.voices.piper.engines import make_engine, SHAPES
import numpy as np
engine = make_engine(sys.argv[1], Path(sys.argv[2]), allow_compile=False)
getattr(engine, "load", lambda: None)()
for frames in (engine.shapes or (43, 534)):  # every shape a book meets, called once
    engine.run(np.zeros((192, frames), np.float32))
print("READY " + json.dumps({"cpu_s": cpu() - c0, "wall_s": time.perf_counter() - w0}))
"""


def ready_cost(name: str, model_path: Path, repeats: int = 3) -> tuple[float, float]:
    """(CPU s, wall s) an engine adds to a fresh process before its first steady window: imports
    (torch for torch engines; onnxruntime is every run's), loading, first calls of every shape.
    Medians of ``repeats`` fresh processes; a compiled engine must be built first."""
    import json
    import subprocess
    import sys

    cpus, walls = [], []
    for _ in range(repeats):
        done = subprocess.run(
            [sys.executable, "-c", _PROBE, name, str(model_path)], capture_output=True, text=True, check=False
        )
        lines = [ln for ln in done.stdout.splitlines() if ln.startswith("READY ")]
        if done.returncode != 0 or not lines:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise ModelError(f"measuring {name}'s start-up failed: {tail[0]}")
        got = json.loads(lines[-1][6:])
        cpus.append(got["cpu_s"])
        walls.append(got["wall_s"])
    return float(np.median(cpus)), float(np.median(walls))
