"""ganforge lab: a local web app to watch 2-D GANs train live and to browse run dirs.

``ganforge lab`` calls :func:`serve`; tests and embedders use :func:`create_app` (a
Starlette app). The API contract is docs/lab.md.
"""

from __future__ import annotations

import ipaddress
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn

from ganforge.errors import GanforgeError

if TYPE_CHECKING:
    from starlette.applications import Starlette

__all__ = ["create_app", "is_loopback", "serve"]


def create_app(
    runs_root: Path | str = "runs",
    max_sessions: int = 4,
    idle_timeout: float = 60.0,
    **kwargs: Any,
) -> Starlette:
    """The lab's ASGI app (see :func:`ganforge.lab.app.create_app`)."""
    from ganforge.lab.app import create_app as _create_app

    return _create_app(runs_root, max_sessions, idle_timeout, **kwargs)


def is_loopback(host: str) -> bool:
    """Is ``host`` this machine only (127.0.0.0/8, ::1, localhost)?"""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port), or a GanforgeError saying what to change."""
    if not 0 <= port <= 65535:
        raise GanforgeError(f"--port must be in 0..65535 (0: any free port), got {port}.")
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise GanforgeError(f"--host {host!r} is not an address of this machine ({e}).") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    # reuse a port left in TIME_WAIT by a previous lab; a port another server listens on
    # still fails (Linux and macOS refuse to share a listening port without SO_REUSEPORT)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as e:
        sock.close()
        raise GanforgeError(
            f"cannot listen on {host}:{port}: {e.strerror or e}. Another program (maybe "
            "another `ganforge lab`) is using the port: choose one with --port, e.g. "
            f"--port {port + 1 if 0 < port < 65535 else 8766}."
        ) from None
    sock.setblocking(False)
    return sock


def serve(
    runs_root: Path | str = "runs",
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    max_sessions: int = 4,
    idle_timeout: float = 60.0,
    log_level: str = "warning",
) -> None:
    """Serve the lab until Ctrl-C: print the address, warn when reachable from outside.

    Raises:
        GanforgeError: the port is taken or the host is not an address of this machine.
    """
    import torch

    runs_root = Path(runs_root)
    sock = bind(host, port)
    # One intra-op thread for the whole server (the setting is process-wide): each
    # playground session trains on its own thread, and networks this small run several
    # times slower when sessions' intra-op threads compete for the same cores.
    torch.set_num_threads(1)
    actual = sock.getsockname()[1]
    local = is_loopback(host)
    from ganforge.lab.app import LOCAL_HOSTS

    # loopback: answer only to this machine's names (DNS-rebinding guard); elsewhere the
    # name users type is unknown, so any Host is accepted (the warning below says so)
    hosts = [*LOCAL_HOSTS, host.strip("[]")] if local else ["*"]
    app = create_app(runs_root, max_sessions, idle_timeout, allowed_hosts=hosts)
    shown = f"[{host.strip('[]')}]" if ":" in host else host
    print(f"ganforge lab: http://{shown}:{actual}/  (runs: {runs_root.resolve()}; Ctrl-C stops)")
    if not runs_root.is_dir():
        print(
            f"ganforge lab: note: {runs_root} does not exist yet; the runs page is empty "
            "until `ganforge train` writes runs there (or use --runs DIR).",
            file=sys.stderr,
        )
    if not local:
        print(
            f"ganforge lab: warning: listening on {host}, which other machines may reach. "
            "The lab has no authentication: anyone who can connect can start training "
            f"sessions and read the runs under {runs_root.resolve()}. Use --host 127.0.0.1 "
            "unless you mean it.",
            file=sys.stderr,
        )
    sys.stdout.flush()
    config = uvicorn.Config(
        app,
        log_level=log_level,
        lifespan="on",
        timeout_graceful_shutdown=3,  # open WebSockets must not keep Ctrl-C waiting
    )
    server = _Server(config)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # a second Ctrl-C during the shutdown
        pass
    finally:
        sock.close()
    print("ganforge lab: stopped.")


class _Server(uvicorn.Server):
    """uvicorn's server, except that Ctrl-C makes :func:`serve` return normally.

    uvicorn shuts down gracefully on SIGINT/SIGTERM and then raises the signal again for
    its caller, inside its still-running event loop, where it cancels the app's shutdown
    and logs a traceback. The lab has nobody to hand the signal to.
    """

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # signals can only be handled on the main thread
            return
        sigs = (signal.SIGINT, signal.SIGTERM)
        previous = {s: signal.signal(s, self.handle_exit) for s in sigs}
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
