"""Bench rows: one per mode and text, flat, with the same fields in JSON and CSV."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tts_accel.core.bench import modes as bench
from tts_accel.core.errors import InputError


def test_parse_modes_defaults_and_precision_suffix() -> None:
    assert [c.name for c in bench.parse_modes(None)][:4] == ["sequential", "parallel", "batched", "pipelined"]
    cases = bench.parse_modes("sequential, pipelined+int8")
    assert [c.name for c in cases] == ["sequential", "pipelined+int8"]
    assert cases[1].plan.mode == "pipelined" and cases[1].plan.precision == "int8"


@pytest.mark.parametrize("spec", ["warp", "sequential+int4", "parallel,parallel"])
def test_parse_modes_refuses_bad_specs(spec: str) -> None:
    with pytest.raises(InputError):
        bench.parse_modes(spec)


def test_texts_come_from_env_then_shared_then_package(monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "short.txt").write_text("Just this.", encoding="utf-8")
    monkeypatch.setenv(bench.TEXTS_ENV, str(tmp_path))
    assert bench.load_texts(["short"]) == {"short": "Just this."}
    with pytest.raises(InputError, match="paragraph"):
        bench.load_texts(["paragraph"])
    monkeypatch.delenv(bench.TEXTS_ENV)
    assert set(bench.load_texts()) == {"short", "paragraph", "long"}
    packaged = Path(bench.__file__).resolve().parents[2] / "data" / "texts"
    for name in ("short", "paragraph", "long"):
        assert (packaged / f"{name}.txt").is_file()


@pytest.fixture(scope="module")
def rows() -> list[bench.BenchRow]:
    texts = {"short": "Hello there. This is a short test of the speech engine.", "two": "One. Two words."}
    return bench.run_bench(bench.parse_modes("sequential,pipelined"), texts, repeats=2)


def test_rows_cover_every_mode_and_text(rows: list[bench.BenchRow]) -> None:
    assert [(r.text, r.mode) for r in rows] == [
        ("short", "sequential"), ("short", "pipelined"), ("two", "sequential"), ("two", "pipelined"),
    ]  # fmt: skip
    for r in rows:
        assert r.rtf_p20 <= r.rtf <= r.rtf_p80
        assert 0 < r.ttfa_s <= r.wall_s
        assert r.audio_s > 0 and r.load_s > 0 and r.peak_rss_mb > 0 and r.cpu_util > 0
        assert "onnxruntime" in r.versions and r.machine and r.timestamp
    seq = [r for r in rows if r.mode == "sequential"]
    assert all(r.speedup == 1.0 for r in seq)
    # zero noise: every mode produces the same audio duration for a text
    assert rows[0].audio_s == rows[1].audio_s and rows[2].audio_s == rows[3].audio_s


def test_json_and_csv_are_flat_and_agree(rows: list[bench.BenchRow], tmp_path: Path) -> None:
    bench.write_json(rows, tmp_path / "b.json")
    bench.write_csv(rows, tmp_path / "b.csv")
    data = json.loads((tmp_path / "b.json").read_text())
    with open(tmp_path / "b.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    expected = ["mode", "text", "rtf", "rtf_p20", "rtf_p80", "wall_s", "ttfa_s", "audio_s", "cpu_util",
                "peak_rss_mb", "speedup", "machine", "versions", "timestamp"]  # fmt: skip
    assert set(expected) <= set(data[0]) and list(data[0]) == list(table[0])
    assert all(not isinstance(v, (dict, list)) for v in data[0].values())
    assert len(data) == len(table) == 4
    assert float(table[1]["rtf"]) == pytest.approx(data[1]["rtf"])


def test_repeats_must_be_positive() -> None:
    with pytest.raises(InputError, match="repeats"):
        bench.run_bench(bench.parse_modes("sequential"), {"t": "Hi."}, repeats=0)


def test_write_to_missing_folder_is_an_output_error(rows: list[bench.BenchRow], tmp_path: Path) -> None:
    from tts_accel.core.errors import OutputError

    with pytest.raises(OutputError):
        bench.write_json(rows, tmp_path / "nope" / "b.json")


def test_torch_modes_can_be_benched_and_apply_by_default_only_when_installed():
    import importlib.util

    from tts_accel.core.bench.modes import default_modes, parse_modes

    if importlib.util.find_spec("torch") is None:
        with pytest.raises(InputError, match=r"pip install 'tts-accel\[torch\]'"):
            parse_modes("torch")  # said before anything loads
    else:
        (case,) = parse_modes("torch")
        assert case.plan.backend == "torch" and case.plan.mode == "torch"
    assert ("torch" in default_modes()) == (importlib.util.find_spec("torch") is not None)
    assert "graph" not in default_modes() or importlib.util.find_spec("torch") is not None
