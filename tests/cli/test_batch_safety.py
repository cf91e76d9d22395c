"""`tts batch` writes only below OUTDIR and never over its input, through the real process: rows
through a symlink fail alone (errors.jsonl), OUTDIR's own files are never opened through a link,
an input inside OUTDIR is refused (exit 2), a row's voice path is read beside the input and an
unusable one fails that row, a killed worker leaves no temporary file, an endless device as the
input is refused in bounded memory."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.test_batch import LINES, ZERO, check_files, leftovers, manifest, one_error_line
from tests.utils import cli_env, private_device, run_cli, symlink_traps


def errors(out: Path) -> dict[str, str]:
    path = out / "errors.jsonl"
    return {e["id"]: e["error"] for e in map(json.loads, path.read_text().splitlines())} if path.exists() else {}


def test_rows_through_symlinks_fail_alone_and_nothing_is_written_outside(tmp_path):
    out, elsewhere = tmp_path / "OUT", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    symlink_traps(out, elsewhere)
    src = tmp_path / "c.csv"
    src.write_text(
        f"id,text,out\nevil,{LINES[0]},link/evil.wav\ndeep,{LINES[1]},link/a/b.wav\nvictim,{LINES[2]},\n"
        f"ok,{LINES[3]},sub/ok.wav\n"
    )
    proc = run_cli("batch", str(src), "-o", str(out), "--workers", "1", *ZERO)
    assert proc.returncode == 7, proc.stderr
    assert sorted(os.listdir(elsewhere)) == ["victim.txt"] and (elsewhere / "victim.txt").read_text() == "keep"
    failed = errors(out)
    assert sorted(failed) == ["deep", "evil", "victim"]
    assert "goes through the symbolic link link ->" in failed["evil"]
    assert "goes through the symbolic link victim.wav ->" in failed["victim"]
    assert [r["id"] for r in manifest(out)] == ["ok"]
    check_files(out, manifest(out))


@pytest.mark.parametrize("name", ["manifest.jsonl", "errors.jsonl", ".tts-batch.lock"])
def test_outdirs_own_files_are_never_opened_through_a_link(tmp_path, name):
    out, outside = tmp_path / "OUT", tmp_path / "outside.txt"
    out.mkdir()
    outside.write_text("keep")
    (out / name).symlink_to(outside)
    src = tmp_path / "c.csv"
    src.write_text("id,text\na,Hello.\nb,x,y\n")  # b has 3 fields and fails: errors.jsonl is written
    proc = run_cli("batch", str(src), "-o", str(out), "--workers", "1", *ZERO)
    assert proc.returncode == 4
    assert f"{name} is a symbolic link: remove it" in one_error_line(proc)
    assert outside.read_text() == "keep" and sorted(os.listdir(out)) == [name]  # refused before any work


def test_an_input_inside_outdir_is_refused_before_work(tmp_path):
    out = tmp_path / "OUT"
    out.mkdir()
    src = out / "1.wav"  # row 1 of a text input writes 1.wav: the input itself
    src.write_text("Hello there.\n")
    proc = run_cli("batch", str(src), "-o", str(out))
    assert proc.returncode == 2
    assert "is the same file as the input" in one_error_line(proc)
    assert src.read_text() == "Hello there.\n" and os.listdir(out) == ["1.wav"]
    with open(src, "rb") as stdin:  # the same file, given on stdin
        proc = subprocess.run([sys.executable, "-m", "tts_accel", "batch", "-", "-o", str(out)], stdin=stdin,
                              capture_output=True, env=cli_env(), timeout=300)  # fmt: skip
    assert proc.returncode == 2 and "the same file as the input stdin" in one_error_line(proc)
    assert src.read_text() == "Hello there.\n" and os.listdir(out) == ["1.wav"]


def test_a_rows_voice_path_is_read_beside_the_input_and_a_bad_one_fails_that_row(tmp_path, piper_voice):
    corpus = tmp_path / "corpus"
    (corpus / "voices").mkdir(parents=True)
    model = Path(piper_voice.model_path)
    (corpus / "voices" / "joe.onnx").symlink_to(model)
    (corpus / "voices" / "joe.onnx.json").symlink_to(Path(f"{model}.json"))
    src = corpus / "c.csv"
    src.write_text(
        f"id,text,voice\nrel,{LINES[0]},voices/joe.onnx\nname,{LINES[1]},nobody\n"
        f"passwd,{LINES[2]},/etc/passwd\nmissing,{LINES[3]},voices/none.onnx\nplain,{LINES[4]},\n"
    )
    proc = run_cli("batch", str(src), "-o", "out", "--workers", "1", *ZERO, cwd=tmp_path)  # cwd is not corpus/
    assert proc.returncode == 7, proc.stderr
    out = tmp_path / "out"
    by_id = {r["id"]: r for r in manifest(out)}
    assert sorted(by_id) == ["plain", "rel"]
    assert by_id["rel"]["voice"] == str(corpus / "voices" / "joe.onnx")
    failed = errors(out)
    assert "unknown voice 'nobody'" in failed["name"] and "piper-joe" in failed["name"]
    assert "'/etc/passwd' is not a voice file" in failed["passwd"]
    assert "voices/none.onnx not found" in failed["missing"]
    check_files(out, list(by_id.values()))


def test_a_killed_workers_temporary_file_is_removed_when_the_run_ends(tmp_path):
    src = tmp_path / "lines.txt"
    src.write_text("\n".join(" ".join(LINES) + f" Number {i}." for i in range(6)) + "\n")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "tts_accel", "batch", str(src), "-o", str(out),
                             "--workers", "2", "--threads", "1", "-q", *ZERO],
                            stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, env=cli_env())  # fmt: skip
    deadline, pid = time.monotonic() + 180, None
    while pid is None:
        assert time.monotonic() < deadline and proc.poll() is None
        parts = leftovers(out) if out.exists() else []
        found = [m for p in parts if (m := re.search(r"\.tts-(\d+)-", p))]
        pid = int(found[0].group(1)) if found else None
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)  # a worker dies mid-file
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 5, err
    assert b"a worker process died" in err
    assert leftovers(out) == []


def test_an_endless_device_as_the_input_is_refused(tmp_path):
    zero = private_device(tmp_path / "zero", 1, 5, 0o444)  # a private /dev/zero, never the real one
    proc = run_cli("batch", str(zero), "-o", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "gave more than 256 MiB: save the corpus to a file" in one_error_line(proc)
    assert not (tmp_path / "out").exists()
