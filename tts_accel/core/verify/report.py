"""The report vocabulary of `tts verify`, at the bottom of the package: rows, statuses, the
report. The tiers (``kernels``, ``parity``, ``e2e``) produce rows; ``run`` runs them; the CLI
alone decides the exit code from a report.
"""

from __future__ import annotations

import math
import platform
import time
from dataclasses import asdict, dataclass, field

from tts_accel import __version__
from tts_accel.core.errors import InputError

PASS, FAIL, SKIP, INFO = "pass", "fail", "skip", "info"
TIERS = (1, 2, 3)
TIER_NAMES = {1: "kernels", 2: "model parity", 3: "end to end (ASR)"}


@dataclass(frozen=True)
class Row:
    """One measured figure beside its threshold. ``value`` is None for a skipped item."""

    tier: int
    item: str  # what was checked: a kernel and dtype, a mode, a layer
    metric: str  # what was measured: "max abs diff", "WER %", "SNR dB"
    value: float | None
    threshold: str  # human-readable: "<= 10.0", "== 0", "" for informational rows
    status: str  # pass | fail | skip | info
    reason: str = ""  # why it failed or was skipped

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        if isinstance(self.value, float) and not math.isfinite(self.value):
            out["value"] = str(self.value)  # JSON has no inf/nan
        return out


def check(tier: int, item: str, metric: str, value: float, ok: bool, threshold: str, why: str = "") -> Row:
    return Row(tier, item, metric, value, threshold, PASS if ok else FAIL, "" if ok else why)


def skip(tier: int, item: str, reason: str) -> Row:
    return Row(tier, item, "", None, "", SKIP, reason)


@dataclass
class VerifyReport:
    tiers: tuple[int, ...]
    explicit: bool  # tiers named one by one (strict) rather than "all"
    voice: str
    quick: bool
    rows: list[Row] = field(default_factory=list)
    unavailable: dict[int, str] = field(default_factory=dict)  # tier -> why it could not run
    started: float = field(default_factory=time.time)
    wall_s: float = 0.0

    def tier_rows(self, tier: int) -> list[Row]:
        return [r for r in self.rows if r.tier == tier]

    def checked(self, tier: int) -> int:
        return sum(r.status in (PASS, FAIL) for r in self.tier_rows(tier))

    @property
    def failures(self) -> list[Row]:
        return [r for r in self.rows if r.status == FAIL]

    def not_run(self) -> dict[int, str]:
        """Tiers that checked nothing, with the reason (a tier that only skips did not run)."""
        out = dict(self.unavailable)
        for tier in self.tiers:
            if tier not in out and self.checked(tier) == 0:
                reasons = sorted({r.reason for r in self.tier_rows(tier) if r.reason})
                out[tier] = "; ".join(reasons) or "nothing to check"
        return out

    def missing_required(self) -> bool:
        """A tier that had to run did not: one named with ``--tier``, or every tier of ``all``
        (with ``--tier all`` a tier this machine cannot run is reported, not required)."""
        missing = self.not_run()
        return bool(missing) and (self.explicit or len(missing) == len(self.tiers))

    def to_dict(self) -> dict[str, object]:
        return {
            "tool": f"tts-accel {__version__}",
            "python": platform.python_version(),
            "machine": platform.machine(),
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
            "voice": self.voice,
            "quick": self.quick,
            "tiers": list(self.tiers),
            "wall_s": round(self.wall_s, 3),
            "not_run": {str(t): why for t, why in self.not_run().items()},
            "rows": [r.to_dict() for r in self.rows],
        }


def parse_tiers(spec: str) -> tuple[tuple[int, ...], bool]:
    """ "all" | "1" | "2,3" -> (tiers, explicit)."""
    if spec.strip().lower() == "all":
        return TIERS, False
    try:
        tiers = tuple(sorted({int(part) for part in spec.split(",") if part.strip()}))
    except ValueError:
        tiers = ()
    if not tiers or any(t not in TIERS for t in tiers):
        raise InputError(f"--tier {spec!r} is not a tier: use 1, 2, 3, a list such as 2,3, or all.")
    return tiers, True
