"""Run the requested tiers of `tts verify` into one report."""

from __future__ import annotations

import time
from collections.abc import Callable

from tts_accel.core.errors import TierUnavailable
from tts_accel.core.verify.acoustic import AcousticRenders, tier2_rows, tier3_rows
from tts_accel.core.verify.data import Renders
from tts_accel.core.verify.e2e import tier3
from tts_accel.core.verify.kernels import tier1
from tts_accel.core.verify.parity import tier2
from tts_accel.core.verify.report import Row, VerifyReport, parse_tiers
from tts_accel.core.voices.registry import DEFAULT_VOICE


def run_verify(
    tiers: tuple[int, ...] | str = "all",
    voice: str = DEFAULT_VOICE,
    quick: bool = False,
    on_tier: Callable[[int, list[Row]], None] | None = None,
) -> VerifyReport:
    """Run the requested tiers; ``on_tier`` sees each tier's rows as soon as it is done."""
    if isinstance(tiers, str):
        tiers, explicit = parse_tiers(tiers)
    else:
        explicit = True
    report = VerifyReport(tuple(tiers), explicit, voice, quick)
    renders = Renders(voice, quick)  # audio shared by tiers 2 and 3: each mode synthesized once
    engines = AcousticRenders(voice, quick)  # the acoustic engines' audio, shared the same way
    runners = {
        1: lambda: tier1(quick),
        2: lambda: tier2(renders) + tier2_rows(engines),
        3: lambda: tier3(renders) + tier3_rows(engines),
    }
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
