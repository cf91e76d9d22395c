"""Property: whatever rows a corpus holds (CSV, JSONL or text lines, with odd ids, out paths and
voices), `tts batch` ends in 0, 2 or 7 with at most one error line, never a traceback, never a
file written outside OUTDIR (OUTDIR holds a symlink to a folder outside and one to a file
outside), never a temporary file left behind.

Each example is a real process (a voice load and a few short rows, about 3-6 s), so CI runs 6
examples; TTS_ACCEL_FUZZ_EXAMPLES=100 explores more (the same variable as tests/cli/test_synth_fuzz.py)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cli.test_synth_fuzz import CONTROLS, word
from tests.utils import cli_env, symlink_traps

EXAMPLES = int(os.environ.get("TTS_ACCEL_FUZZ_EXAMPLES", "6"))

HOSTILE_PATHS = ["link/evil.wav", "link/a/b.wav", "victim.wav", "victim", "../x.wav", "a/../../x.wav",
                 "/tmp/x.wav", "~/x.wav", "a\\..\\..\\x.wav", "manifest.jsonl", "errors", ".tts-batch.lock",
                 "sub/", "x.mp4", ".hidden.wav", "C:x.wav", "a//b.wav", "./y.wav", ""]  # fmt: skip
HOSTILE_VOICES = ["piper-joe", "nobody", "/etc/passwd", "../v.onnx", "voices/none.onnx", "link/v.onnx",
                  "~/v.onnx", "passwd", ".", "/", ""]  # fmt: skip
odd = st.text(st.characters(exclude_categories=("Cs",)), max_size=12) | st.text(st.sampled_from(CONTROLS), max_size=3)
ids = st.sampled_from(["..", ".", "a/b", "../x", "link", "victim", "manifest", "~", "-", " ", "1"]) | word | odd
outs = st.sampled_from(HOSTILE_PATHS) | odd
voices = st.sampled_from(HOSTILE_VOICES) | odd
texts = st.sampled_from(["Hi.", "Yes.", "", " ", "\x00", "Ok then."]) | word
rows = st.lists(
    st.fixed_dictionaries({"id": ids, "text": texts}, optional={"out": outs, "voice": voices}), min_size=1, max_size=4
)


def _corpus(kind: str, records: list[dict[str, str]]) -> bytes:
    if kind == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
    if kind == "txt":
        return "".join(r["text"].replace("\n", " ") + "\n" for r in records).encode("utf-8")
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["id", "text", "out", "voice"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return buf.getvalue().encode("utf-8")


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file() and not p.is_symlink()}


@settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(["csv", "jsonl", "txt"]), records=rows)
def test_any_corpus_ends_cleanly_and_writes_only_below_outdir(kind, records):
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        outside, out = root / "outside", root / "OUT"
        outside.mkdir()
        out.mkdir()
        symlink_traps(out, outside)
        src = root / f"in.{kind}"
        src.write_bytes(_corpus(kind, records))
        before = {k: v for k, v in _snapshot(root).items() if not k.startswith("OUT/")}
        proc = subprocess.run(
            [sys.executable, "-m", "tts_accel", "batch", str(src), "-o", str(out), "--workers", "1", "-q"],
            stdin=subprocess.DEVNULL, capture_output=True, env=cli_env(), timeout=300, cwd=root,
        )  # fmt: skip
        err = proc.stderr.decode()
        assert "Traceback" not in err and "internal error" not in err, err
        assert proc.returncode in (0, 2, 7), f"exit {proc.returncode}: {err!r} for {records!r}"
        assert len([ln for ln in err.splitlines() if ln.startswith("error:")]) == (proc.returncode != 0), err
        after = {k: v for k, v in _snapshot(root).items() if not k.startswith("OUT/")}
        assert after == before, f"written outside OUTDIR: {sorted(set(after) ^ set(before))}"
        assert not [p for p in out.rglob("*") if p.name.endswith(".part")]
