"""What a run may write, checked before it starts (tts_accel.core.files.paths)."""

from __future__ import annotations

import os

import pytest

from tts_accel.core.errors import InputError, OutputError
from tts_accel.core.files.paths import check_output_file, escape_reason, refuse_same_file, same_file


def test_same_file_sees_through_links_and_hard_links(tmp_path):
    a = tmp_path / "a.txt"
    a.write_text("text")
    (tmp_path / "soft").symlink_to(a)
    os.link(a, tmp_path / "hard")
    (tmp_path / "other").write_text("text")
    assert same_file(a, tmp_path / "soft") and same_file(a, tmp_path / "hard")
    assert not same_file(a, tmp_path / "other") and not same_file(a, tmp_path / "missing")
    with open(a, "rb") as fh:
        assert same_file(fh.fileno(), tmp_path / "hard")  # an open descriptor (stdout) too


def test_devices_are_never_the_same_file(tmp_path):
    # reading and writing one device (a null sink) destroys nothing: only regular files count
    assert not same_file("/dev/null", "/dev/null")


def test_refuse_same_file_names_the_output_and_the_input(tmp_path):
    src = tmp_path / "p.txt"
    src.write_text("hello")
    (tmp_path / "link.wav").symlink_to(src)
    with pytest.raises(InputError, match=r"-o link.wav is the same file as the input p.txt"):
        refuse_same_file([("-o out.wav", tmp_path / "out.wav"), ("-o link.wav", tmp_path / "link.wav")],
                         [("p.txt", src)])  # fmt: skip
    refuse_same_file([("-o out.wav", tmp_path / "out.wav")], [("p.txt", src)])  # a new file: fine


def test_escape_reason_finds_links_and_files_in_the_way(tmp_path):
    out, elsewhere = tmp_path / "OUT", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "link").symlink_to(elsewhere)
    (out / "victim.wav").symlink_to(elsewhere / "victim.txt")
    (out / "file").write_text("x")
    (out / "dir.wav").mkdir()
    assert "symbolic link link ->" in escape_reason(out, "link/evil.wav")
    assert "symbolic link victim.wav ->" in escape_reason(out, "victim.wav")
    assert "file to be a folder" in escape_reason(out, "file/x.wav")
    assert escape_reason(out, "dir.wav") == "is a folder"
    assert escape_reason(out, "new/deeper/x.wav") is None and escape_reason(out, "a.wav") is None


def test_check_output_file_refuses_before_the_work(tmp_path):
    check_output_file(tmp_path / "r.json", "--json")
    check_output_file(tmp_path / "p.png", "--plot", {"png", "svg"})
    with pytest.raises(InputError, match=r"--plot .*p.xyz: unknown extension .xyz; use .png, .svg"):
        check_output_file(tmp_path / "p.xyz", "--plot", {"png", "svg"})
    with pytest.raises(OutputError, match="does not exist"):
        check_output_file(tmp_path / "no" / "r.json", "--json")
    with pytest.raises(OutputError, match="is a folder"):
        check_output_file(tmp_path, "--csv")
