"""What compound folding is worth in WER: sentences full of compounds, read by each voice,
heard by Whisper tiny.en, scored three ways: whisper-normalizer alone, with compound folding
(tts_accel.core.verify.wer, what `tts verify` uses), and the hand-written normalisation the project
used before (``--old FILE``: a copy of that wer.py, e.g. from git history).

    pip install 'tts-accel[eval]'; python benchmarks/wer_compounds.py --voices piper-joe
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

SENTENCES = (
    "The rosebush by the gate bloomed in June.",
    "We stopped half way up the hill to rest.",
    "The old busses ran on time every morning.",
    "A bluebird sat on the fencepost at dawn.",
    "He set the teapot on the tablecloth.",
    "The lighthouse keeper waved from the shore.",
    "Her grandmother knitted a red sweater.",
    "The firefly glowed beside the haystack.",
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--voices", default="piper-joe")
    ap.add_argument("--old", type=Path, help="a copy of the old hand-written tts_accel/core/wer.py")
    ap.add_argument("--show", action="store_true", help="print every transcript")
    args = ap.parse_args()
    from tts_accel.core.errors import EvalUnavailable
    from tts_accel.core.pipeline.planning import plan_for
    from tts_accel.core.pipeline.synthesizer import Synthesizer
    from tts_accel.core.verify.asr import default_transcriber
    from tts_accel.core.verify.data import SPEECH_ONLY
    from tts_accel.core.verify.wer import wer

    old = None
    if args.old:
        spec = importlib.util.spec_from_file_location("old_wer", args.old)
        assert spec and spec.loader
        old = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(old)
    try:
        asr = default_transcriber()
    except EvalUnavailable as err:
        sys.exit(str(err))
    for voice in args.voices.split(","):
        synth = Synthesizer(voice, plan_for("sequential", voice, tuned=False))
        heard = [asr.transcribe(synth.synthesize(s, SPEECH_ONLY), synth.sample_rate) for s in SENTENCES]
        if args.show:
            for said, got in zip(SENTENCES, heard, strict=True):
                print(f"  {voice}: {said!r} -> {got!r}", file=sys.stderr)
        plain, folded = wer(SENTENCES, heard, fold=False), wer(SENTENCES, heard)
        row = {"voice": voice, "words": folded.words, "errors_normalizer": plain.errors,
               "errors_folded": folded.errors}  # fmt: skip
        if old is not None:
            row["errors_old"] = old.wer(SENTENCES, heard).errors
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
