"""torch, imported the way the acoustic engines need it: OpenMP told to sleep, not spin, first.

A compiled bf16 window at 2 OpenMP threads ran 0.32-1.25x ONNX Runtime with libgomp's default
wait policy on the shared 2-vCPU dev VM and 3.4-3.5x with ``PASSIVE``, same run (docs/acoustic.md):
threads spinning at barriers while descheduled. libgomp reads the variable once, when torch loads
it, so it is set here, before the one ``import torch`` of this package, and only on this path
(the ONNX path never imports this module). A user's own setting wins; a process that imported
torch earlier keeps the policy it started with.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

__all__ = ["torch"]
