"""`tidewell console`: serve the therapist's console and run the sessions it starts.

The web server runs on a thread of its own; sessions run on the main thread exactly as
`tidewell run` runs them (window, sound, log), with the console's commands fed in as controls.
A console that disconnects, reconnects or doubles up changes nothing in the session.
"""

from __future__ import annotations

import io
import queue
import socket
import sqlite3
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from tidewell.core.errors import ResourceUnavailable, TidewellError
from tidewell.core.terminal import say as terminal_say
from tidewell.core.words import status_words
from tidewell.engine.console.auth import Pairing, spaced
from tidewell.engine.console.hub import ConsoleHub, StartRequest
from tidewell.engine.console.live_preview import SessionLiveView
from tidewell.engine.session import RunOptions, StopRequest, run_session
from tidewell.sensors.spec import parse_sensor
from tidewell.sessions.program import ProgramError, builtin_programs, load_program
from tidewell.sessions.store import SessionStore

SERVER_START_TIMEOUT_S = 15.0


@dataclass
class ConsoleOptions:
    port: int = 8765
    lan: bool = False
    headless: bool = False
    sensor: str = "sim"  # one word: sim, ble or ble:ADDRESS (sensors/spec.py parse_sensor)
    adapter: str | None = None
    audio_device: str | None = None
    seed: int = 0
    target: str = "auto"  # or "xr": sessions play in the headset (engine/xr)
    sound_when_headset_off: str = "continue"
    live_view: bool = True  # the client's view on the console (engine/console/live_preview.py); --no-live-view
    say: Callable[[str], None] = terminal_say  # control characters removed (core/terminal.py)


def serve_console(options: ConsoleOptions, store: SessionStore | None = None) -> int:
    from tidewell.engine.console.app import ConsoleConfig, build_app
    from tidewell.engine.console.certificate import console_certificate
    from tidewell.engine.console.guards import LOOPBACK_HOSTS
    from tidewell.engine.console.thumbnails import scene_thumbnails

    say = options.say
    if parse_sensor(options.sensor)[0] == "ble":
        from tidewell.sensors.ble import check_bluetooth

        check_bluetooth(options.adapter)  # no Bluetooth: say so now, not at each session the console starts
    store = store or SessionStore()
    hub = ConsoleHub(live_view=options.live_view)
    address = {"url": None}

    def announce(code: str) -> None:
        if address["url"] is None:
            return  # the first code is shown once the server listens
        say(f"console pairing code: {spaced(code)}  (one device; a new code after each pairing)")

    pairing = Pairing(announce)
    thumbnails = scene_thumbnails(say)
    config = ConsoleConfig(store.path, hub, pairing, lambda scene: thumbnails[scene])
    tls, certificate, lan_address = {}, None, None
    if options.lan:
        lan_address, names = _lan_names()
        certificate = console_certificate(names, say=say)
        config.hosts = tuple(dict.fromkeys((*LOOPBACK_HOSTS, *names)))
        tls = {"ssl_certfile": str(certificate.cert_path), "ssl_keyfile": str(certificate.key_path)}
    server, thread = _start_server(build_app(config), options, tls)
    try:
        port = server.servers[0].sockets[0].getsockname()[1]
        if options.lan:
            address["url"] = config.public_url = f"https://{_url_host(lan_address)}:{port}/"
        else:
            address["url"] = f"http://127.0.0.1:{port}/"
        _announce(options, address["url"], pairing, certificate)
        say("waiting for the console to start a session; Ctrl-C closes the console")
        _serve_starts(options, store, hub)
    finally:
        server.should_exit = True
        thread.join(timeout=5.0)
    say("console closed")
    return 0


def _start_server(app, options: ConsoleOptions, tls: dict):
    """uvicorn on a thread of its own, once it listens: (server, thread). OSError when it cannot listen."""
    import uvicorn

    from tidewell.engine.console.guards import MAX_BODY_BYTES

    host = "0.0.0.0" if options.lan else "127.0.0.1"
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=options.port,
            log_level="warning",
            access_log=False,
            lifespan="on",
            ws="websockets-sansio",
            ws_max_size=MAX_BODY_BYTES,
            server_header=False,
            **tls,
        )
    )
    failure: list[BaseException] = []
    thread = threading.Thread(target=_serve, args=(server, failure), name="tidewell-console-web", daemon=True)
    thread.start()
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    if not server.started:
        server.should_exit = True
        why = f": {failure[0]}" if failure else ""
        raise ResourceUnavailable(
            f"the console could not listen on {host}:{options.port}{why} "
            f"(is another console running? choose another --port)"
        )
    return server, thread


def _announce(options: ConsoleOptions, url: str, pairing: Pairing, certificate) -> None:
    """Say where the console is and how to pair."""
    say = options.say
    if not options.lan:
        say(
            f"console: {url}#pair={pairing.code}  (pairing code {spaced(pairing.code)}; "
            "only this computer can connect, --lan for a tablet)"
        )
        return
    say(f"console on the clinic network: {url}  pairing code: {spaced(pairing.code)}")
    say(f"  certificate SHA-256: {certificate.fingerprint}")
    say(
        "  (self-signed for this computer: the tablet's browser shows this fingerprint once; accept it only if"
        " it matches)" + ("; certificate made now" if certificate.made else "")
    )
    for line in _terminal_qr(url):
        say(line)


def _serve_starts(options: ConsoleOptions, store: SessionStore, hub: ConsoleHub) -> None:
    """Run each session the console starts, one at a time, until Ctrl-C."""
    with StopRequest() as stop:
        while not stop.requested:
            try:
                request = hub.starts.get(timeout=0.25)
            except queue.Empty:
                continue
            _run_started(request, options, store, hub)
            options.say("session over; waiting for the console (Ctrl-C closes the console)")


def _serve(server, failure: list) -> None:
    try:
        server.run()
    except BaseException as error:  # SystemExit from uvicorn when the port is taken
        failure.append(error)


def _run_started(request: StartRequest, options: ConsoleOptions, store: SessionStore, hub: ConsoleHub) -> None:
    from tidewell.engine.console.program_views import program_view

    say = options.say
    try:
        program = load_program(builtin_programs()[request.program_id])
        if request.minutes:
            program = program.scaled_to(request.minutes)
    except (KeyError, ProgramError) as error:
        hub.start_failed(f"cannot load program {request.program_id!r}: {error}")
        return

    began_as: list[int] = []  # the session's id once it is in the log: errors after that end it, not its start

    def began(session_id: int) -> None:
        began_as.append(session_id)
        before = request.before
        if before.get("pain") is not None or before.get("stress") is not None or before.get("note"):
            store.set_self_report(
                session_id, "before", before.get("pain"), before.get("stress"), before.get("note", "")
            )
        hub.session_began(session_id, request.client_id, program_view(program))

    live = SessionLiveView(hub.live_image, options.target, options.headless) if options.live_view else None
    run = _run_options(request, options, hub, began, live)
    try:
        store.recheck()  # since the last session the log may have been damaged, made read-only or moved aside
        try:
            result = run_session(program, run, store)
        finally:
            for problem in live.close() if live is not None else []:
                say(problem)
    except Exception as error:
        if not began_as and isinstance(error, sqlite3.Error):
            raise
        if not isinstance(error, TidewellError):  # a bug (sqlite3.Error too: the disk and file are StoreErrors)
            traceback.print_exc()  # shown whole; the console carries on with the next session
        if not began_as:
            say(f"the session could not start: {error}")
            hub.start_failed(str(error))
            return
        status = _logged_status(store, began_as[0])
        say(f"session {began_as[0]} ended on an error ({status_words(status)}; what was logged is kept): {error}")
        hub.session_failed(status, str(error))
        return
    hub.session_ended(result.status)


def _run_options(
    request: StartRequest, options: ConsoleOptions, hub: ConsoleHub, began, live: SessionLiveView | None
) -> RunOptions:
    """How a console session runs: as `tidewell run` does, with the console's controls, views and live view."""

    def on_frame(state) -> None:
        hub.frame(state)
        if live is not None:
            live.frame(state)

    return RunOptions(
        client=request.client,
        sensor=options.sensor,
        virtual_time=False,
        headless=options.headless,
        seed=options.seed,
        audio_device=options.audio_device,
        adapter=options.adapter,
        say=options.say,
        controls=hub.controls,
        on_begin=began,
        on_frame=on_frame,
        on_headset=None if live is None else live.attach_headset,
        on_window=None if live is None else live.attach_window,
        on_event=hub.event,
        client_label=f"client #{request.client_id}",
        attended=True,
        target=options.target,
        sound_when_headset_off=options.sound_when_headset_off,
        eyes_closed=request.eyes_closed,
    )


def _logged_status(store: SessionStore, session_id: int) -> str:
    """The session's status in the log; one the error left 'running' is marked interrupted (where the log
    takes the write: otherwise the next start of the engine marks it)."""
    try:
        store.mark_interrupted(session_id)
        row = store.session(session_id)
    except (OSError, sqlite3.Error):
        return "interrupted"
    return row["status"] if row is not None and row["status"] != "running" else "interrupted"


def _lan_names() -> tuple[str, list[str]]:
    """This machine's LAN address and every name a tablet may reach it by (the certificate's SANs)."""
    lan_address = _lan_address()
    hostname = socket.gethostname()
    names = [lan_address, hostname, f"{hostname}.local", "localhost", "127.0.0.1"]
    return lan_address, [n.lower() for n in dict.fromkeys(names) if n]


def _url_host(name: str) -> str:
    return f"[{name}]" if ":" in name else name


def _terminal_qr(url: str) -> list[str]:
    """The URL as a QR code drawn with block characters, for the tablet's camera."""
    import segno

    out = io.StringIO()
    segno.make(url, error="m").terminal(out=out, compact=True, border=2)
    return out.getvalue().rstrip("\n").split("\n")


def _lan_address() -> str:
    """This machine's address on the local network (no packet is sent)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("10.255.255.255", 1))
        return probe.getsockname()[0]
    except OSError:
        return socket.gethostname()
    finally:
        probe.close()
