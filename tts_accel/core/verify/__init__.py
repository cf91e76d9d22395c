"""`tts verify`: three parity tiers, each a list of flat result rows.

``report`` (rows, statuses, the report) is the bottom; ``data`` renders the Harvard sentences
once per mode; the tiers sit above them: ``kernels`` (1: every Triton kernel against its torch
reference), ``parity`` (2: every accelerated path against the sequential one, and a torch port
layer by layer), ``e2e`` (3: the whole pipeline through Whisper, word error rate); ``run`` runs
the tiers asked for. Thresholds and their reasons: docs/verify.md. Exit codes: tts_accel.cli.verify.
"""
