from __future__ import annotations

import os

import pytest

# Triton kernels run on the CPU under its interpreter, which must be chosen before triton is
# first imported, whichever test imports it first (tests/kernels/conftest.py says the same).
os.environ.setdefault("TRITON_INTERPRET", "1")
# pytest-xdist's workers inherit COLUMNS=80 / LINES=24 from execnet; a user's pipe has neither, and
# the CLI's consoles size tables from COLUMNS (cli/common.NOT_A_TERMINAL_WIDTH otherwise).
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)

from tts_accel.core.pipeline.synthesizer import Synthesizer
from tts_accel.core.voices.params import SynthParams


@pytest.fixture(scope="session")
def joe() -> Synthesizer:
    """The real default voice on the real ONNX Runtime backend, loaded once."""
    return Synthesizer("piper-joe")


@pytest.fixture
def zero_noise() -> SynthParams:
    return SynthParams(noise_scale=0.0, noise_w=0.0)


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory, monkeypatch):
    """User config/cache dirs go to a temporary folder: tests never touch the real ones."""
    base = tmp_path_factory.getbasetemp()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(base / "xdg-config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(base / "xdg-cache"))


@pytest.fixture(scope="session")
def graph_cache_dir(tmp_path_factory):
    """One cache of derived ONNX graphs for the session: built once, the suite stays fast."""
    return tmp_path_factory.mktemp("graph-cache")


@pytest.fixture(autouse=True)
def _isolated_graph_cache(monkeypatch, graph_cache_dir):
    monkeypatch.setenv("TTS_ACCEL_CACHE_DIR", str(graph_cache_dir))


@pytest.fixture
def config_home(monkeypatch, tmp_path):
    """XDG_CONFIG_HOME of this test alone: tuned profiles written here vanish with it."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config"


# --- two-stage Piper (the split graphs of the real joe voice) ---------------------------------------


@pytest.fixture(scope="session")
def piper_voice():
    """The real joe voice (front-end and files), without a backend."""
    from tts_accel.core.voices.registry import resolve_voice

    return resolve_voice("piper-joe")


@pytest.fixture(scope="session")
def split_graphs(piper_voice, tmp_path_factory):
    """joe split into text, flow and decoder graphs once per test session."""
    from tts_accel.core.voices.piper.split import split_graph

    return split_graph(piper_voice.model_path, tmp_path_factory.mktemp("split"))


@pytest.fixture(scope="session")
def stages(split_graphs):
    """The split stages on ONNX Runtime, one thread, with the Piper family's window plan."""
    from tts_accel.core.acoustic.ort import OrtDecoderEngine
    from tts_accel.core.acoustic.windows import WindowPlan
    from tts_accel.core.plan.model import ExecutionPlan
    from tts_accel.core.voices.piper import FAMILY
    from tts_accel.core.voices.piper.stages import AcousticStage, PiperStages, TextStage

    plan = ExecutionPlan(intra_op_threads=1)
    decoder = OrtDecoderEngine(split_graphs.decoder, plan)
    acoustic = AcousticStage(split_graphs.flow, decoder, plan)
    return PiperStages(TextStage(split_graphs.text, plan), acoustic, WindowPlan.parse(FAMILY.windows))


@pytest.fixture(scope="session")
def monolithic(piper_voice):
    """The user's own graph, untouched, as a function (ids, scales) -> samples."""
    import numpy as np
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    session = ort.InferenceSession(str(piper_voice.model_path), so, providers=["CPUExecutionProvider"])

    def run(ids, scales=(0.0, 1.0, 0.0)):  # type: ignore[no-untyped-def]
        feeds = {"input": ids[np.newaxis], "input_lengths": np.array([len(ids)], dtype=np.int64),
                 "scales": np.array(scales, dtype=np.float32)}  # fmt: skip
        return session.run(None, feeds)[0].reshape(-1)

    return run


# --- the two passes of `make test` ---------------------------------------------------------------
#: Where the base pass (no extras installed) writes the node id of every test it skipped, one a
#: line, for the extras pass to run (``make test``): each test runs in the pass that has what it
#: needs, once, instead of the extras pass repeating every base test.
SKIPPED_FILE_ENV = "TTS_ACCEL_SKIPPED_FILE"


_RECORDS = True  # False in pytest-xdist's controller: its workers record their own skips


def pytest_configure(config) -> None:  # type: ignore[no-untyped-def]
    global _RECORDS
    _RECORDS = hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None)


def pytest_sessionstart(session) -> None:  # type: ignore[no-untyped-def]
    import os

    path = os.environ.get(SKIPPED_FILE_ENV)
    if path and not hasattr(session.config, "workerinput"):
        open(path, "w").close()  # this pass's list, not an earlier one's (made before any worker starts)


def _record_skip(nodeid: str) -> None:
    import os

    path = os.environ.get(SKIPPED_FILE_ENV)
    if path and _RECORDS:
        # one short O_APPEND write a line, so workers do not interleave; each worker collects every
        # module, so a module's own skip may come twice (make dedupes the list)
        with open(path, "a", encoding="utf-8") as out:
            out.write(nodeid + "\n")


def pytest_runtest_logreport(report) -> None:  # type: ignore[no-untyped-def]
    if report.skipped and report.when in ("setup", "call"):
        _record_skip(report.nodeid)


def pytest_collectreport(report) -> None:  # type: ignore[no-untyped-def]
    """A module that skips itself at import (``importorskip`` of an extra): all of it runs later."""
    if report.skipped and report.nodeid:
        _record_skip(report.nodeid)
