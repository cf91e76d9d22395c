"""`tts batch` through the real process: real voice, real espeak-ng, real worker processes and files."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import soundfile as sf
from typer.testing import CliRunner

from tests.utils import cli_env, run_cli
from tts_accel.cli.app import app

ZERO = ["--noise-scale", "0", "--noise-w", "0"]
LINES = [
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
]


def manifest(outdir: Path) -> list[dict]:
    path = outdir / "manifest.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def check_files(outdir: Path, records: list[dict]) -> None:
    """Every manifest line names a whole, readable file with its recorded hash and duration."""
    for r in records:
        path = outdir / r["path"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == r["sha256"], r["path"]
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.subtype) == (22050, 1, "PCM_16")
        assert info.duration == pytest.approx(r["duration_s"], abs=1e-4) and info.duration > 0.3


def leftovers(outdir: Path) -> list[str]:
    return [p.name for p in outdir.rglob("*") if p.name.endswith(".part")]


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    err = proc.stderr.decode()
    assert "Traceback" not in err
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


def test_text_lines_become_one_file_each_with_a_manifest(tmp_path):
    src = tmp_path / "lines.txt"
    src.write_text(f"{LINES[0]}\n\n{LINES[1]}\n{LINES[2]}\n", encoding="utf-8")
    out = tmp_path / "out"
    proc = run_cli("batch", str(src), "-o", str(out), "--workers", "2", "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b""
    records = manifest(out)
    assert sorted(r["id"] for r in records) == ["1", "3", "4"]  # ids are line numbers; blank lines skipped
    assert sorted(p.name for p in out.iterdir()) == ["1.wav", "3.wav", "4.wav", "manifest.jsonl"]
    by_id = {r["id"]: r for r in records}
    assert by_id["3"]["text"] == LINES[1] and by_id["1"]["voice"] == "piper-joe" and by_id["4"]["path"] == "4.wav"
    assert all(r["sample_rate"] == 22050 for r in records)
    check_files(out, records)
    summary = proc.stderr.decode().strip().splitlines()[-1]
    assert summary.startswith("3 utterances (3 made, 0 failed)") and "real time" in summary and "2 workers" in summary


def test_csv_tsv_jsonl_and_stdin_give_the_same_files(tmp_path):
    rows = [("a1", LINES[0]), ("a2", LINES[1])]
    inputs = {
        "csv": ("c.csv", "id,text\n" + "".join(f'{i},"{t}"\n' for i, t in rows)),
        "tsv": ("t.tsv", "id\ttext\n" + "".join(f"{i}\t{t}\n" for i, t in rows)),
        "jsonl": ("j.jsonl", "".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in rows)),
    }
    hashes = {}
    for kind, (name, content) in inputs.items():
        src = tmp_path / name
        src.write_text(content, encoding="utf-8")
        out = tmp_path / kind
        proc = run_cli("batch", str(src), "-o", str(out), *ZERO, "--workers", "1")
        assert proc.returncode == 0, proc.stderr
        hashes[kind] = {r["id"]: r["sha256"] for r in manifest(out)}
    stdin_rows = "".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in rows).encode()
    proc = run_cli("batch", "-", "--input-format", "jsonl", "-o", str(tmp_path / "stdin"), *ZERO, "--workers", "1",
                   input=stdin_rows)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    hashes["stdin"] = {r["id"]: r["sha256"] for r in manifest(tmp_path / "stdin")}
    assert hashes["csv"] == hashes["tsv"] == hashes["jsonl"] == hashes["stdin"] and len(hashes["csv"]) == 2


def test_row_columns_override_the_options(tmp_path):
    src = tmp_path / "c.csv"
    src.write_text(f'id,text,speed,out\nslow,"{LINES[0]}",,\nfast,"{LINES[0]}",2,sub/fast.raw\n', encoding="utf-8")
    out = tmp_path / "out"
    args = ("--speed", "0.8", "--sentence-silence", "0", "--workers", "1")
    proc = run_cli("batch", str(src), "-o", str(out), *ZERO, *args)
    assert proc.returncode == 0, proc.stderr
    by_id = {r["id"]: r for r in manifest(out)}
    assert by_id["fast"]["path"] == "sub/fast.raw" and (out / "sub" / "fast.raw").is_file()
    assert not (out / "sub" / "fast.raw").read_bytes().startswith(b"RIFF")  # raw, chosen by the extension
    # speed 2 (the row's own) against 0.8 (the option): about half as long (measured 0.51)
    assert 0.3 < by_id["fast"]["duration_s"] / by_id["slow"]["duration_s"] < 0.6
    raw_seconds = (out / "sub" / "fast.raw").stat().st_size / 2 / 22050
    assert raw_seconds == pytest.approx(by_id["fast"]["duration_s"], abs=1e-4)


def test_bad_rows_fail_alone_with_their_line_and_exit_7(tmp_path):
    src = tmp_path / "lines.txt"
    src.write_bytes(f"{LINES[0]}\ncaf\xe9 au lait, in latin-1.\n... !!!\n{LINES[1]}\n".encode("latin-1"))
    out = tmp_path / "out"
    proc = run_cli("batch", str(src), "-o", str(out), "--workers", "1")
    assert proc.returncode == 7, proc.stderr
    assert "2 of 4 rows failed" in one_error_line(proc) and "errors.jsonl" in one_error_line(proc)
    assert sorted(r["id"] for r in manifest(out)) == ["1", "4"]
    errors = [json.loads(line) for line in (out / "errors.jsonl").read_text().splitlines()]
    assert [(e["id"], e["line"]) for e in errors] == [(None, 2), ("3", 3)]
    assert "not valid UTF-8" in errors[0]["error"] and "nothing to pronounce" in errors[1]["error"]
    assert "4 utterances (2 made, 2 failed)" in proc.stderr.decode()
    check_files(out, manifest(out))


@pytest.mark.parametrize(
    ("name", "content", "extra", "code", "message"),
    [
        ("c.csv", "id,words\n1,Hello.\n", [], 2, "no text column"),
        ("c.csv", "id,text\na,One.\nb,Two.\na,Three.\n", [], 2, "duplicate ids: 'a' (lines 2, 4)"),
        ("c.csv", "id,text\n../evil,One.\n", [], 2, "not safe file names"),
        ("c.csv", "id,text,out\na,One.,../../x.wav\n", [], 2, "must stay inside OUTDIR"),
        ("c.csv", "id,text,out\na,One.,/tmp/x.wav\n", [], 2, "is absolute"),
        ("l.txt", "Hello.\n", ["--voice", "/no/such/voice.onnx"], 3, "not found"),
        ("l.txt", "\n\n", [], 2, "no rows"),
        ("l.txt", "Hello.\n", ["--format", "mp4"], 2, "--format mp4"),
        ("l.txt", "Hello.\n", ["--speed", "0"], 2, "--speed 0.0 is out of range"),
        ("l.txt", "Hello.\n", ["--ray", "auto"], 2, "is relative"),
    ],
)
def test_bad_input_is_refused_before_anything_starts(tmp_path, name, content, extra, code, message):
    src = tmp_path / name
    src.write_text(content, encoding="utf-8")
    proc = run_cli("batch", name, "-o", "out", *extra, cwd=tmp_path)
    assert proc.returncode == code, proc.stderr
    assert message in one_error_line(proc)
    assert len(proc.stderr.decode().strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()  # refused before OUTDIR was even made


def test_a_voice_that_is_not_installed_is_refused_with_the_install_command(tmp_path, monkeypatch):
    from tts_accel.core.voices import base, registry

    real = registry.registry
    missing = base.VoiceEntry(
        name="missing-voice", family="piper", language="en-US", sample_rate=22050, package="no-such-voice-pkg",
        module="no_such_voice_module", install="pip install no-such-voice-pkg", files=list, load=lambda: None,
    )  # fmt: skip
    monkeypatch.setattr(registry, "registry", lambda: {**real(), "missing-voice": missing})
    src = tmp_path / "c.csv"
    src.write_text("id,text,voice\na,One.,\nb,Two.,missing-voice\n", encoding="utf-8")
    # --voice is the whole run's: refused before anything starts
    result = CliRunner().invoke(app, ["batch", str(src), "-o", str(tmp_path / "out"), "--voice", "missing-voice"])
    assert result.exit_code == 3
    assert "voice 'missing-voice' is not installed: pip install no-such-voice-pkg" in result.output
    assert not (tmp_path / "out").exists()
    # a row's own voice fails that row alone, with the install command in errors.jsonl
    result = CliRunner().invoke(app, ["batch", str(src), "-o", str(tmp_path / "out"), "--workers", "1", *ZERO])
    assert result.exit_code == 7, result.output
    assert [r["id"] for r in manifest(tmp_path / "out")] == ["a"]
    (error,) = [json.loads(x) for x in (tmp_path / "out" / "errors.jsonl").read_text().splitlines()]
    assert error["id"] == "b" and "pip install no-such-voice-pkg" in error["error"]


def test_outdir_that_cannot_be_made_exits_4(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    src = tmp_path / "l.txt"
    src.write_text("Hello.\n")
    proc = run_cli("batch", str(src), "-o", str(blocker / "out"), "--workers", "1")
    assert proc.returncode == 4 and "OUTDIR" in one_error_line(proc)


def test_resume_skips_intact_files_and_remakes_damaged_ones(tmp_path):
    src = tmp_path / "lines.txt"
    src.write_text("\n".join(LINES[:4]) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    args = ("batch", str(src), "-o", str(out), *ZERO, "--workers", "1")
    assert run_cli(*args).returncode == 0
    first = {r["id"]: r for r in manifest(out)}
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.glob("*.wav")}
    again = run_cli(*args)
    assert again.returncode == 0 and "4 utterances (0 made, 4 already done, 0 failed)" in again.stderr.decode()
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.wav")} == mtimes
    # damage one file (same size, other bytes), cut another short, delete a third
    data = bytearray((out / "1.wav").read_bytes())
    data[-10] ^= 0xFF
    (out / "1.wav").write_bytes(bytes(data))
    (out / "2.wav").write_bytes((out / "2.wav").read_bytes()[:1000])
    (out / "3.wav").unlink()
    third = run_cli(*args)
    assert third.returncode == 0 and "4 utterances (3 made, 1 already done, 0 failed)" in third.stderr.decode()
    records = manifest(out)
    assert sorted(r["id"] for r in records) == ["1", "2", "3", "4"]  # one line per id, none twice
    assert {r["id"]: r["sha256"] for r in records} == {i: r["sha256"] for i, r in first.items()}  # same audio
    check_files(out, records)
    # changed settings are not "done": a new speed makes every file again
    faster = run_cli(*args, "--speed", "1.3")
    assert faster.returncode == 0 and "(4 made, 0 failed)" in faster.stderr.decode()
    over = run_cli(*args, "--speed", "1.3", "--overwrite")
    assert over.returncode == 0 and "(4 made, 0 failed)" in over.stderr.decode()
    assert len(manifest(out)) == 4


def _start(src: Path, out: Path, workers: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tts_accel", "batch", str(src), "-o", str(out), "--workers", str(workers), "--threads",
         "1", *ZERO],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=cli_env(),
    )  # fmt: skip


def _wait_for_lines(proc: subprocess.Popen, out: Path, n: int) -> None:
    deadline = time.monotonic() + 120
    while len(manifest(out)) < n:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.05)


def _corpus(tmp_path: Path, n: int) -> Path:
    src = tmp_path / "lines.txt"
    src.write_text("\n".join(LINES[i % len(LINES)] + f" Number {i}." for i in range(n)) + "\n", encoding="utf-8")
    return src


def test_a_killed_run_resumes_without_making_any_file_twice(tmp_path):
    src, out = _corpus(tmp_path, 12), tmp_path / "out"
    proc = _start(src, out, workers=2)
    _wait_for_lines(proc, out, 2)
    proc.kill()  # SIGKILL: no handler runs; the workers die with the coordinator
    proc.wait(timeout=30)
    done_before = {r["id"] for r in manifest(out)}
    assert 2 <= len(done_before) < 12
    check_files(out, manifest(out))  # whatever the manifest says is done, is whole
    again = run_cli("batch", str(src), "-o", str(out), "--workers", "2", "--threads", "1", *ZERO)
    assert again.returncode == 0, again.stderr
    made = 12 - len(done_before)
    assert f"12 utterances ({made} made, {len(done_before)} already done, 0 failed)" in again.stderr.decode()
    records = manifest(out)
    assert sorted(int(r["id"]) for r in records) == list(range(1, 13))  # each id exactly once
    check_files(out, records)
    assert leftovers(out) == []  # temporary files of the killed run were removed


@pytest.mark.parametrize(("sig", "code", "workers"), [(signal.SIGTERM, 143, 2), (signal.SIGINT, 130, 1)])
def test_sigterm_and_sigint_stop_cleanly_after_the_files_in_flight(tmp_path, sig, code, workers):
    src, out = _corpus(tmp_path, 12), tmp_path / "out"
    proc = _start(src, out, workers=workers)
    _wait_for_lines(proc, out, 1)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    text = err.decode()
    assert "Traceback" not in text and "run the same command again to resume" in text
    records = manifest(out)
    assert 1 <= len(records) < 12
    check_files(out, records)
    assert leftovers(out) == []
    assert sorted(p.name for p in out.glob("*.wav")) == sorted(r["path"] for r in records)  # nothing unrecorded


def test_library_entry_point(tmp_path):
    import tts_accel

    result = tts_accel.batch([LINES[0], {"id": "x", "text": LINES[1]}], tmp_path / "out", noise_scale=0.0,
                             noise_w=0.0, workers=1)  # fmt: skip
    assert (result.done, result.failed, result.total) == (2, 0, 2) and result.audio_s > 3
    assert sorted(r["id"] for r in manifest(tmp_path / "out")) == ["1", "x"]


def test_ray_missing_prints_the_install_command(tmp_path):
    fake = tmp_path / "fake"
    (fake / "ray").mkdir(parents=True)
    (fake / "ray" / "__init__.py").write_text("raise ImportError('No module named ray')\n")
    src = tmp_path / "l.txt"
    src.write_text("Hello.\n")
    env = cli_env()
    env["PYTHONPATH"] = f"{fake}{os.pathsep}{env['PYTHONPATH']}"
    proc = subprocess.run([sys.executable, "-m", "tts_accel", "batch", str(src), "-o", str(tmp_path / "out"), "--ray"],
                          capture_output=True, env=env, timeout=120)  # fmt: skip
    assert proc.returncode == 2
    assert "pip install 'tts-accel[ray]'" in one_error_line(proc)


def test_full_disk_stops_with_exit_4_and_records_only_whole_files(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(mnt)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.decode().strip()}")
    try:
        src = _corpus(tmp_path, 8)
        proc = run_cli("batch", str(src), "-o", str(mnt / "out"), "--workers", "1", *ZERO)
        assert proc.returncode == 4, proc.stderr
        assert "No space left on device" in one_error_line(proc)
        records = manifest(mnt / "out")
        assert len(records) < 8
        check_files(mnt / "out", records)
        assert leftovers(mnt / "out") == []
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_acoustic_engine_runs_every_row_on_the_two_stage_path_and_joins_the_resume_key(tmp_path):
    """--acoustic ENGINE: each row runs the text stage, then the acoustic stage on that engine (the
    torch fp32 decoder: the same samples as ORT to 1e-6, on any CPU); the engine is part of each
    row's key, so a later run on the default engine remakes the rows instead of mixing engines."""
    pytest.importorskip("torch")
    src = tmp_path / "lines.txt"
    src.write_text(f"{LINES[0]}\n{LINES[1]}\n", encoding="utf-8")
    out = tmp_path / "out"
    proc = run_cli("batch", str(src), "-o", str(out), "--workers", "1", "--acoustic", "torch-fp32", *ZERO)
    assert proc.returncode == 0, proc.stderr
    staged = {r["id"]: r for r in manifest(out)}
    check_files(out, list(staged.values()))
    audio = {i: sf.read(out / r["path"], dtype="int16")[0] for i, r in staged.items()}

    proc = run_cli("batch", str(src), "-o", str(out), "--workers", "1", *ZERO)  # the default engine
    assert proc.returncode == 0, proc.stderr
    assert "2 made" in proc.stderr.decode()  # a new key: nothing kept from the torch run
    whole = {r["id"]: r for r in manifest(out)}
    for i, r in whole.items():
        assert r["key"] != staged[i]["key"]
        again = sf.read(out / r["path"], dtype="int16")[0]
        assert len(again) == len(audio[i])  # the same durations: windows join exactly
        assert abs(again.astype(int) - audio[i].astype(int)).max() <= 2


def test_worker_plans_follow_the_corpus_length_and_the_flag():
    from tts_accel.core.batch.adapter import engine_label, worker_plan
    from tts_accel.core.pipeline.planning import plan_for

    short = worker_plan("auto", "piper-joe", None, 1, corpus_chars=200)
    assert short.mode == "sequential" and engine_label(short) == "onnx:fp32"  # the keys manifests already have
    staged = worker_plan("auto", "piper-joe", None, 1, corpus_chars=200, acoustic="ort-fp32")
    assert staged.mode == "pipelined" and staged.workers == 1 and staged.acoustic == "ort-fp32"
    # a file has no listener: every row on the steady windows, none on the opening's small ones
    streamed = plan_for("pipelined", "piper-joe", workers=1, acoustic="ort-fp32").window_plan
    assert streamed is not None and streamed.opening != streamed.steady
    assert staged.window_plan is not None and staged.window_plan.opening == staged.window_plan.steady == streamed.steady
    assert worker_plan("sequential", "piper-joe", None, 1).mode == "sequential"
    assert worker_plan("auto", "piper-joe", None, 1, corpus_chars=200, acoustic="auto") == short  # as if not given


def test_timestamps_beside_each_file_resume_and_refusal(tmp_path):
    src = tmp_path / "rows.csv"
    src.write_text(f'id,text,out\nbirch,"{LINES[0]}",a/birch.wav\nglue,"{LINES[1]}",\n', encoding="utf-8")
    out = tmp_path / "out"
    proc = run_cli("batch", str(src), "-o", str(out), "--workers", "2", "--timestamps", "json", *ZERO)
    assert proc.returncode == 0, proc.stderr
    records = {r["id"]: r for r in manifest(out)}
    check_files(out, list(records.values()))
    assert records["birch"]["timestamps"] == "a/birch.json" and records["glue"]["timestamps"] == "glue.json"
    for rid, text in (("birch", LINES[0]), ("glue", LINES[1])):
        times = json.loads((out / records[rid]["timestamps"]).read_text(encoding="utf-8"))
        assert times["sample_rate"] == 22050
        assert [w["word"] for w in times["words"]] == text.rstrip(".").split()  # one entry per word
        starts = [w["start"] for w in times["words"]]
        assert starts == sorted(starts) and 0 <= starts[0] < 0.5
        assert times["words"][-1]["end"] <= records[rid]["duration_s"] + 1e-6
        assert len(times["sentences"]) == 1 and times["sentences"][0]["text"] == text

    (out / "glue.json").unlink()  # a lost timestamps file: that row alone is made again
    proc = run_cli("batch", str(src), "-o", str(out), "--timestamps", "json", *ZERO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.decode().strip().splitlines()[-1].startswith("2 utterances (1 made, 1 already done, 0 failed)")
    assert (out / "glue.json").exists() and leftovers(out) == []

    proc = run_cli("batch", str(src), "-o", str(tmp_path / "o2"), "--timestamps", "txt")
    assert proc.returncode == 2 and "--timestamps txt: use one of json, srt, vtt." in one_error_line(proc)
    assert not (tmp_path / "o2" / "birch.wav").exists()
