"""What every command shares (cli/common.py), through the real CLI: flags without a value type in
--help, nan and inf refused for every float option, tables whole when not on a terminal, counts
in agreement with their nouns."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from tests.utils import run_cli
from tts_accel.cli.app import app
from tts_accel.cli.common import plural

COMMANDS = [[], ["synth"], ["voices"], ["batch"], ["bench"], ["tune"], ["verify"], ["serve"],
            ["profile"], ["profile", "list"], ["profile", "show"], ["profile", "delete"]]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "tts")
def test_help_shows_no_value_type_on_a_flag(command):
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "--help" in result.output and "<bool>" not in result.output


def test_help_of_the_real_cli_shows_no_bool():
    done = run_cli("synth", "-h", timeout=60)
    assert done.returncode == 0 and b"--quiet" in done.stdout and b"<bool>" not in done.stdout


@pytest.mark.parametrize(
    "args",
    [["tune", "--budget", "nan"], ["tune", "--budget", "inf"], ["serve", "--grace", "-inf"],
     ["synth", "Hi.", "-o", "x.wav", "--speed", "nan"], ["batch", "in.csv", "-o", "out", "--volume", "inf"]],
    ids=lambda a: " ".join(a[:3]),
)  # fmt: skip
def test_nan_and_inf_are_refused_for_every_float_option(args, tmp_path):
    done = run_cli(*args, timeout=60, cwd=tmp_path)
    err = done.stderr.decode()
    assert done.returncode == 2, err
    assert len(err.strip().splitlines()) == 1 and "is not a number" in err and args[-2] in err
    assert list(tmp_path.iterdir()) == []  # refused before any work


def test_a_table_piped_keeps_every_column_and_name():
    done = run_cli("voices", timeout=60)
    out = done.stdout.decode()
    assert done.returncode == 0, done.stderr
    header = next(line for line in out.splitlines() if "name" in line)
    assert "install" in header  # squeezed to nothing at Rich's 80 columns before
    assert "…" not in out


def test_the_summary_counts_in_agreement():
    assert [plural(1, "chunk"), plural(2, "chunk"), plural(0, "chunk")] == ["1 chunk", "2 chunks", "0 chunks"]


def test_one_chunk_is_reported_as_one_chunk(tmp_path):
    done = run_cli("synth", "Hi.", "-o", str(tmp_path / "hi.wav"), timeout=120)
    err = done.stderr.decode()
    assert done.returncode == 0, err
    assert re.search(r", 1 chunk( in \d+ pieces)?\)", err), err  # never "1 chunks"
