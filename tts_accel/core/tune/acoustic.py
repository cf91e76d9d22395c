"""`tts tune`'s acoustic part: build the compiled window shapes, measure what each acoustic engine
costs here and whether it keeps the voice, and return it as the tuned profile's ``[acoustic]``.

Costs (``costs.EngineCost``), CPU seconds at one thread:

* ``fixed_s`` and ``per_audio_s``: a robust line (``fit_line``) through the CPU seconds of whole
  fresh processes (``_process_costs``: imports, loading, the first call of every shape, the text
  stage, every window, the file) synthesizing three lengths (the text's first sentence, the
  text 6 and 18 times over: ~200 and ~600 s of audio for the paragraph) on this engine, medians
  of repeats, engines alternated (a compiled engine's line through the two long ones only:
  ``fit_tail``); ``margin``: the spread of those runs (at least ``costs.MARGIN``),
  which a decision between the engines must clear. Whole processes, because that is what `auto`
  decides between: the parts measured apart (start-up, then steady windows) put bf16's
  break-even at ~37 s of audio on the AMX dev VM where whole runs put it near 350 s
  (docs/acoustic.md);
* ``compile_s``: building every window shape, when this run built them (else the earlier
  measurement, or the default).

Quality: each engine against the fp32 whole-graph audio of the Harvard sentences' latents (SNR,
MCD16, PESQ-WB) and, with ``wer=True`` and the eval extra, Whisper's WER against fp32's; the
verdict is ``verify.quality.same_voice``. `auto` never picks an engine whose verdict is false.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from tts_accel.core.acoustic import registry
from tts_accel.core.acoustic.registry import COSTED, REFERENCE
from tts_accel.core.bench.acoustic import load_engines, unavailable
from tts_accel.core.errors import ModelError, ModeNotApplicable
from tts_accel.core.hardware.profile import HardwareProfile
from tts_accel.core.plan.costs import MARGIN, MAX_MARGIN, CostTable, EngineCost, default_costs, isa_class
from tts_accel.core.text.samples import harvard_sentences
from tts_accel.core.verify.quality import measure
from tts_accel.core.versions import versions
from tts_accel.core.voices.registry import family_of, resolve_voice


def runnable(voice: str, hw: HardwareProfile | None = None) -> dict[str, str]:
    """Engine -> "" when it can run here, else why not (no torch, no bf16 instructions)."""
    support = family_of(voice).acoustic
    if support is None:
        raise ModeNotApplicable(f"voice {voice!r} has no separate acoustic stage: nothing to tune there.")
    isa = isa_class((hw or HardwareProfile.detect(gpus=False)).isa)
    return {name: unavailable(name, isa) for name in support.engines}


def tune_acoustic(
    voice: str,
    text: str,
    *,
    repeats: int = 3,
    wer: bool = False,
    previous: Mapping[str, Any] | None = None,
    on_step: Callable[[str], None] | None = None,
    on_skip: Callable[[str, str], None] | None = None,
) -> dict[str, Any]:
    """Build, measure and judge every acoustic engine that runs here; the ``[acoustic]`` table."""
    step = on_step or (lambda _s: None)
    hw = HardwareProfile.detect(gpus=False)
    isa = isa_class(hw.isa)
    can = runnable(voice, hw)
    for name, why in can.items():
        if why and on_skip:
            on_skip(name, why)
    names = [n for n, why in can.items() if not why]
    support = family_of(voice).acoustic
    assert support is not None
    lab = support.lab(resolve_voice(voice))
    loaded = load_engines(lab, names, step, on_skip)
    engines: dict[str, Any] = {name: engine for name, (engine, _, _) in loaded.items()}
    compile_s = {name: built for name, (_, _, built) in loaded.items() if built > 0}  # shapes built this run
    old_costs = CostTable.from_profile(dict((previous or {}).get("costs", {})))
    # -- per second of audio: the engines over the same text, alternated -----------------------
    step("timing the engines over real windows")
    utts = lab.utterances([text])
    audio_s = sum(u.audio.size for u in utts) / lab.sample_rate
    for engine in engines.values():
        lab.render(engine, utts[:2])  # first calls of every shape, not timed
    spent: dict[str, list[float]] = {n: [] for n in engines}
    for _ in range(max(1, repeats)):
        for name, engine in engines.items():
            spent[name].append(lab.render(engine, utts)[1])
    table: dict[str, dict[str, float]] = {}
    costed = [n for n in COSTED if n in engines]
    step(f"timing whole processes on {', '.join(costed)}")
    lines, spread = _process_costs(voice, costed, text, repeats)
    for name in costed:
        fixed, per_audio = lines[name]
        old = old_costs.costs.get(name) or default_costs(isa, hw.cpu_vendor).costs.get(name)
        build = compile_s.get(name, old.compile_s if old is not None else 0.0)
        table[name] = EngineCost(fixed, per_audio, build).__dict__
    # -- quality on the Harvard sentences --------------------------------------------------------
    step("judging quality on the Harvard sentences")
    sentences = harvard_sentences()
    harvard = lab.utterances(sentences)
    refs = [u.audio for u in harvard]
    renders = {name: lab.render(engine, harvard)[0] for name, engine in engines.items()}
    wers = _wers(sentences, harvard, renders, lab.sample_rate, step) if wer else {}
    quality: dict[str, dict[str, Any]] = {}
    for name in engines:
        q = measure(refs, renders[name], lab.sample_rate)
        if wers:
            q = type(q)(**{**q.__dict__, "wer": wers.get(name), "wer_fp32": wers.get(REFERENCE)})
        # the decoder's own CPU s per second of audio over the text's windows (not what `auto` weighs:
        # that is the whole-process line in ``costs``)
        quality[name] = {**q.to_dict(), "decoder_per_audio_s": round(float(np.median(spent[name])) / audio_s, 5)}
    return {
        "isa": isa, "torch": versions().get("torch", ""), "text_audio_s": round(audio_s, 2),
        "measured": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "costs": table, "quality": quality,
        "margin": round(max(MARGIN, min(MAX_MARGIN, spread)), 3), "spread": round(spread, 3),
    }  # fmt: skip


_SYNTH = """
import sys
from tts_accel.core.pipeline.synthesizer import Synthesizer
from tts_accel.core.pipeline.planning import plan_for
from tts_accel.core.audio.sinks import FileSink
voice, engine, text_path, out = sys.argv[1:5]
plan = plan_for("pipelined", voice, tuned=False, acoustic=engine)
synth = Synthesizer(voice, plan)
with FileSink(out, synth.sample_rate, "wav") as sink:
    synth.write([open(text_path, encoding="utf-8").read()], sink)
    print("FRAMES", sink.frames, synth.sample_rate)
"""


#: The two longer texts a tune times whole processes on: its text this many times over (the
#: paragraph: ~200 and ~600 s of audio). Both run past the hand-off: a compiled engine runs a
#: process's first windows on ONNX Runtime while it loads and warms its shapes (``HandoffEngine``;
#: about 150 s of audio on the Xeon AMX VM), so its cost is not one line from zero: ORT's slope
#: first, its own after. Its per-second cost is the slope between these two (``fit_tail``); a
#: line weighted to the sentence and the text, both still on ORT, had put bf16's per-second cost
#: at 0.059 CPU-s there against 0.030 steady, and auto kept ORT on a 10-minute text bf16 ran in half
#: the CPU time (docs/acoustic.md).
MID_COPIES = 6
LONG_COPIES = 18


def fit_line(points: list[tuple[float, float]]) -> tuple[float, float]:
    """(fixed, per second) of a line through (audio s, CPU s) points, each weighted by 1 / CPU s
    squared: a run's noise is a share of its cost, so the short runs pin the fixed cost and the
    long run the slope, and neither's noise leaks much into the other's term. A slope the noise
    made non-positive falls back to the longest point's cost per second, fixed 0."""
    w = [1.0 / max(c, 1e-9) ** 2 for _, c in points]
    s0, sa = sum(w), sum(wi * a for wi, (a, _) in zip(w, points, strict=True))
    sc = sum(wi * c for wi, (_, c) in zip(w, points, strict=True))
    saa = sum(wi * a * a for wi, (a, _) in zip(w, points, strict=True))
    sac = sum(wi * a * c for wi, (a, c) in zip(w, points, strict=True))
    det = s0 * saa - sa * sa
    slope = (s0 * sac - sa * sc) / det if det > 0 else 0.0
    if slope <= 0:
        a, c = max(points)
        return 0.0, c / max(a, 1e-9)
    return max(0.0, (sc - slope * sa) / s0), slope


def fit_tail(points: list[tuple[float, float]]) -> tuple[float, float]:
    """(fixed, per second) of the line through the two longest (audio s, CPU s) points: the cost
    of an engine that is handed over to only after its start-up (the runs before the hand-off are
    another engine's). The fixed cost is that line's intercept: it counts the windows ORT ran
    before the hand-off, so it over-states short runs, which never pay for this engine anyway. A
    slope the noise made non-positive falls back as in ``fit_line``."""
    (a1, c1), (a2, c2) = sorted(points)[-2:]
    return fit_line([(a1, c1), (a2, c2)]) if a2 > a1 else fit_line(points)


def _process_costs(
    voice: str, names: list[str], text: str, repeats: int
) -> tuple[dict[str, tuple[float, float]], float]:
    """(engine -> (fixed CPU s, CPU s per second of audio), spread): a line through the CPU seconds
    of fresh processes (child CPU, user + system, from the kernel) synthesizing to a file the
    text's first sentence, the text ``MID_COPIES`` and ``LONG_COPIES`` times over; medians of
    ``repeats`` per length, engines alternated (the order reversed every other round). ORT's line
    is ``fit_line`` through all three; a compiled engine's (handed over to after its start-up) is
    ``fit_tail``, through the two long ones. ``spread``
    is the widest half-range of the long text's runs over their median: the share of noise a
    decision between the engines must clear (``CostTable.margin``)."""
    import resource
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    from tts_accel.core.text.chunking import normalize, split_sentences

    def run(name: str, path: Path, out: Path) -> tuple[float, float]:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run([sys.executable, "-c", _SYNTH, voice, name, str(path), str(out)],
                              capture_output=True, text=True, check=False)  # fmt: skip
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        lines = [ln.split() for ln in done.stdout.splitlines() if ln.startswith("FRAMES ")]
        if done.returncode != 0 or not lines:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise ModelError(f"timing {name} in a fresh process failed: {tail[0]}")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return cpu, int(lines[-1][1]) / int(lines[-1][2])

    first = next(iter(split_sentences(normalize(text).split("\n")[0])), text)
    bodies = (first, "\n\n".join([text] * MID_COPIES), "\n\n".join([text] * LONG_COPIES))
    with tempfile.TemporaryDirectory(prefix="tts-tune-") as tmp:
        texts = [Path(tmp, f"text{k}.txt") for k in range(len(bodies))]
        for path, body in zip(texts, bodies, strict=True):
            path.write_text(body, encoding="utf-8")
        samples: dict[str, list[list[tuple[float, float]]]] = {n: [[] for _ in texts] for n in names}
        for name in names:  # page cache, derived graphs, the first load of each package: not timed
            run(name, texts[0], Path(tmp, "out.wav"))
        for r in range(max(1, repeats)):
            for k, path in enumerate(texts):
                for name in names if r % 2 == 0 else names[::-1]:
                    samples[name][k].append(run(name, path, Path(tmp, "out.wav")))
    lines: dict[str, tuple[float, float]] = {}
    spread = 0.0
    for name in names:
        medians = [(float(np.median([a for _, a in s])), float(np.median([c for c, _ in s]))) for s in samples[name]]
        lines[name] = fit_tail(medians) if registry.spec(name).compiled else fit_line(medians)
        long_cpu = [c for c, _ in samples[name][-1]]
        spread = max(spread, (max(long_cpu) - min(long_cpu)) / 2 / max(float(np.median(long_cpu)), 1e-9))
    return lines, spread


def _wers(
    sentences: list[str], utts: list[Any], renders: dict[str, list[np.ndarray]], rate: int,
    step: Callable[[str], None],
) -> dict[str, float]:  # fmt: skip
    """Whisper's WER per engine over the Harvard sentences (per cent), one chunk per sentence."""
    from tts_accel.core.verify.asr import default_transcriber
    from tts_accel.core.verify.wer import wer

    if len(utts) != len(sentences):  # a sentence split into chunks: join its pieces back
        return {}
    asr = default_transcriber()
    out = {}
    for name, audios in renders.items():
        step(f"Whisper on {name}")
        hyps = [asr.transcribe(a, rate) for a in audios]
        out[name] = 100.0 * wer(sentences, hyps).rate
    return out
