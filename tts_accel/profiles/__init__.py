"""Shipped execution-plan presets (``*.toml``, package data). Their schema, the tuned profiles
`tts tune` writes and the store live in ``tts_accel.core.plan.profiles``."""
