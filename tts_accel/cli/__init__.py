"""The `tts` command line: parse, call core, render. No logic lives here."""
