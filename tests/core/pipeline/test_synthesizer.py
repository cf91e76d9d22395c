from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.utils import REPO, TEXTS, FakeBackend, cli_env, run_python
from tts_accel import synthesize
from tts_accel.core.errors import InputError
from tts_accel.core.pipeline.stats import RunStats
from tts_accel.core.pipeline.synthesizer import Synthesizer
from tts_accel.core.voices.params import SynthParams
from tts_accel.core.voices.registry import resolve_voice


def test_zero_noise_is_bit_for_bit_deterministic(joe, zero_noise):
    text = "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background."
    first = joe.synthesize(text, zero_noise)
    second = joe.synthesize(text, zero_noise)
    assert first.dtype == np.float32 and len(first) > joe.sample_rate  # over a second of audio
    assert np.array_equal(first, second)


def test_the_same_seed_repeats_noisy_output():
    a, _ = synthesize("Seeds make noise repeatable.", seed=7)
    b, _ = synthesize("Seeds make noise repeatable.", seed=7)
    assert np.array_equal(a, b)


def test_library_entry_point_returns_samples_and_rate():
    audio, rate = synthesize("Hello world.", noise_scale=0.0, noise_w=0.0)
    assert rate == 22050 and audio.ndim == 1 and 0.3 < len(audio) / rate < 3


def test_speed_changes_duration(joe):
    slow = joe.synthesize("A quick test of speed.", SynthParams(speed=0.5, noise_scale=0, noise_w=0))
    fast = joe.synthesize("A quick test of speed.", SynthParams(speed=2.0, noise_scale=0, noise_w=0))
    assert len(slow) > 2.5 * len(fast)


def test_nothing_pronounceable_is_an_input_error(joe):
    with pytest.raises(InputError, match="nothing to pronounce"):
        joe.synthesize("... ?! ...")
    with pytest.raises(InputError):
        synthesize("   ")


def test_absurd_parameters_are_refused():
    for bad in ({"speed": 0}, {"speed": 1e9}, {"noise_scale": -1}, {"volume": float("nan")}):
        with pytest.raises(InputError, match="out of range"):
            SynthParams(**bad)


def test_chunks_keep_text_order_and_sentence_pauses():
    synth = Synthesizer(resolve_voice("piper-joe"), backend=FakeBackend())
    params = SynthParams(sentence_silence=0.5)
    chunks = list(synth.chunks(["First one. Second one!\n\nThird."], params))
    assert [c.text for c in chunks] == ["First one.", "Second one!", "Third."]
    assert [c.index for c in chunks] == [0, 1, 2]
    assert all(c.pause_after == 0.5 for c in chunks)


def test_stats_account_for_every_sample(joe, zero_noise):
    stats = RunStats()
    pieces = list(joe.stream(["One sentence. And another one."], zero_noise, stats))
    total = sum(len(p) for p in pieces)
    assert stats.chunks == 2
    assert stats.audio_s == pytest.approx(total / joe.sample_rate)
    assert 0 < stats.ttfa_s <= stats.wall_s



class _SlowBackend(FakeBackend):
    """Every chunk after the first takes ``delay`` seconds and gives 1 ms of audio per id."""

    def __init__(self, delay: float) -> None:
        super().__init__(samples_per_id=22)
        self.delay = delay

    def infer(self, ids: np.ndarray, params: SynthParams) -> np.ndarray:
        if self.calls:
            time.sleep(self.delay)
        return super().infer(ids, params)


def test_stall_counts_the_wait_after_first_audio_and_only_that():
    text = ["One. Two. Three."]
    params = SynthParams(sentence_silence=0.0)
    slow, fast = RunStats(), RunStats()
    list(Synthesizer("piper-joe", backend=_SlowBackend(0.3)).stream(text, params, slow))
    # each late chunk comes 0.3 s after the one before, which plays for a few ms: ~0.3 s stalled each
    assert slow.chunks == 3 and 0.4 < slow.stall_s <= slow.wall_s - slow.ttfa_s
    # 10 s of audio per chunk, made at once: the player never waits
    list(Synthesizer("piper-joe", backend=FakeBackend(samples_per_id=22050 * 10)).stream(text, params, fast))
    assert fast.chunks == 3 and fast.stall_s == 0.0

MEMORY_PROBE = """
import json, sys
from tests.utils import FakeBackend
from tts_accel.core.audio.sinks import FileSink
from tts_accel.core.pipeline.synthesizer import Synthesizer
from tts_accel.core.pipeline.stats import peak_rss_mb
from tts_accel.core.voices.params import SynthParams
from tts_accel.core.text.chunking import iter_blocks
path, out = sys.argv[1], sys.argv[2]
synth = Synthesizer("piper-joe", backend=FakeBackend(samples_per_id=64))
with open(path, encoding="utf-8") as fh:
    stats = synth.write(iter_blocks(fh), FileSink(out, 22050), SynthParams(sentence_silence=0.0))
print(json.dumps({"peak": peak_rss_mb(), "audio_s": stats.audio_s, "chunks": stats.chunks}))
"""


@pytest.mark.slow
def test_a_megabyte_of_text_streams_with_flat_memory(tmp_path):
    """Real chunker and real espeak-ng on 1 MB; a fake model keeps it quick. The audio
    (about 75M samples, 150 MB of WAV) must never be held in memory."""
    paragraph = (TEXTS / "long.txt").read_text(encoding="utf-8")

    def probe(n_bytes: int) -> dict:
        text_path = tmp_path / f"in-{n_bytes}.txt"
        text = (paragraph + "\n\n") * (n_bytes // len(paragraph) + 1)
        text_path.write_text(text[:n_bytes], encoding="utf-8")
        out = tmp_path / f"out-{n_bytes}.wav"
        proc = subprocess.run(
            [sys.executable, "-c", MEMORY_PROBE, str(text_path), str(out)],
            capture_output=True, env=cli_env(), cwd=REPO, timeout=600, check=True,
        )  # fmt: skip
        result = json.loads(proc.stdout)
        result["wav_mb"] = out.stat().st_size / 2**20
        return result

    small, big = probe(20_000), probe(1_000_000)
    assert big["wav_mb"] > 100  # the output really is large...
    assert big["peak"] - small["peak"] < 60  # ...but memory is not


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2, reason="needs 2 CPUs")
def test_plan_affinity_pins_every_thread_of_the_run():
    """The plan's CPU set reaches ONNX Runtime's pool and the chunk workers, not just the caller.
    (Threads that existed before, such as numpy's BLAS pool, keep theirs.)"""
    code = (
        "import glob, json, os, re\n"
        "from tts_accel.core.pipeline.synthesizer import Synthesizer\n"
        "from tts_accel.core.plan.model import ExecutionPlan\n"
        "tasks = lambda: set(glob.glob('/proc/self/task/*'))\n"
        "allowed = lambda t: re.search(r'Cpus_allowed_list:\\s*(\\S+)', open(t + '/status').read()).group(1)\n"
        "before, cpu = tasks(), max(os.sched_getaffinity(0))\n"
        "plan = ExecutionPlan(mode='pipelined', workers=2, intra_op_threads=3, affinity=(cpu, 99999))\n"
        "s = Synthesizer('piper-joe', plan)\n"
        "s.synthesize('One sentence here. And a second one there.')\n"
        "new = tasks() - before\n"
        "main = '/proc/self/task/%d' % os.getpid()\n"
        "print(json.dumps([cpu, len(new), sorted({allowed(t) for t in new | {main}})]))\n"
    )
    cpu, new_threads, allowed = json.loads(run_python(code, timeout=120).stdout)
    assert new_threads >= 2  # ORT's intra-op pool (3 threads: the caller + 2) outlives the run
    assert allowed == [str(cpu)]  # all on the one usable CPU of the plan; 99999 was ignored


def test_a_cancel_stops_the_real_voice_between_pieces_with_its_reason(joe, zero_noise, monkeypatch):
    """The run's token, cancelled after the first piece: the next check raises its reason (a
    signal's Terminated, in the CLI), and the text after it is never phonemized."""
    from tts_accel.core.cancel import Cancel
    from tts_accel.core.errors import Terminated

    token = Cancel()
    measured: list[str] = []
    voice_measure = joe.voice.measure
    monkeypatch.setattr(joe.voice, "measure", lambda text: measured.append(text) or voice_measure(text))
    words = " ".join(["river", "stone", "light"] * 2000)  # one sentence, no mark: many chunks
    pieces = joe.stream([words], zero_noise, cancel=token)
    next(pieces)
    token.cancel(lambda: Terminated("stopped"))
    seen = len(measured)
    with pytest.raises(Terminated, match="stopped"):
        next(pieces)
    assert len(measured) == seen  # no phonemizer call after the cancel


def test_before_commit_runs_after_the_audio_and_its_error_leaves_no_file(tmp_path):
    """`tts synth` waits there for a compile it announced: the file commits after it, or not at all."""
    from tts_accel.core.audio.sinks import FileSink
    from tts_accel.core.errors import ModelError

    synth = Synthesizer("piper-joe", backend=FakeBackend(samples_per_id=64))
    out = tmp_path / "ok.wav"
    seen: list[bool] = []
    stats = synth.write(["Hello there."], FileSink(out, 22050), before_commit=lambda: seen.append(out.exists()))
    assert seen == [False] and out.is_file() and stats.chunks == 1  # called before the commit, once

    def failed() -> None:
        raise ModelError("the compile failed")

    bad = tmp_path / "bad.wav"
    with pytest.raises(ModelError, match="the compile failed"):
        synth.write(["Hello there."], FileSink(bad, 22050), before_commit=failed)
    assert not bad.exists() and list(tmp_path.iterdir()) == [out]  # no file, no temporary left
