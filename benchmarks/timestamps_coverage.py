"""How well the word mapping works, chunk by chunk, on harvard, long and the 50 hard sentences.

For every chunk (chunked exactly as the engine chunks) and every text word:
  entry      - one entry per text word, in order (by construction; counted anyway);
  timed      - a word with a letter or digit got at least one model position;
  agrees     - the phonemes under the word's span are within half an edit distance of the word
               said alone: the span holds that word, not a neighbour;
  closest    - or, failing that, closer to the word said alone than to either neighbour said
               alone (catches "a" read as the letter name alone, "for" reduced to fɚ);
  one-to-one - the naive rule (espeak's n-th phonetic word is the n-th text word) was possible
               at all: the counts match.
Also: joined groups (several text words in one phonetic word), fallbacks (ids not what the
front-end makes), and alignment time per word (preliminary on a shared machine).

    python benchmarks/timestamps_coverage.py [--voice piper-joe] [--show] [--json out.json]
    python benchmarks/timestamps_coverage.py --stock-phonemizer   # as before core/phonemize.py's repair
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HARD = REPO / "tests" / "data" / "hard_sentences.txt"


def stock_phonemizer() -> None:
    """Phonemize as before the repair: phonemizer's own line cutting, and only its first line."""
    from functools import lru_cache

    from phonemizer.backend import EspeakBackend

    import tts_accel.core.text.phonemize as ph
    import tts_accel.core.voices.kokoro.voice as kokoro_voice
    import tts_accel.core.voices.piper.voice as piper_voice

    ph._configure()
    stock = lru_cache(maxsize=8)(
        lambda lang: EspeakBackend(lang, preserve_punctuation=True, with_stress=True, language_switch="remove-flags")
    )

    @lru_cache(maxsize=4096)
    def first_line(text: str, language: str) -> str:
        with ph._LOCK:
            out = stock(language).phonemize([text], strip=True, njobs=1)
        return out[0] if out else ""

    piper_voice.phonemize = kokoro_voice.phonemize = first_line
    piper_voice._encode_cached.cache_clear()
    kokoro_voice._encode_cached.cache_clear()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--voice", default="piper-joe")
    ap.add_argument("--show", action="store_true", help="print every word that does not agree")
    ap.add_argument("--stock-phonemizer", action="store_true", help="measure the phonemizer before the repair")
    ap.add_argument("--json", type=Path, help="also write the rows here")
    args = ap.parse_args()
    if args.stock_phonemizer:
        stock_phonemizer()

    from tts_accel.core.text.chunking import chunk_text, normalize
    from tts_accel.core.text.samples import read_text
    from tts_accel.core.timestamps import align_words, text_words
    from tts_accel.core.timestamps.align import edit_distance, phonetic_words, sounds
    from tts_accel.core.timestamps.words import is_spoken
    from tts_accel.core.voices.registry import resolve_voice

    voice = resolve_voice(args.voice)
    sets = {"harvard": read_text("harvard"), "long": read_text("long"), "hard": HARD.read_text(encoding="utf-8")}
    rows = []
    for name, text in sets.items():
        c = dict.fromkeys("chunks words entry timed agrees closest one_to_one joined fallbacks".split(), 0)
        spent = 0.0
        for piece in chunk_text(normalize(text), voice.chunk_budget, voice.measure):
            ids = voice.encode(piece.text)
            if ids.size == 0:
                continue
            words = text_words(piece.text)
            t0 = time.perf_counter()
            sentence = voice.symbols(piece.text)
            own = [voice.symbols(w.token) for w in words]
            spans = align_words(own, sentence)
            spent += time.perf_counter() - t0
            mapped = voice.symbol_positions(sentence)
            c["fallbacks"] += int(not (len(mapped.ids) == len(ids) and (mapped.ids == ids).all()))
            c["chunks"] += 1
            c["words"] += len(words)
            c["entry"] += int(len(spans) == len(words))
            pieces = phonetic_words(sentence)
            c["one_to_one"] += int(len(pieces) == len(words))
            for k, (w, (a, b), o) in enumerate(zip(words, spans, own, strict=True)):
                got, want = sounds(sentence[a:b]), sounds(o)
                c["timed"] += int(any(r is not None for r in mapped.ranges[a:b]) or not is_spoken(w.word))
                ok = edit_distance(got, want) <= max(len(got), len(want)) / 2 if (got or want) else True
                near = [sounds(own[x]) for x in (k - 1, k + 1) if 0 <= x < len(own)]
                c["agrees"] += int(ok)
                closest = ok or (bool(got) and all(edit_distance(got, want) < edit_distance(got, n) for n in near))
                c["closest"] += int(closest)
                if not ok and args.show:
                    print(f"  {name}: {w.word!r}: got {sentence[a:b]!r}, alone {o!r}   | {piece.text[:60]}")
            for p in pieces:  # a joined group: one phonetic word shared by two or more text words
                owners = {k for k, (a, b) in enumerate(spans) if a < p.end and b > p.start and b > a}
                c["joined"] += int(len(owners) > 1)
        row = {"voice": args.voice, "set": name, **c}
        for key in ("entry", "one_to_one"):
            row[f"{key}_share"] = round(c[key] / max(c["chunks"], 1), 4)
        for key in ("timed", "agrees", "closest"):
            row[f"{key}_share"] = round(c[key] / max(c["words"], 1), 4)
        row["align_ms_per_word"] = round(1000 * spent / max(c["words"], 1), 3)
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
