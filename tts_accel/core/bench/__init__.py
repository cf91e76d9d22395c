"""`tts bench`: execution modes side by side, the acoustic engines side by side, and the measuring both share."""
