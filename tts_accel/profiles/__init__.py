"""Execution-plan profiles: shipped presets (*.toml) and user profiles written by `tts tune`."""
