"""`tts serve`: one resident engine behind OpenAI's speech API and the Wyoming protocol.

* ``scheduler``: one queue of units (text stages, acoustic windows) for every request, served by
  the plan's workers, first audio first, then the stream with least audio buffered.
* ``engine``: the voices, loaded and warmed once, and each request turned into units.
* ``api``: an OpenAI speech request checked field by field (no web framework imported).
* ``http`` (FastAPI), ``wyoming``: the front ends; ``metrics``: Prometheus counters.
* ``server``: both front ends in one process, with a graceful stop.

Nothing in this package is imported by other commands; the web dependencies are the ``serve`` extra.
"""
