"""The same jobs on Ray: Ray Data ``map_batches`` over a pool of actors, one voice loaded per
actor, each actor reserving as many CPUs as it runs ONNX Runtime threads.

Actors write straight into OUTDIR, which on a cluster must be a folder every node sees at the
same absolute path (NFS, a shared volume); the driver (this process) keeps the manifest. The
actors run the very Worker the local processes run, so the files are byte for byte the same.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator

from tts_accel.core.batch.jobs import Job
from tts_accel.core.batch.local import StopFlag
from tts_accel.core.batch.worker import Outcome, Worker, WorkerConfig
from tts_accel.core.errors import InputError, ModelError

INSTALL = "pip install 'tts-accel[ray]'"
#: Jobs per Ray Data block: small blocks spread the work evenly over the actors.
JOBS_PER_BLOCK = 4


def import_ray():  # type: ignore[no-untyped-def]
    try:
        import ray
        import ray.data
    except ImportError:
        raise InputError(f"--ray needs Ray, which is not installed: {INSTALL}") from None
    return ray


class SynthActor:
    """A Ray Data callable class: constructed once per actor (the voice loads then)."""

    config: dict[str, object] = {}

    def __init__(self) -> None:
        self.worker = Worker(WorkerConfig(**self.config))  # type: ignore[arg-type]

    def __call__(self, batch: dict[str, object]) -> dict[str, list[str]]:
        jobs = [Job.from_json(str(blob)) for blob in batch["job"]]  # type: ignore[attr-defined]
        return {"outcome": [self.worker.run(job).to_json() for job in jobs]}


def _connect(ray, address: str, threads: int) -> bool:  # type: ignore[no-untyped-def]
    """Start or join a cluster; True when this call started Ray (and must stop it)."""
    if ray.is_initialized():
        return False
    # Ray's own notices (token set-up, progress-bar hints) would bury the one summary line.
    quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR}
    try:
        if address == "local":
            ray.init(address="local", object_store_memory=256 * 2**20, **quiet)
            return True
        ray.init(address=address, **quiet)
        return True
    except Exception as err:  # ConnectionError, RuntimeError, ValueError from Ray
        raise InputError(f"cannot reach the Ray cluster at {address!r}: {err}") from None


def run_ray(
    jobs: list[Job],
    config: WorkerConfig,
    address: str,
    actors: int | None,
    stop: StopFlag,
    on_shape: Callable[[int, int], None],
) -> Iterator[Outcome]:
    """Outcomes as the actors finish them; ``on_shape(actors, threads)`` once the pool is sized."""
    ray = import_ray()
    threads = max(1, config.threads)
    started = _connect(ray, address, threads)
    try:
        if not jobs:
            return
        cpus = int(ray.cluster_resources().get("CPU", 1))
        size = actors or max(1, cpus // threads)
        size = max(1, min(size, len(jobs)))
        on_shape(size, threads)
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        for name in ("ray.data", "ray"):
            logging.getLogger(name).setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", module=r"ray\.data\..*")
        warnings.filterwarnings("ignore", message=r".*ray_remote_args.*deprecated", module=__name__)
        blocks = min(len(jobs), max(size, -(-len(jobs) // JOBS_PER_BLOCK)))
        dataset = ray.data.from_items([{"job": j.to_json()} for j in jobs], override_num_blocks=blocks)
        # The config rides on a subclass (pickled by value with it), not as constructor arguments,
        # which Ray would keep in its object store and warn about on every run.
        actor = type("SynthActor", (SynthActor,), {"config": dict(config.__dict__)})
        dataset = dataset.map_batches(
            actor,
            batch_size=1,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=size),
            num_cpus=threads,
            # An actor that dies is not restarted: the run stops and the next one resumes. (With
            # restarts, Ray logs an error line about the pool's constructor arguments every run.)
            max_restarts=0,  # Ray's own advice; passing it warns of a future rename, silenced above
        )
        try:
            for row in dataset.iter_rows():
                yield Outcome.from_json(str(row["outcome"]))
                if stop.soft.is_set():  # in-flight files finish or stay temporary; not recorded
                    return
        except Exception as err:
            if type(err).__module__.startswith("ray"):
                raise ModelError(f"the Ray run failed: {str(err).splitlines()[0]}") from None
            raise
    finally:
        if started:
            ray.shutdown()
