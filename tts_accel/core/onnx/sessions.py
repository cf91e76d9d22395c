"""ONNX Runtime sessions for every family: options from the plan, and ORT's optimized graph
kept in the cache.

ORT's optimization of a graph (``optimized_model_filepath``) is saved under
``cache_dir()/optimized/``, keyed by the model's sha256, the optimization level, the ORT version
and the machine's fingerprint (it may hold hardware-specific kernels). Loading the saved copy
skips optimization: session creation 0.42 s -> 0.09 s on the dev VM. The copy is stamped with
its digest when written (``files.cache``); one that fails the check, or that ORT cannot load, is
deleted and the original is optimized again; temporary files of a killed build are removed on the
next build; a cache that cannot be written costs only speed.

Every model run of a synthesis goes through ``run``: a cancelled run (a signal) stops it in flight.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tts_accel.core.cancel import current
from tts_accel.core.errors import ModelError
from tts_accel.core.files.atomic import sweep_stale, temp_name
from tts_accel.core.files.cache import cache_dir, forget, model_digest, record, verified
from tts_accel.core.versions import ort_version

_OPT_LEVELS = {"disable": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC",
               "extended": "ORT_ENABLE_EXTENDED", "all": "ORT_ENABLE_ALL"}  # fmt: skip
#: Set to 1 to skip the optimized-graph cache (a cold start every time).
NO_CACHE_ENV = "TTS_ACCEL_NO_GRAPH_CACHE"


class SessionSettings(Protocol):
    """What a session reads of a plan (an ``ExecutionPlan`` is one)."""

    intra_op_threads: int
    inter_op_threads: int
    ort_execution_mode: str
    graph_optimization: str


@dataclass(frozen=True)
class Solo:
    """Session settings for a graph measured or run on its own (an acoustic engine in the lab, a
    decoder beside a compiled engine): ``threads`` intra-op threads, the plan's other defaults."""

    intra_op_threads: int = 1
    inter_op_threads: int = 1
    ort_execution_mode: str = "sequential"
    graph_optimization: str = "all"


def machine_key() -> str:
    """This machine's hardware fingerprint: optimized graphs may hold kernels only it runs."""
    from tts_accel.core.hardware.profile import this_machine

    return this_machine().fingerprint()[:16]


def optimized_path(model_path: Path, opt_level: str) -> Path:
    """Where ORT's optimized copy of ``model_path`` lives for this machine and ORT version."""
    key = f"{model_digest(model_path)[:20]}-{opt_level}-ort{ort_version()}-{machine_key()}"
    return cache_dir() / "optimized" / f"{key}.onnx"


def session_options(plan: SessionSettings):  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = plan.intra_op_threads
    so.inter_op_num_threads = plan.inter_op_threads
    so.execution_mode = (
        ort.ExecutionMode.ORT_PARALLEL if plan.ort_execution_mode == "parallel" else ort.ExecutionMode.ORT_SEQUENTIAL
    )
    so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, _OPT_LEVELS[plan.graph_optimization])
    so.log_severity_level = 3  # errors only: ORT's warnings would land on the user's terminal
    return so


def _session(path: Path, so):  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    return ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])


def _cached_session(model_path: Path, plan: SessionSettings, configure=None):  # type: ignore[no-untyped-def]
    """Load ORT's saved optimization of the graph for this machine, or optimize and save it."""
    import onnxruntime as ort

    def options():  # type: ignore[no-untyped-def]
        so = session_options(plan)
        if configure is not None:
            configure(so)
        return so

    try:
        cached = optimized_path(model_path, plan.graph_optimization)
    except OSError:
        return _session(model_path, options())
    if verified(cached):  # the bytes ORT wrote (files/cache.py): else optimized again
        so = options()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # done already
        try:
            return _session(cached, so)
        except Exception:  # stale (written by another ORT build): optimize from the original
            pass
    forget(cached)
    so = options()
    # ORT writes the optimized graph itself; it writes a temporary name that is renamed here,
    # so readers see the whole file or none.
    tmp = cached.with_name(temp_name(cached.name))
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        sweep_stale(cached.parent)  # what a build killed mid-way left (its process is gone)
        so.optimized_model_filepath = str(tmp)
    except OSError:
        pass
    session = _session(model_path, so)
    with contextlib.suppress(OSError):
        os.replace(tmp, cached)
        record(cached)
    return session


def create_session(model_path: Path, plan: SessionSettings, session_opts=None, configure=None):  # type: ignore[no-untyped-def]
    """A session for ``model_path`` with the plan's options (``configure(options)`` may add to
    them), through the optimized-graph cache; ``session_opts`` replaces both and the cache."""
    try:
        if session_opts is not None:
            return _session(model_path, session_opts)
        if plan.graph_optimization == "disable" or os.environ.get(NO_CACHE_ENV) == "1":
            so = session_options(plan)
            if configure is not None:
                configure(so)
            return _session(model_path, so)
        return _cached_session(model_path, plan, configure)
    except ModelError:
        raise
    except Exception as err:  # ORT raises its own exception types
        raise ModelError(f"could not load {model_path}: {err}. Reinstall the voice package.") from err


def stage_options(so) -> None:  # type: ignore[no-untyped-def]
    """ORT options every stage session adds to the plan's: no memory patterns. ORT plans one
    per input shape, and stages meet a new shape with nearly every window and sentence: a
    `tts synth` of long.txt peaked at 579 MiB with them, 472 MiB without, at the same speed
    (dev VM, 1 run each, under load)."""
    so.enable_mem_pattern = False


def stage_session(path: Path, plan: SessionSettings, configure=None):  # type: ignore[no-untyped-def]
    """A session for one stage graph: the plan's options, ``stage_options``, then ``configure``."""

    def options(so) -> None:  # type: ignore[no-untyped-def]
        stage_options(so)
        if configure is not None:
            configure(so)

    return create_session(Path(path), plan, configure=options)


def run(session, outputs: list[str] | None, feeds: dict[str, Any], failed: str) -> list[Any]:  # type: ignore[no-untyped-def]
    """``session.run(outputs, feeds)`` under the run's cancellation (``core.cancel``): a cancel
    aborts it in flight (``RunOptions.terminate``, honoured between the graph's nodes) and it
    raises the cancellation's error (``Terminated`` for SIGTERM), as does a run started after the
    cancel. Any other failure is a ModelError, ``failed`` naming what failed.
    """
    token = current()
    try:
        if token is None:
            return session.run(outputs, feeds)  # type: ignore[no-any-return]
        import onnxruntime as ort

        options = ort.RunOptions()
        with token.aborting(lambda: setattr(options, "terminate", True)):
            return session.run(outputs, feeds, options)  # type: ignore[no-any-return]
    except Exception as err:  # ORT raises its own exception types
        if token is not None and token.is_set():  # aborted, or refused to start: not a model error
            raise token.error() from None
        raise ModelError(f"{failed}: {err}") from err
