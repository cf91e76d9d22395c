"""`tts serve`: one resident engine behind OpenAI's speech API (HTTP) and the Wyoming protocol."""

from __future__ import annotations

import importlib
from typing import Annotated

import typer

from tts_accel.cli.common import err_console, error_boundary
from tts_accel.core.errors import InputError
from tts_accel.core.voices.registry import DEFAULT_VOICE

SERVE_INSTALL = "pip install 'tts-accel[serve]'"
SERVE_MODULES = ("fastapi", "uvicorn", "wyoming", "prometheus_client")
WYOMING_DEFAULT = "tcp://127.0.0.1:10200"
LOOPBACK = ("127.0.0.1", "::1", "localhost")

EXAMPLES = """

[b]Examples[/b]

[cyan]tts serve[/]   (http://127.0.0.1:8880: POST /v1/audio/speech, docs at /docs)

[cyan]tts serve --voice kokoro-jf_alpha --wyoming[/]   (also Wyoming on tcp://127.0.0.1:10200, for Home Assistant)

[cyan]TTS_ACCEL_API_KEY=secret tts serve --host 0.0.0.0[/]   (Bearer key on every route but /health)

[cyan]tts serve --voice-map alloy=piper-joe --max-queue 16[/]
"""


def missing_modules() -> list[str]:
    missing = []
    for module in SERVE_MODULES:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    return missing


def _voice_map(pairs: list[str]) -> dict[str, str]:
    table: dict[str, str] = {}
    for pair in pairs:
        name, sep, voice = pair.partition("=")
        if not sep or not name.strip() or not voice.strip():
            raise InputError(f"--voice-map {pair!r}: give NAME=VOICE, e.g. --voice-map alloy={DEFAULT_VOICE}.")
        table[name.strip()] = voice.strip()
    return table


def _positive(flag: str, value: float, lo: float = 1) -> None:
    if not value >= lo:
        raise InputError(f"{flag} {value} is too small: use at least {lo}.")


def _check_free(host: str, port: int) -> None:
    """Refuse a port another process holds before loading anything (uvicorn would exit mid-start)."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as err:
        raise InputError(f"--host {host}: {err.strerror or err}; give an address of this machine.") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as err:
            raise InputError(f"cannot listen on {host}:{port}: {err.strerror}; choose another --port.") from None


@error_boundary
def serve_command(
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (HTTP). Loopback by default.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="HTTP port.")] = 8880,
    default_voice: Annotated[
        str, typer.Option("--default-voice", help="The voice a request gets when it names none (or an OpenAI name).")
    ] = DEFAULT_VOICE,
    voices: Annotated[
        list[str] | None,
        typer.Option("--voice", help="Also load this installed voice at start (repeat); others load on first use."),
    ] = None,
    max_voices: Annotated[int, typer.Option("--max-voices", help="Voices kept loaded at once (least used go).")] = 4,
    voice_map: Annotated[
        list[str] | None,
        typer.Option(
            "--voice-map", help="OpenAI voice NAME=VOICE (repeat); every OpenAI name maps to the default voice."
        ),
    ] = None,
    mode: Annotated[
        str, typer.Option("--mode", help="Execution mode, as for tts synth; auto lets the plan choose.")
    ] = "auto",
    acoustic: Annotated[
        str | None, typer.Option("--acoustic", help="Acoustic-stage engine, as for tts synth (docs/acoustic.md).")
    ] = None,
    threads: Annotated[int | None, typer.Option("--threads", help="ONNX Runtime intra-op threads per run.")] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Units (text stages, windows) run at once, over every request.")
    ] = None,
    max_batch: Annotated[
        int | None,
        typer.Option(
            "--max-batch",
            help="Decoder windows of equal shape from different requests run as one call (already waiting "
            "ones only). Default: 1 on the CPU, 4 on a GPU (docs/serve.md).",
        ),
    ] = None,
    explain: Annotated[bool, typer.Option("--explain", help="Print the execution plan, then exit.")] = False,
    max_queue: Annotated[
        int, typer.Option("--max-queue", help="Requests admitted at once; past it HTTP 429 / a Wyoming error.")
    ] = 32,
    max_input_chars: Annotated[
        int, typer.Option("--max-input-chars", help="Longest input text (HTTP 413 past it).")
    ] = 4096,
    request_timeout: Annotated[
        float, typer.Option("--request-timeout", help="Seconds a request may take before it is cancelled.")
    ] = 300.0,
    grace: Annotated[
        float, typer.Option("--grace", help="On SIGTERM/Ctrl-C, seconds the requests in flight get to finish.")
    ] = 10.0,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            envvar="TTS_ACCEL_API_KEY",
            show_envvar=True,
            help="Require Authorization: Bearer KEY on every HTTP route but /health.",
        ),
    ] = None,
    wyoming: Annotated[
        bool, typer.Option("--wyoming", help=f"Also serve the Wyoming protocol (on {WYOMING_DEFAULT} by default).")
    ] = False,
    wyoming_uri: Annotated[
        str | None,
        typer.Option(
            "--wyoming-uri", help="Where Wyoming listens: tcp://HOST:PORT (implies --wyoming).", show_default=False
        ),
    ] = None,
    wyoming_allow_remote: Annotated[
        bool, typer.Option("--wyoming-allow-remote", help="Let --wyoming listen beyond loopback (no auth in Wyoming).")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log every refused request (one line each).")
    ] = False,
) -> None:
    """Serve speech over HTTP (OpenAI's /v1/audio/speech) and, with --wyoming, the Wyoming protocol."""
    missing = missing_modules()
    if missing:
        raise InputError(f"tts serve needs {', '.join(missing)} (the serve extra): {SERVE_INSTALL}")
    if not 0 < port < 65536:
        raise InputError(f"--port {port}: use 1 to 65535.")
    for flag, value in (
        ("--max-voices", max_voices),
        ("--max-queue", max_queue),
        ("--max-input-chars", max_input_chars),
    ):
        _positive(flag, value)
    if max_batch is not None:
        _positive("--max-batch", max_batch)
    _positive("--request-timeout", request_timeout, 0.1)
    _positive("--grace", grace, 0)
    mapping = _voice_map(voice_map or [])

    from tts_accel.core.serve.engine import Engine, EngineSettings
    from tts_accel.core.serve.http import HttpConfig

    if wyoming_uri is not None or wyoming:
        from tts_accel.core.serve.wyoming import check_uri

        wyoming_uri = check_uri(wyoming_uri or WYOMING_DEFAULT, wyoming_allow_remote)
    settings = EngineSettings(
        voice=default_voice,
        preload=tuple(voices or ()),
        max_voices=max_voices,
        mode=mode,
        acoustic=acoustic,
        threads=threads,
        workers=workers,
        max_queue=max_queue,
        max_batch=max_batch,
    )
    for voice in mapping.values():
        Engine.check_voice(voice)  # a map to a voice that is not installed is refused now, not per request
    if explain:
        from tts_accel.cli.render import explain_table

        err_console.print(explain_table(Engine(settings).plan))
        return
    if host not in LOOPBACK and not api_key:
        err_console.print(
            f"warning: listening on {host} without --api-key: anyone who can reach it may use it.",
            markup=False,
            soft_wrap=True,
        )
    import logging

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="tts serve: %(message)s")
    from tts_accel.core.serve.server import Listen, run

    _check_free(host, port)
    engine = Engine(settings)  # voices checked, plan resolved: a bad flag is refused before listening
    config = HttpConfig(
        api_key=api_key, max_input_chars=max_input_chars, request_timeout=request_timeout, voice_map=mapping
    )
    code = run(
        engine, config, Listen(host, port, wyoming_uri, grace), lambda line: err_console.print(line, markup=False)
    )
    if code:
        err_console.print(f"stopped: requests still in flight after --grace {grace:g} s were cut short.", markup=False)
        raise typer.Exit(code)


serve_command.__doc__ = (serve_command.__doc__ or "") + EXAMPLES
