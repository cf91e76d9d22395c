"""`tts verify`: three parity tiers, each a list of flat result rows.

Tier 1 checks every Triton kernel against its torch reference, tier 2 every accelerated
path against the sequential one on the same ids, tier 3 the whole pipeline through a real
speech recognizer (word error rate). Thresholds and their reasons: docs/verify.md.
"""

from __future__ import annotations

import math
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from tts_accel import __version__
from tts_accel.core.errors import InputError, TTSError
from tts_accel.core.voices import DEFAULT_VOICE

PASS, FAIL, SKIP, INFO = "pass", "fail", "skip", "info"
TIERS = (1, 2, 3)
TIER_NAMES = {1: "kernels", 2: "model parity", 3: "end to end (ASR)"}

EXIT_OK, EXIT_FAILED, EXIT_UNAVAILABLE = 0, 1, 6


class TierUnavailable(TTSError):
    """A tier cannot run here at all (an extra is missing); ``str`` says why and how to fix it."""

    exit_code = EXIT_UNAVAILABLE


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

    @property
    def exit_code(self) -> int:
        """1 when any item fails; else 6 when a tier could not run; else 0.

        With ``--tier all`` a tier that cannot run on this machine (no torch, no eval extra)
        is reported but only turns the exit code to 6 when no tier ran at all.
        """
        if self.failures:
            return EXIT_FAILED
        missing = self.not_run()
        if missing and (self.explicit or len(missing) == len(self.tiers)):
            return EXIT_UNAVAILABLE
        return EXIT_OK

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
            "exit_code": self.exit_code,
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


def run_verify(
    tiers: tuple[int, ...] | str = "all",
    voice: str = DEFAULT_VOICE,
    quick: bool = False,
    on_tier: Callable[[int, list[Row]], None] | None = None,
) -> VerifyReport:
    """Run the requested tiers; ``on_tier`` sees each tier's rows as soon as it is done."""
    from tts_accel.core.verify_e2e import tier3
    from tts_accel.core.verify_kernels import tier1
    from tts_accel.core.verify_parity import Renders, tier2

    if isinstance(tiers, str):
        tiers, explicit = parse_tiers(tiers)
    else:
        explicit = True
    report = VerifyReport(tuple(tiers), explicit, voice, quick)
    renders = Renders(voice, quick)  # audio shared by tiers 2 and 3: each mode synthesized once
    runners = {1: lambda: tier1(quick), 2: lambda: tier2(renders), 3: lambda: tier3(renders)}
    clock = time.perf_counter()
    for tier in report.tiers:
        try:
            rows = runners[tier]()
        except TierUnavailable as err:
            report.unavailable[tier] = str(err)
            rows = []
        report.rows.extend(rows)
        if on_tier is not None:
            on_tier(tier, rows)
    report.wall_s = time.perf_counter() - clock
    return report
