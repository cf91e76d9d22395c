"""Corpus readers and the checks made before a batch starts (no voice needed)."""

from __future__ import annotations

import json

import pytest

from tts_accel.core.batch.inputs import corpus_from_items, read_corpus
from tts_accel.core.batch.jobs import Defaults, Job, build_jobs, unsafe_id, unsafe_out
from tts_accel.core.errors import InputError

FORMATS = ("wav", "raw")
DEFAULTS = Defaults(voice="piper-joe")


def write(tmp_path, name: str, data: bytes | str):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def test_text_lines_use_line_numbers_as_ids_and_skip_blank_lines(tmp_path):
    src = write(tmp_path, "a.txt", "\ufeffFirst line.\n\n   \nSecond line.\r\nThird.")
    corpus = read_corpus(src)
    assert [(r.id, r.line, r.text) for r in corpus.rows] == [
        ("1", 1, "First line."), ("4", 4, "Second line."), ("5", 5, "Third."),
    ]  # fmt: skip
    assert corpus.errors == []


def test_invalid_utf8_fails_only_its_line(tmp_path):
    src = write(tmp_path, "a.txt", b"Good one.\ncaf\xe9 latin-1.\nGood two.\n")
    corpus = read_corpus(src)
    assert [r.id for r in corpus.rows] == ["1", "3"]
    assert [(e.line, "not valid UTF-8" in e.error) for e in corpus.errors] == [(2, True)]


def test_csv_tsv_and_jsonl_read_the_same_rows(tmp_path):
    csv_ = write(tmp_path, "a.csv", 'id,text,speed,out\nx1,"Hello, world.",1.5,sub/x1.wav\nx2,Bye.,,\n')
    tsv = write(tmp_path, "a.tsv", "id\ttext\tspeed\tout\nx1\tHello, world.\t1.5\tsub/x1.wav\nx2\tBye.\t\t\n")
    rows = [{"id": "x1", "text": "Hello, world.", "speed": 1.5, "out": "sub/x1.wav"}, {"id": "x2", "text": "Bye."}]
    jsonl = write(tmp_path, "a.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    results = []
    for src in (csv_, tsv, jsonl):
        jobs, errors = build_jobs(read_corpus(src), DEFAULTS, FORMATS)
        assert errors == []
        results.append([(j.id, j.text, j.speed, j.path) for j in jobs])
    assert results[0] == results[1] == results[2] == [
        ("x1", "Hello, world.", 1.5, "sub/x1.wav"), ("x2", "Bye.", 1.0, "x2.wav"),
    ]  # fmt: skip


def test_row_columns_override_the_options(tmp_path):
    src = write(tmp_path, "a.csv", "id,text,voice,noise_scale,noise_w,lang\na,Hi.,other,0.1,0.2,en-us\nb,Yo.,,,,\n")
    defaults = Defaults(voice="piper-joe", noise_scale=0.5, noise_w=0.6, speed=1.2, volume=2.0)
    a, b = build_jobs(read_corpus(src), defaults, FORMATS)[0]
    assert (a.voice, a.noise_scale, a.noise_w, a.lang, a.speed, a.volume) == ("other", 0.1, 0.2, "en-us", 1.2, 2.0)
    assert (b.voice, b.noise_scale, b.noise_w, b.lang) == ("piper-joe", 0.5, 0.6, None)


def test_missing_text_column_is_refused(tmp_path):
    with pytest.raises(InputError, match="no text column"):
        read_corpus(write(tmp_path, "a.csv", "id,words\n1,Hello.\n"))
    with pytest.raises(InputError, match='no "text" key'):
        read_corpus(write(tmp_path, "a.jsonl", '{"id": 1, "words": "Hello."}\n'))


def test_empty_texts_bad_values_and_bad_json_fail_their_rows_only(tmp_path):
    src = write(tmp_path, "a.jsonl", '{"id": "a", "text": ""}\n{"id": "b", "text": "Ok.", "speed": "fast"}\nnot json\n'
                '{"id": "d", "text": "Ok.", "speed": 50}\n{"id": "e", "text": "Fine."}\n')  # fmt: skip
    corpus = read_corpus(src)
    jobs, errors = build_jobs(corpus, DEFAULTS, FORMATS)
    assert [j.id for j in jobs] == ["e"]
    by_line = {e.line: e.error for e in errors}
    assert sorted(by_line) == [1, 2, 3, 4]
    assert "empty text" in by_line[1] and "not a number" in by_line[2]
    assert "not valid JSON" in by_line[3] and "--speed 50.0 is out of range" in by_line[4]


def test_duplicate_ids_are_refused_listing_them(tmp_path):
    src = write(tmp_path, "a.csv", "id,text\na,One.\nb,Two.\na,Three.\nb,Four.\nc,Five.\n")
    with pytest.raises(InputError, match=r"duplicate ids: 'a' \(lines 2, 4\), 'b' \(lines 3, 5\)"):
        build_jobs(read_corpus(src), DEFAULTS, FORMATS)


@pytest.mark.parametrize("rid", ["../x", "a/b", ".hidden", "..", "tab\there", "x" * 201])
def test_unsafe_ids_are_refused(rid):
    assert unsafe_id(rid) is not None
    with pytest.raises(InputError, match="not safe file names"):
        build_jobs(corpus_from_items([{"id": rid, "text": "Hi."}]), DEFAULTS, FORMATS)


@pytest.mark.parametrize("out", ["../x.wav", "a/../../x.wav", "/tmp/x.wav", "~/x.wav", "C:/x.wav", "a/.b/c.wav"])
def test_out_paths_that_leave_outdir_are_refused(out):
    assert unsafe_out(out) is not None
    with pytest.raises(InputError, match="must stay inside OUTDIR"):
        build_jobs(corpus_from_items([{"id": "a", "text": "Hi.", "out": out}]), DEFAULTS, FORMATS)


def test_safe_names_pass():
    assert unsafe_id("utt_0001-a.b") is None and unsafe_id("日本語") is None
    assert unsafe_out("chapter1/part 2.wav") is None and unsafe_out("a/./b.wav") is None


def test_two_rows_on_one_file_are_refused():
    items = [{"id": "a", "text": "One."}, {"id": "b", "text": "Two.", "out": "a.wav"}]
    with pytest.raises(InputError, match="write the same file"):
        build_jobs(corpus_from_items(items), DEFAULTS, FORMATS)


def test_out_extension_picks_the_format_and_unknown_audio_formats_fail_the_row():
    items = [{"id": "a", "text": "One.", "out": "x/a.raw"}, {"id": "b", "text": "Two.", "out": "b.mp3"},
             {"id": "c", "text": "Three.", "out": "c"}]  # fmt: skip
    jobs, errors = build_jobs(corpus_from_items(items), DEFAULTS, FORMATS)
    assert [(j.path, j.fmt) for j in jobs] == [("x/a.raw", "raw"), ("c.wav", "wav")]
    assert "mp3 cannot be written here" in errors[0].error


def test_resume_key_follows_what_changes_the_audio():
    job = build_jobs(corpus_from_items(["Hello."]), DEFAULTS, FORMATS)[0][0]
    again = Job.from_json(job.to_json())
    assert again == job and again.key("onnx:fp32") == job.key("onnx:fp32")
    faster = build_jobs(corpus_from_items(["Hello."]), Defaults(voice="piper-joe", speed=1.5), FORMATS)[0][0]
    assert faster.key("onnx:fp32") != job.key("onnx:fp32") and job.key("onnx:int8") != job.key("onnx:fp32")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["in.txt", "--ray"], ["in.txt", "--ray=local"]),
        (["--ray", "in.txt", "-o", "o"], ["--ray=local", "in.txt", "-o", "o"]),
        (["in.txt", "--ray", "auto"], ["in.txt", "--ray", "auto"]),
        (["in.txt", "--ray", "ray://head:10001"], ["in.txt", "--ray", "ray://head:10001"]),
        (["in.txt", "--ray", "10.0.0.5:6379"], ["in.txt", "--ray", "10.0.0.5:6379"]),
        (["in.txt", "--ray", "--workers", "2"], ["in.txt", "--ray=local", "--workers", "2"]),
    ],
)
def test_bare_ray_flag_means_a_local_ray(args, expected):
    from tts_accel.cli.batch import ray_flag_value

    assert ray_flag_value(args) == expected


def test_manifest_read_ignores_a_line_cut_short_and_keeps_the_last_line_per_id(tmp_path):
    from tts_accel.core.batch.manifest import Manifest

    (tmp_path / "manifest.jsonl").write_text('{"id": "a", "n": 1}\n{"id": "b"}\n{"id": "a", "n": 2}\n{"id": "c", "sha')
    records, clean = Manifest(tmp_path).read()
    assert records == {"a": {"id": "a", "n": 2}, "b": {"id": "b"}} and not clean
    (tmp_path / "manifest.jsonl").write_text('{"id": "a"}\n{"id": "b"}\n')
    assert Manifest(tmp_path).read() == ({"a": {"id": "a"}, "b": {"id": "b"}}, True)
