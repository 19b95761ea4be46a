"""The lab's ASGI app: routes, validation and error responses (docs/lab.md).

Every error a client can cause is answered with a 4xx and ``{"error": "<what is wrong
and what to do>"}``; unforeseen failures with a 500 in the same shape, never a
traceback. The app holds the playground sessions (in memory) and reads the runs root.

Besides the documented checks, two guards protect a server without authentication
from web pages the user happens to visit: the Host header must name this machine
(DNS rebinding), and a request (or WebSocket) carrying an ``Origin`` must come from the
lab's own page (cross-site requests and WebSocket hijacking; browsers always send
``Origin`` on WebSockets and cross-site POSTs).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import difflib
import json
import re
import secrets
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from ganforge import registry
from ganforge.errors import GanforgeError
from ganforge.lab.playground import (
    DATASETS,
    LAYERS,
    LIMITS,
    NetSettings,
    PlaygroundConfig,
    PlaygroundSession,
    SessionWorker,
    all_plane_bounds,
    dumps,
    playable_objectives,
)
from ganforge.lab.runs import RunsRoot

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_BODY = 256 * 1024  # bytes of a request body
MAX_MESSAGE = 4096  # characters of a WebSocket command
#: Host names a loopback server answers to. "testserver" is the name Starlette's
#: TestClient sends; no browser sends it unless the user types it.
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "testserver")
STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
}
#: Run files may be HTML/SVG written by anything: shown without scripts, in a sandbox.
RUN_FILE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'; img-src 'self' data:; "
    "style-src 'unsafe-inline'",
    "Cache-Control": "no-cache",
}
# Raw-URL encodings of '.', '/', '\' and NUL: a path using them is a trick, not a file.
ENCODED_TRICKS = re.compile(rb"%(2e|2f|5c|00)", re.IGNORECASE)


# -- errors ----------------------------------------------------------------------------------
def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def explain(err: pydantic.ValidationError, models: dict[str, type[BaseModel]]) -> str:
    """One line per problem: where, what, and for unknown keys the closest valid ones.

    ``models`` maps a location prefix ("" for the top, "g", "d", "value") to the model
    whose fields are valid there.
    """
    lines = []
    for e in err.errors():
        loc = [str(x) for x in e["loc"]]
        where = ".".join(loc) or "body"
        if e["type"] == "extra_forbidden":
            model = models.get(".".join(loc[:-1]))
            valid = list(model.model_fields) if model is not None else []
            close = difflib.get_close_matches(loc[-1], valid, 1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            lines.append(f"{where}: unknown key.{hint} Valid keys: {', '.join(valid)}.")
        elif e["type"] == "missing":
            lines.append(f"{where}: required but not given.")
        else:
            got = e.get("input")
            shown = repr(got) if len(repr(got)) <= 60 else f"{type(got).__name__} (too long)"
            msg = e["msg"].removeprefix("Value error, ")
            lines.append(f"{where}: {msg} (got {shown}).")
    return "; ".join(lines)


# -- WebSocket commands ------------------------------------------------------------------------
class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Plain(_Command):
    action: Literal["play", "pause", "reset"]


class Step(_Command):
    action: Literal["step"]
    what: Literal["d", "g", "both"]


class Speed(_Command):
    action: Literal["speed"]
    value: Annotated[int, Field(ge=int(LIMITS["speed"][0]), le=int(LIMITS["speed"][1]))]


class LayerSwitches(_Command):
    heatmap: bool | None = None
    manifold: bool | None = None
    arrows: bool | None = None


class Layers(_Command):
    action: Literal["layers"]
    value: LayerSwitches


COMMANDS: dict[str, type[_Command]] = {
    "play": Plain,
    "pause": Plain,
    "reset": Plain,
    "step": Step,
    "speed": Speed,
    "layers": Layers,
}


def parse_command(text: str) -> dict[str, Any]:
    """A validated command dict, or ValueError with a message for the page."""
    if len(text) > MAX_MESSAGE:
        raise ValueError(f"message too long ({len(text)} characters; at most {MAX_MESSAGE}).")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"message is not JSON ({e.msg} at character {e.pos}).") from None
    if not isinstance(data, dict) or not isinstance(data.get("action"), str):
        raise ValueError('message must be a JSON object with an "action", e.g. {"action": "play"}.')
    model = COMMANDS.get(data["action"])
    if model is None:
        close = difflib.get_close_matches(data["action"], list(COMMANDS), 1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"unknown action {data['action']!r}.{hint} Actions: {', '.join(COMMANDS)}."
        )
    try:
        cmd = model.model_validate(data, strict=True)
    except pydantic.ValidationError as e:
        raise ValueError(explain(e, {"": model, "value": LayerSwitches})) from None
    out = cmd.model_dump(exclude_none=True)
    if isinstance(cmd, Layers):
        out["value"] = cmd.value.model_dump(exclude_none=True)
    return out


# -- sessions --------------------------------------------------------------------------------
class Outbox:
    """Messages from a session's thread to its WebSocket, on the event loop.

    Frames are coalesced (a frame not yet sent is replaced by the newer one, so a slow
    client sees the latest state instead of a growing backlog); errors are never
    dropped.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.items: collections.deque[tuple[str, str]] = collections.deque()
        self.ready = asyncio.Event()

    def post(self, kind: str, text: str) -> None:
        """Thread-safe: called by the session's thread."""
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens
            self.loop.call_soon_threadsafe(self._put, kind, text)

    def _put(self, kind: str, text: str) -> None:
        if kind == "frame" and self.items and self.items[-1][0] == "frame":
            self.items[-1] = (kind, text)
        else:
            self.items.append((kind, text))
        self.ready.set()

    async def get(self) -> tuple[str, str]:
        """The next (kind, text): kind "frame", "error" or "close" (the session ended)."""
        while not self.items:
            self.ready.clear()
            await self.ready.wait()
        return self.items.popleft()


@dataclass
class LiveSession:
    """A playground session held by the app: the model, its thread, its client."""

    id: str
    session: PlaygroundSession
    worker: SessionWorker | None = None
    outbox: Outbox | None = None
    connected: bool = False
    idle_since: float = field(default_factory=time.monotonic)


class Sessions:
    """At most ``max_sessions`` playground sessions; each stops when its WebSocket
    closes, or after ``idle_timeout`` seconds without one."""

    def __init__(self, max_sessions: int, idle_timeout: float) -> None:
        self.max_sessions, self.idle_timeout = max_sessions, idle_timeout
        self.live: dict[str, LiveSession] = {}
        self.reserved = 0  # slots taken by sessions being built
        # freed sessions' threads, maybe still finishing an iteration or a frame: joined
        # at shutdown (a thread inside torch at interpreter exit can abort the process)
        self.stopping: list[SessionWorker] = []

    def reap_idle(self) -> None:
        now = time.monotonic()
        for sid, s in list(self.live.items()):
            if not s.connected and now - s.idle_since > self.idle_timeout:
                self.free(sid)

    def reserve(self) -> None:
        self.reap_idle()
        if len(self.live) + self.reserved >= self.max_sessions:
            raise HTTPException(
                429,
                f"too many playground sessions ({self.max_sessions} running, the limit): "
                "close another playground tab, or wait for idle sessions to stop "
                f"(after {self.idle_timeout:g} s without a page).",
            )
        self.reserved += 1

    def add(self, session: PlaygroundSession) -> str:
        self.reserved -= 1
        sid = secrets.token_urlsafe(12)
        self.live[sid] = LiveSession(sid, session)
        return sid

    def get(self, sid: str) -> LiveSession | None:
        return self.live.get(sid)

    def free(self, sid: str) -> bool:
        s = self.live.pop(sid, None)
        if s is None:
            return False
        if s.worker is not None:
            s.worker.stop()
            self.stopping = [w for w in self.stopping if w.thread.is_alive()]
            self.stopping.append(s.worker)
        if s.outbox is not None:  # deleted while its page is open: close the socket
            s.outbox.post("close", "")
        return True

    def close_all(self, timeout: float = 2.0) -> None:
        for sid in list(self.live):
            self.free(sid)
        for w in self.stopping:
            w.stop(timeout)


# -- guards ----------------------------------------------------------------------------------
def _host_name(host: str) -> str:
    """'127.0.0.1:8765' -> '127.0.0.1', '[::1]:8765' -> '::1'."""
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class GuardMiddleware:
    """Refuse requests whose Host is not allowed or whose Origin is another site."""

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str]) -> None:
        self.app = app
        self.allowed = {h.lower() for h in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        problem = None
        if "*" not in self.allowed and _host_name(host).lower() not in self.allowed:
            problem = (
                f"host {host!r} is not allowed: open the lab at http://127.0.0.1:PORT/ "
                "(requests naming other hosts are refused to stop DNS-rebinding attacks)."
            )
        origin = headers.get("origin")
        if problem is None and origin is not None:
            origin_host = origin.split("://", 1)[-1].rstrip("/")
            if origin_host.lower() != host.lower():
                problem = f"cross-site request from {origin!r} refused."
        if problem is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await receive()  # the handshake's "websocket.connect", then the refusal
            await send({"type": "websocket.close", "code": 4403, "reason": problem[:120]})
        else:
            await error(403, problem)(scope, receive, send)


# -- the app ---------------------------------------------------------------------------------
def create_app(
    runs_root: Path | str = "runs",
    max_sessions: int = 4,
    idle_timeout: float = 60.0,
    allowed_hosts: Iterable[str] | None = None,
) -> Starlette:
    """The lab's Starlette app.

    Args:
        runs_root: the folder whose run dirs the runs page shows (read-only; it may not
            exist yet).
        max_sessions: playground sessions at once (429 beyond).
        idle_timeout: seconds a session without a WebSocket lives.
        allowed_hosts: Host header names to answer (default: loopback names);
            ``["*"]`` answers any (serving on a non-loopback address).
    """
    runs = RunsRoot(runs_root)
    sessions = Sessions(max_sessions, idle_timeout)
    # imports and the registry probes now, not during the first request
    registry.load_all()
    playable_objectives()
    all_plane_bounds()

    # -- playground ---------------------------------------------------------------------
    async def options(request: Request) -> Response:
        objectives = [
            {"name": e.name, "summary": e.summary, "paper": e.paper}
            for e in registry.OBJECTIVES.entries()
            if e.name in playable_objectives()
        ]
        return JSONResponse(
            {
                "datasets": list(DATASETS),
                "objectives": objectives,
                "penalties": [
                    {"name": e.name, "summary": e.summary} for e in registry.PENALTIES.entries()
                ],
                "optimizers": registry.OPTIMIZERS.names(),
                "limits": LIMITS,
                "defaults": PlaygroundConfig().model_dump(),
                "bounds": all_plane_bounds(),
                "layers": list(LAYERS),
            }
        )

    async def create_session(request: Request) -> Response:
        body = await _read_body(request)
        try:
            data = json.loads(body or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            return error(400, f"the body is not JSON ({e}); send a PlaygroundConfig object.")
        if not isinstance(data, dict):
            return error(422, "the body must be a JSON object (a PlaygroundConfig).")
        try:
            config = PlaygroundConfig.model_validate(data, strict=True)
        except pydantic.ValidationError as e:
            models = {"": PlaygroundConfig, "g": NetSettings, "d": NetSettings}
            return error(422, explain(e, models))
        sessions.reserve()
        try:
            # building reads data and makes networks: off the event loop
            session = await run_in_threadpool(PlaygroundSession, config)
        except GanforgeError as e:
            sessions.reserved -= 1
            return error(422, str(e))
        except BaseException:
            sessions.reserved -= 1
            raise
        sid = sessions.add(session)
        return JSONResponse({"id": sid, "config": config.model_dump()}, status_code=201)

    async def delete_session(request: Request) -> Response:
        if not sessions.free(request.path_params["sid"]):
            return error(404, "no such session (it may have stopped already).")
        return Response(status_code=204)

    async def session_ws(ws: WebSocket) -> None:
        live = sessions.get(ws.path_params["sid"])
        if live is None:
            await ws.close(code=4404, reason="no such session: create one with POST /api/sessions")
            return
        if live.connected:
            await ws.close(code=4409, reason="this session already has a page")
            return
        await ws.accept()
        live.connected = True
        outbox = Outbox(asyncio.get_running_loop())
        worker = SessionWorker(live.session, outbox.post, live.id)
        live.worker, live.outbox = worker, outbox
        worker.start()
        worker.send({"action": "frame"})

        async def pump() -> None:
            while True:
                kind, text = await outbox.get()
                if kind == "close":
                    await ws.close(code=4410, reason="the session was deleted")
                    return
                await ws.send_text(text)

        sender = asyncio.create_task(pump())
        try:
            while True:
                msg = await ws.receive()
                if msg["type"] == "websocket.disconnect":
                    break
                text = msg.get("text")
                if text is None:
                    outbox.post("error", dumps({"type": "error", "error": "send JSON text."}))
                    continue
                try:
                    worker.send(parse_command(text))
                except ValueError as e:
                    outbox.post("error", dumps({"type": "error", "error": str(e)}))
        except WebSocketDisconnect:
            pass
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender
            # the page went away: the session stops and is freed
            sessions.free(live.id)
            if ws.application_state == WebSocketState.CONNECTED:
                with contextlib.suppress(Exception):
                    await ws.close()

    # -- runs ---------------------------------------------------------------------------
    async def list_runs(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(runs.listing))

    async def run_detail(request: Request) -> Response:
        _refuse_encoded(request)
        return JSONResponse(await run_in_threadpool(runs.detail, request.path_params["name"]))

    async def compare(request: Request) -> Response:
        raw = request.query_params.get("runs")
        if not raw:
            return error(400, "give the runs to compare: /api/compare?runs=a,b,c")
        names = [n for n in raw.split(",") if n]
        return JSONResponse(await run_in_threadpool(runs.compare, names))

    async def run_file(request: Request) -> Response:
        _refuse_encoded(request)
        name, rel = runs.split_file_path(request.path_params["rest"])
        path, media = runs.resolve_file(name, rel)
        return FileResponse(path, media_type=media, headers=RUN_FILE_HEADERS)

    # -- pages and static files ---------------------------------------------------------
    async def index(request: Request) -> Response:
        return _static("index.html")

    async def runs_page(request: Request) -> Response:
        return _static("runs.html")

    async def static(request: Request) -> Response:
        _refuse_encoded(request)
        return _static(request.path_params["file"])

    # -- errors -------------------------------------------------------------------------
    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        detail = exc.detail
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"not found: {request.url.path} (see docs/lab.md for the routes)."
        elif exc.status_code == 405:
            detail = f"method {request.method} not allowed on {request.url.path}."
        return error(exc.status_code, str(detail))

    async def server_error(request: Request, exc: Exception) -> Response:
        return error(
            500,
            f"internal error ({type(exc).__name__}: {exc}); please report it with the "
            "request that caused it.",
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async def janitor() -> None:
            while True:
                await asyncio.sleep(min(1.0, max(idle_timeout / 4, 0.05)))
                sessions.reap_idle()

        task = asyncio.create_task(janitor())
        try:
            yield
        finally:
            task.cancel()
            await run_in_threadpool(sessions.close_all)

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/runs", runs_page),
            Route("/static/{file}", static),
            Route("/api/options", options),
            Route("/api/sessions", create_session, methods=["POST"]),
            Route("/api/sessions/{sid}", delete_session, methods=["DELETE"]),
            WebSocketRoute("/api/sessions/{sid}/ws", session_ws),
            Route("/api/runs", list_runs),
            Route("/api/runs/{name:path}", run_detail),
            Route("/api/compare", compare),
            Route("/runs/{rest:path}", run_file),
        ],
        exception_handlers={HTTPException: http_error, Exception: server_error},
        lifespan=lifespan,
    )
    app.add_middleware(GuardMiddleware, allowed_hosts=allowed_hosts or LOCAL_HOSTS)
    app.state.sessions = sessions
    app.state.runs = runs
    return app


async def _read_body(request: Request) -> bytes:
    """The request body, refusing (413) more than MAX_BODY bytes without reading them."""
    length = request.headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise HTTPException(400, f"bad Content-Length {length!r}.")
        if int(length) > MAX_BODY:
            raise HTTPException(
                413, f"body too large ({int(length)} bytes; at most {MAX_BODY // 1024} kB)."
            )
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:  # chunked uploads announce no length
            raise HTTPException(413, f"body too large (over {MAX_BODY // 1024} kB).")
        chunks.append(chunk)
    return b"".join(chunks)


def _refuse_encoded(request: Request) -> None:
    """404 for paths that encode '.', '/', '\\' or NUL (``%2e%2e%2f`` and friends): the
    decoded path could otherwise smuggle a separator or a dot-dot past the router."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    if ENCODED_TRICKS.search(raw):
        raise HTTPException(404, "not found: encoded dots, slashes or NULs are not allowed.")


def _static(name: str) -> Response:
    """A file of the package's static/ folder, by exact name only (no sub-paths)."""
    ok = re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*", name) is not None
    path = STATIC_DIR / name
    if not ok or not path.is_file() or path.is_symlink():
        raise HTTPException(404, f"not found: static file {name!r}.")
    media = STATIC_TYPES.get(path.suffix.lower(), "application/octet-stream")
    return FileResponse(
        path,
        media_type=media,
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )
