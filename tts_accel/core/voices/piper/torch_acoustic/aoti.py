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
import tempfile
from collections.abc import Callable
from pathlib import Path

from tts_accel.core.voices.piper.torch_acoustic._runtime import torch
from tts_accel.core.voices.piper.torch_acoustic.artifacts import ArtifactKey, aoti_dir, artifact_path

#: inductor's settings for CPU inference: freezing folds the weights into the graph and lets
#: inductor pre-pack them for oneDNN and fuse the pointwise ops into the convolutions.
INDUCTOR_CONFIGS: dict[str, object] = {"freezing": True}


class PackageRunner:
    """A loaded package called as ``runner(latent, valid) -> audio``."""

    def __init__(self, run: Callable[[list], list], path: Path) -> None:
        self._run = run
        self.path = path

    def __call__(self, *args):  # type: ignore[no-untyped-def]
        return self._run(list(args))[0]


def load_package(path: Path, runners: int = 1) -> PackageRunner:
    """Load a ``.pt2`` through torch's C++ loader (``run`` releases the GIL; ``runners`` calls may
    run at once): ``torch._inductor.aoti_load_package`` first imports torch._inductor (1.1 CPU-s
    on the dev VM) for 0.15 s of loading, the C++ loader takes 0.006 s. The loader is private
    API, kept safe by the pinned torch (its version is in every key) and this fallback."""
    cpp = getattr(getattr(torch._C, "_aoti", None), "AOTIModelPackageLoader", None)
    if cpp is not None:
        # (path, model name, run_single_threaded, num_runners, device_index: -1 is the CPU)
        return PackageRunner(cpp(str(path), "model", False, max(1, runners), -1).run, path)
    from torch import _inductor

    loaded = _inductor.aoti_load_package(str(path))
    return PackageRunner(lambda args: [loaded(*args)], path)


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
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        self.hits += 1
        return runner

    def build(self, key: ArtifactKey, exported: object) -> Path:
        """Compile ``exported`` into the package for ``key``, atomically."""
        import time

        from torch import _inductor

        self.dir.mkdir(parents=True, exist_ok=True)
        dst = self.path(key)
        tmpdir = Path(tempfile.mkdtemp(dir=self.dir, prefix=f".{key.stem()}."))
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


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (inductor runs the C++ compiler)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system
