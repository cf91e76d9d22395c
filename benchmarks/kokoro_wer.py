"""Word error rate of English read by the Kokoro voices (Japanese style tables), by Whisper tiny.en.

Each Harvard sentence is synthesized on its own (sequential plan from the resolver), then
transcribed and scored exactly as `tts verify` tier 3 does (tts_accel.core.verify.asr: faster-whisper,
int8, beam 5, temperature 0, no VAD; tts_accel.core.verify.wer: whisper-normalizer + jiwer). piper-joe
is measured in the same run as the reference point.

    pip install 'tts-accel[kokoro,eval]'; python benchmarks/kokoro_wer.py
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main() -> None:
    from tts_accel.core.text.samples import texts_dir

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--voices", default="piper-joe,kokoro-jf_alpha,kokoro-jf_gongitsune,kokoro-jf_nezumi,"
                    "kokoro-jm_kumo,kokoro-jf_tebukuro")  # fmt: skip
    ap.add_argument("--text", type=Path, default=texts_dir() / "harvard.txt")
    ap.add_argument("--show", action="store_true", help="print every misheard sentence")
    ap.add_argument("--no-mapping", action="store_true",
                    help="feed raw espeak IPA to Kokoro (what the espeak->Kokoro table is worth)")  # fmt: skip
    args = ap.parse_args()
    if args.no_mapping:
        import tts_accel.core.voices.kokoro.voice as kokoro_voice

        kokoro_voice.to_kokoro = lambda ipa: ipa  # type: ignore[assignment]
    from tts_accel.core.errors import EvalUnavailable
    from tts_accel.core.pipeline.planning import plan_for
    from tts_accel.core.pipeline.synthesizer import Synthesizer
    from tts_accel.core.verify.asr import default_transcriber
    from tts_accel.core.verify.wer import wer
    from tts_accel.core.voices.params import SynthParams

    try:
        asr = default_transcriber()
    except EvalUnavailable as err:
        sys.exit(str(err))
    sentences = [s for s in args.text.read_text(encoding="utf-8").splitlines() if s.strip()]
    rows = []
    for name in args.voices.split(","):
        synth = Synthesizer(name, plan_for("sequential", name, tuned=False))
        # Piper at zero noise as in tts verify; Kokoro has no noise input
        params = SynthParams(noise_scale=0.0, noise_w=0.0, sentence_silence=0.0)
        per_sentence = []
        heard_all = []
        for sentence in sentences:
            heard = asr.transcribe(synth.synthesize(sentence, params), synth.sample_rate)
            heard_all.append(heard)
            one = wer([sentence], [heard])
            per_sentence.append(one.rate)
            if args.show and one.errors:
                print(f"  {name}: {sentence!r} -> {heard!r}", file=sys.stderr)
        total = wer(sentences, heard_all)
        row = {"voice": name, "mapping": not args.no_mapping, "sentences": len(sentences),
               "wer_pct": round(100 * total.rate, 1), "errors": total.errors, "words": total.words,
               "wer_unfolded_pct": round(100 * wer(sentences, heard_all, fold=False).rate, 1),
               "worst_sentence_wer_pct": round(100 * max(per_sentence), 1)}  # fmt: skip
        rows.append(row)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
