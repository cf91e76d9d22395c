"""Voices: the interface and registry entry at the bottom (``base``), one package per family
(``piper``, ``kokoro``), and the registry that lists the families (``registry``).

This package's own import loads nothing: import ``tts_accel.core.voices.registry`` for
``resolve_voice`` / ``registry`` / ``family_of`` and ``tts_accel.core.voices.base`` for the
interface.
"""
