"""`tts batch --ray` on a real local Ray cluster, started once for the test session."""

from __future__ import annotations

import json
import logging

import pytest

from tests.cli.test_batch import LINES, ZERO, check_files, manifest
from tests.utils import run_cli

pytestmark = pytest.mark.ray
ray = pytest.importorskip("ray", reason="the ray extra is not installed: pip install 'tts-accel[ray]'")


@pytest.fixture(scope="session")
def ray_cluster():
    """A local cluster of 2 CPUs that every Ray test (and the CLI's `--ray auto`) joins."""
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=256 * 2**20, logging_level=logging.ERROR,
             log_to_driver=False)  # fmt: skip
    yield ray
    ray.shutdown()


def test_ray_writes_the_same_bytes_as_local_workers(tmp_path, ray_cluster):
    src = tmp_path / "lines.txt"
    src.write_text("\n".join([*LINES[:4], "... !!!"]) + "\n", encoding="utf-8")
    common = ("batch", str(src), *ZERO, "--threads", "1")
    local = run_cli(*common, "-o", str(tmp_path / "local"), "--workers", "2")
    on_ray = run_cli(*common, "-o", str(tmp_path / "ray"), "--ray", "auto")
    for proc in (local, on_ray):
        assert proc.returncode == 7, proc.stderr  # the unpronounceable row fails on both, alone
        assert "Traceback" not in proc.stderr.decode()
    assert "2 Ray actors x 1 thread" in on_ray.stderr.decode()
    records = {name: {r["id"]: r for r in manifest(tmp_path / name)} for name in ("local", "ray")}
    assert sorted(records["ray"]) == ["1", "2", "3", "4"]
    assert {i: r["sha256"] for i, r in records["ray"].items()} == {i: r["sha256"] for i, r in records["local"].items()}
    for rid in records["ray"]:
        assert (tmp_path / "ray" / f"{rid}.wav").read_bytes() == (tmp_path / "local" / f"{rid}.wav").read_bytes()
    check_files(tmp_path / "ray", list(records["ray"].values()))
    errors = [json.loads(x) for x in (tmp_path / "ray" / "errors.jsonl").read_text().splitlines()]
    assert [(e["id"], e["line"]) for e in errors] == [("5", 5)]


def test_library_on_ray_resumes(tmp_path, ray_cluster):
    import tts_accel

    items = [{"id": f"u{i}", "text": t} for i, t in enumerate(LINES[:3])]
    first = tts_accel.batch(items, tmp_path / "out", ray="auto", noise_scale=0.0, noise_w=0.0, threads=1)
    assert (first.done, first.failed, first.engine) == (3, 0, "ray")
    assert ray.is_initialized()  # a cluster the caller started stays up
    again = tts_accel.batch(items, tmp_path / "out", ray="auto", noise_scale=0.0, noise_w=0.0, threads=1)
    assert (again.done, again.skipped) == (0, 3)
    check_files(tmp_path / "out", manifest(tmp_path / "out"))
