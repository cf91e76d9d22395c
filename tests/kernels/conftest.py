"""Kernel tests run on CPU tensors through the Triton interpreter when there is no GPU.

TRITON_INTERPRET must be set before triton is first imported, so it is set here, at collection.
"""

from __future__ import annotations

import os


def _no_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return not torch.cuda.is_available()


if _no_cuda():
    os.environ.setdefault("TRITON_INTERPRET", "1")
