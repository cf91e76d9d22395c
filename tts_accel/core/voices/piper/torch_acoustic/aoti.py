"""AOTInductor packages on disk: built once per machine, loaded by every later process.

``AotiStore.get_or_build(key, export)`` returns a callable for ``key``: the package loaded from
``cache_dir()/torch/aoti`` when it is there, else compiled from ``export()`` and written
atomically (a temporary directory beside it, then a rename: a crash leaves no file under the
final name), under a per-key ``flock``, so two processes that need the same shape build it once
and the second loads what the first wrote. A file that does not load (truncated, foreign, from
another build) is removed and rebuilt. ``hits`` and ``builds`` count loads and compilations in
this process: the timing-free evidence that a later process reused an artifact.

Why AOTInductor and not torch.compile's own disk caches: with inductor's FX graph cache hitting,
a second process still paid 7.6 CPU-s per shape (dynamo tracing, AOT autograd) on the dev VM; a
package loads through torch's C++ loader in 0.006 CPU-s (docs/acoustic.md, tables S and L).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from tts_accel.core.files.atomic import sweep_stale, temp_name
from tts_accel.core.voices.piper.torch_acoustic._runtime import torch
from tts_accel.core.voices.piper.torch_acoustic.artifacts import ArtifactKey, aoti_dir, artifact_path

#: inductor's settings for CPU inference: freezing folds the weights into the graph and lets
#: inductor pre-pack them for oneDNN and fuse the pointwise ops into the convolutions.
INDUCTOR_CONFIGS: dict[str, object] = {"freezing": True}


class PackageRunner:
    """A loaded package called as ``runner(latent, valid) -> audio``, from any thread.

    Each call first makes the calling thread's OpenMP thread count torch's intra-op setting
    (``torch.set_num_threads``, which the engine sets to the package's baked thread count):
    OpenMP keeps that count per thread, and a thread that has not yet run an ATen op that
    initialises it (``at::internal::lazy_init_num_threads``, which ``torch.get_num_threads``
    runs) starts at OpenMP's default, one thread per CPU. A package's run does not initialise
    it, through ctypes or torch's own loader: a worker thread's windows ran their oneDNN
    convolutions on 2 OpenMP threads on the 2-vCPU dev VM (``omp_get_max_threads()`` 2 in the
    worker, 1 where the engine was made), oversubscribing the cores, and on avx512_bf16
    without AMX the 2-thread run changed the samples (max 1.2e-4 to 4.9e-4 on 16-frame
    windows peaking at 0.065) against the same package run on the package's one thread."""

    def __init__(self, run: Callable[[list], list], path: Path) -> None:
        import re
        import threading

        self._run = run
        self.path = path
        found = re.search(r"-t(\d+)-", path.name)  # the key bakes the thread count in: ...-L<n>-t<threads>-...
        self.threads = int(found.group(1)) if found else 1
        self._ready = threading.local()

    def __call__(self, *args):  # type: ignore[no-untyped-def]
        if not getattr(self._ready, "done", False):  # once per calling thread
            # this thread's OpenMP count := the package's; torch's lazy per-thread init alone gave
            # a fresh thread the default (one per CPU) when the process's setting had changed
            torch.set_num_threads(self.threads)
            self._ready.done = True
        return self._run(list(args))[0]


def load_package(path: Path, runners: int = 1) -> PackageRunner:
    """Load a ``.pt2``: its compiled library called through its C entry points with ctypes
    (``SoRunner``: the GIL is released for the whole window, so ``runners`` windows run at once
    on as many cores), else torch's C++ loader, else ``torch._inductor.aoti_load_package``.

    Why not torch's loader first: its ``run`` keeps the GIL for the whole call. On the dev VM two
    threads calling it got 1.0x one thread's throughput (400-frame windows; two processes got
    1.87x), and while a window ran on one worker the other worker could not even start its text
    stage: `tts synth` of long.txt used 1.46 of 2 cores. Through ctypes, 2.2x (identical samples).
    The loaders are private API, kept safe by the pinned torch (its version is in every key) and
    the fallbacks."""
    try:
        return SoRunner(path, runners)
    except Exception:  # a package laid out otherwise, a missing entry point: torch's loaders
        pass
    cpp = getattr(getattr(torch._C, "_aoti", None), "AOTIModelPackageLoader", None)
    if cpp is not None:
        # (path, model name, run_single_threaded, num_runners, device_index: -1 is the CPU)
        return PackageRunner(cpp(str(path), "model", False, max(1, runners), -1).run, path)
    from torch import _inductor

    loaded = _inductor.aoti_load_package(str(path))
    return PackageRunner(lambda args: [loaded(*args)], path)


def library_path(path: Path) -> Path:
    """Where a package's model library is extracted: beside it, ``NAME.pt2.so``."""
    return Path(f"{path}.so")


class SoRunner(PackageRunner):
    """The package's model library (``data/aotinductor/model/*.so``, extracted once beside the
    ``.pt2`` as ``NAME.pt2.so``, atomically) driven through AOTInductor's C ABI: a container of
    ``runners`` model instances (``AOTInductorModelContainerCreateWithDevice``), and
    ``AOTInductorModelContainerRun`` per call, which takes ownership of the input handles; the
    output handles become tensors (``alloc_tensors_by_stealing_from_void_ptrs``). ctypes drops the
    GIL around the foreign call. 600 calls left RSS flat (no handle leaks)."""

    def __init__(self, path: Path, runners: int = 1) -> None:
        import ctypes

        from tts_accel.core.files.atomic import write_atomic

        so = library_path(path)
        if not so.is_file() or so.stat().st_mtime_ns < Path(path).stat().st_mtime_ns:  # none, or a rebuilt .pt2
            import zipfile

            with zipfile.ZipFile(path) as zf:
                (member,) = [n for n in zf.namelist() if "/data/aotinductor/" in n and n.endswith(".so")]
                write_atomic(so, zf.read(member))
        lib = ctypes.CDLL(str(so))
        handle = ctypes.c_void_p
        create = lib.AOTInductorModelContainerCreateWithDevice
        create.argtypes = [ctypes.POINTER(handle), ctypes.c_size_t, ctypes.c_char_p, ctypes.c_char_p]
        create.restype = ctypes.c_int
        run = lib.AOTInductorModelContainerRun
        run.argtypes = [handle, ctypes.POINTER(handle), ctypes.c_size_t, ctypes.POINTER(handle), ctypes.c_size_t,
                        handle, handle]  # fmt: skip
        run.restype = ctypes.c_int
        count = lib.AOTInductorModelContainerGetNumOutputs
        count.argtypes = [handle, ctypes.POINTER(ctypes.c_size_t)]
        count.restype = ctypes.c_int
        container = handle()
        if create(ctypes.byref(container), max(1, runners), b"cpu", None) != 0:
            raise RuntimeError(f"AOTInductor could not create a model container from {so}")
        outputs = ctypes.c_size_t()
        if count(container, ctypes.byref(outputs)) != 0:
            raise RuntimeError(f"AOTInductor could not count the outputs of {so}")
        pointer = ctypes.pythonapi.PyCapsule_GetPointer
        pointer.restype, pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
        capsule = ctypes.pythonapi.PyCapsule_New
        capsule.restype, capsule.argtypes = ctypes.py_object, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
        aoti = torch._C._aoti
        n_out = outputs.value

        def call(args: list) -> list:
            tensors = [a.contiguous() for a in args]
            held = aoti.unsafe_alloc_void_ptrs_from_tensors(tensors)  # new handles; the run frees them
            ins = (handle * len(tensors))(*[pointer(c, None) for c in held])
            outs = (handle * n_out)()
            if run(container, ins, len(tensors), outs, n_out, None, None) != 0:
                raise RuntimeError(f"AOTInductor's model {so} failed on inputs {[tuple(t.shape) for t in tensors]}")
            return aoti.alloc_tensors_by_stealing_from_void_ptrs([capsule(o, None, None) for o in outs])

        self._lib = lib  # the library stays loaded while the runner lives
        super().__init__(call, path)


class AotiStore:
    def __init__(self, root: Path | None = None, runners: int = 1) -> None:
        self.dir = aoti_dir(root)
        self.root = root
        self.runners = runners
        self.hits = 0
        self.builds = 0
        self.compile_s = 0.0  # CPU seconds this process spent compiling (its own and its compiler's)

    def path(self, key: ArtifactKey) -> Path:
        return artifact_path(key, self.root)

    @contextlib.contextmanager
    def locked(self, key: ArtifactKey):  # type: ignore[no-untyped-def]
        """Hold ``key``'s lock file while checking and building: without it, one process read a
        package while another replaced it."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / f".{key.stem()}.lock", "a+b") as fh:
            try:
                import fcntl
            except ImportError:  # pragma: no cover - no POSIX locks: builds may race, each still atomic
                yield
                return
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def get_or_build(
        self, key: ArtifactKey, export: Callable[[], object], on_build: Callable[[ArtifactKey], None] | None = None
    ) -> PackageRunner:
        """The loaded package for ``key``: from disk when it is there, else built from ``export()``
        (a callable returning a ``torch.export`` program) under the key's lock, then loaded.
        ``on_build(key)`` is told before a compilation starts (the CLI says so on stderr)."""
        runner = self.load(key)
        if runner is not None:
            return runner
        with self.locked(key):
            runner = self.load(key)  # another process may have built it while this one waited
            if runner is not None:
                return runner
            if on_build is not None:
                on_build(key)
            with _quiet_export():
                self.build(key, export())
            runner = self.load(key)
            if runner is None:
                raise RuntimeError(f"AOTInductor could not load the package it just built: {self.path(key)}")
            self.hits -= 1  # the load right after a build is not a cache hit
            return runner

    def load(self, key: ArtifactKey) -> PackageRunner | None:
        """The loaded package, or None when there is none usable (a broken file is removed)."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            runner = load_package(path, self.runners)
        except Exception:  # truncated or foreign file: rebuild rather than fail the run
            for stale in (path, library_path(path)):
                with contextlib.suppress(OSError):
                    stale.unlink()
            return None
        self.hits += 1
        return runner

    def build(self, key: ArtifactKey, exported: object) -> Path:
        """Compile ``exported`` into the package for ``key``, atomically."""
        import time

        from torch import _inductor

        self.dir.mkdir(parents=True, exist_ok=True)
        dst = self.path(key)
        # named like every temporary file of ours (with this process's pid), so that a later
        # build sweeps what a build stopped by a signal or kill -9 left (files/atomic.sweep_stale)
        sweep_stale(self.dir)
        tmpdir = self.dir / temp_name(key.stem())
        tmpdir.mkdir()
        start = _cpu_s()
        t0 = time.perf_counter()
        try:
            tmp = tmpdir / dst.name
            _inductor.aoti_compile_and_package(exported, package_path=str(tmp), inductor_configs=dict(INDUCTOR_CONFIGS))
            os.replace(tmp, dst)
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)
        self.builds += 1
        self.compile_s += max(_cpu_s() - start, 0.0) or (time.perf_counter() - t0)
        return dst


@contextlib.contextmanager
def _quiet_export():  # type: ignore[no-untyped-def]
    """torch.export and inductor warn, through ``copyreg``, that an ``isinstance(treespec,
    LeafSpec)`` check inside torch is deprecated: a note to torch's own developers that `tts
    tune` printed a few times per shape. Silenced here only; every other warning still shows."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated", category=FutureWarning
        )
        yield


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (inductor runs the C++ compiler)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system
