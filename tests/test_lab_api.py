"""ganforge lab's HTTP/WebSocket API (docs/lab.md) through Starlette's TestClient.

Playground: options, session creation and its refusals, the WebSocket protocol (frames
and their shapes, play / pause / step / reset, errors that keep the socket usable),
session limits and freeing. Runs: listing, detail, comparison, file serving, every
path-traversal variant refused, and no write into the runs root.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from ganforge.lab import create_app, is_loopback
from ganforge.lab.playground import PlaygroundConfig, PlaygroundSession

FRAME_KEYS = {
    "type",
    "step",
    "updates",
    "playing",
    "steps_per_s",
    "real",
    "fake",
    "arrows",
    "heatmap",
    "manifold",
    "bounds",
    "losses",
    "metrics",
}


# -- fixtures --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def runs_root(
    tmp_path_factory: pytest.TempPathFactory, tiny_ring8_template: Callable[[], dict[str, Any]]
) -> Path:
    """A runs root with a tiny trained gan-ring8 run, a copy of it one level deeper, a
    card in each, and the traps: a symlink out of the root, a weights file."""
    from ganforge.engine.run import train
    from ganforge.metrics.cards import Card

    root = tmp_path_factory.mktemp("runs")
    cfg = tiny_ring8_template()
    cfg["recipe"] = "gan-ring8"
    cfg["train"].update(steps=20, sample_every=10, ckpt_every=20, tensorboard=False)
    run = train(cfg, out=root / "gan-ring8-0001", progress=False)
    nested = root / "sweep" / "gan-ring8-0002"
    shutil.copytree(run, nested)
    for i, r in enumerate((run, nested)):
        Card(
            metric="mode-coverage",
            values={"modes": 5.0 + i, "hq": 0.5},
            primary="modes",
            extractor="identity",
            weights_sha256=None,
            preprocessing={},
            n_real=None,
            n_fake=2500,
            reference={"data": {"name": "ring8"}},
            fake={"source": str(r), "step": 20},
        ).save(r / "cards")
    secret = tmp_path_factory.mktemp("outside") / "secret.json"
    secret.write_text('{"secret": true}')
    (run / "leak.json").symlink_to(secret)
    (run / "samples" / "leak.png").symlink_to(secret)
    (root / "escape").symlink_to(secret.parent, target_is_directory=True)
    return root


@pytest.fixture
def client(runs_root: Path) -> Iterator[TestClient]:
    with TestClient(create_app(runs_root, max_sessions=2, idle_timeout=30.0)) as c:
        yield c


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under root (symlinks not followed) with its size and mtime."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            out[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return out


def get_raw(app: Any, raw_path: bytes) -> tuple[int, bytes]:
    """GET with an exact raw path (httpx would normalise ``..`` away), decoded as an ASGI
    server decodes it: ``path`` is the percent-decoded ``raw_path``."""
    path, _, query = raw_path.partition(b"?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": urllib.parse.unquote(path.decode("latin-1")),
        "raw_path": path,
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    anyio.run(app, scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def recv(ws: Any, kind: str = "frame") -> dict[str, Any]:
    """The next message of ``kind`` (frames and errors otherwise in order)."""
    while True:
        msg = json.loads(ws.receive_text())
        if msg["type"] == kind:
            return msg
        assert msg["type"] == "frame", msg  # an unexpected error


def new_session(client: TestClient, **config: Any) -> str:
    r = client.post("/api/sessions", json=config)
    assert r.status_code == 201, r.text
    return r.json()["id"]


# -- playground: HTTP ------------------------------------------------------------------------
def test_options_lists_the_registries_limits_and_defaults(client: TestClient) -> None:
    o = client.get("/api/options").json()
    assert o["datasets"] == ["ring8", "grid25", "spiral", "line", "custom"]
    names = [x["name"] for x in o["objectives"]]
    assert {"ns", "minimax", "wgan-gp", "hinge", "lsgan"} <= set(names)
    assert all(x["summary"] and x["paper"] for x in o["objectives"])
    assert "gradient-penalty" in [p["name"] for p in o["penalties"]]
    assert o["optimizers"] == ["adam", "rmsprop", "sgd"]
    assert o["limits"]["hidden_width"] == [4, 256] and o["limits"]["speed"] == [1, 100]
    d = o["defaults"]
    assert d["data"] == "ring8" and d["objective"] == "ns" and d["g"]["width"] == 64
    assert set(d) == set(PlaygroundConfig.model_fields)
    assert o["bounds"]["custom"] == {"x": [-4.0, 4.0], "y": [-4.0, 4.0]}


def test_session_created_and_deleted(client: TestClient) -> None:
    r = client.post("/api/sessions", json={"data": "grid25", "d": {"width": 32}})
    assert r.status_code == 201
    body = r.json()
    assert body["config"]["data"] == "grid25" and body["config"]["d"]["width"] == 32
    assert body["config"]["g"]["width"] == 64  # defaults filled in
    assert client.delete(f"/api/sessions/{body['id']}").status_code == 204
    # JavaScript writes 10.0 as 10: integers are accepted for float fields
    r = client.post("/api/sessions", json={"gradient_penalty": 10, "g": {"lr": 1}})
    assert r.status_code == 201 and r.json()["config"]["g"]["lr"] == 1.0
    client.delete(f"/api/sessions/{r.json()['id']}")
    r = client.delete(f"/api/sessions/{body['id']}")
    assert r.status_code == 404 and "no such session" in r.json()["error"]


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"g": {"width": 512}}, 422, "g.width: Input should be less than or equal to 256"),
        ('{"d": {"lr": NaN}}', 422, "d.lr"),
        ('{"d": {"lr": 1e999}}', 422, "d.lr"),
        ({"batch_size": 4096}, 422, "batch_size"),
        ({"objective": "nss"}, 422, "Did you mean 'ns'?"),
        ({"widht": 3}, 422, "widht: unknown key."),
        ({"g": {"widht": 3}}, 422, "Did you mean 'width'?"),
        ({"g": {"width": "64"}}, 422, "g.width"),
        ({"pack": True}, 422, "pack"),
        ({"data": "moons"}, 422, "data"),
        ({"data": "custom"}, 422, "needs points"),
        ({"data": "custom", "points": [[0.0, 0.0]] * 2001}, 422, "points"),
        ({"data": "custom", "points": [[5.0, 0.0]]}, 422, "points.0.0"),
        ({"data": "custom", "points": [[1.0, 2.0, 3.0]]}, 422, "points.0"),
        ({"objective": "wgan", "label_smoothing": 0.1}, 422, "no such targets"),
        ({"pack": 3}, 422, "multiple of it"),
        ({"pack": 2, "unroll_steps": 3}, 422, "pack to 1"),
        ("[1, 2]", 422, "JSON object"),
        ("{not json", 400, "not JSON"),
    ],
)
def test_invalid_configs_are_refused_with_a_message(
    client: TestClient, body: Any, status: int, needle: str
) -> None:
    if isinstance(body, str):
        r = client.post("/api/sessions", content=body, headers={"content-type": "application/json"})
    else:
        r = client.post("/api/sessions", json=body)
    assert r.status_code == status, r.text
    assert needle in r.json()["error"]
    assert not client.app.state.sessions.live  # nothing half-made stays behind


def test_body_too_large_is_413(client: TestClient) -> None:
    big = json.dumps({"data": "custom", "points": [[0.123456789, 0.987654321]] * 12000})
    assert len(big) > 256 * 1024
    r = client.post("/api/sessions", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "too large" in r.json()["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while reading
        for _ in range(40):
            yield b" " * 8192

    r = client.post("/api/sessions", content=chunks())
    assert r.status_code == 413


def test_sessions_beyond_the_limit_get_429(client: TestClient) -> None:
    a, _ = new_session(client), new_session(client)
    r = client.post("/api/sessions", json={})
    assert r.status_code == 429 and "too many playground sessions" in r.json()["error"]
    client.delete(f"/api/sessions/{a}")
    new_session(client)  # a freed slot can be used again


def test_idle_session_without_a_page_is_freed(runs_root: Path) -> None:
    with TestClient(create_app(runs_root, idle_timeout=0.2)) as c:
        sid = new_session(c)
        deadline = time.monotonic() + 5
        while sid in c.app.state.sessions.live and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sid not in c.app.state.sessions.live


def test_cross_site_and_foreign_host_requests_are_refused(client: TestClient) -> None:
    r = client.post("/api/sessions", json={}, headers={"origin": "http://evil.example"})
    assert r.status_code == 403 and "cross-site" in r.json()["error"]
    r = client.get("/api/options", headers={"host": "evil.example"})
    assert r.status_code == 403
    ok = client.get("/api/options", headers={"origin": "http://testserver"})
    assert ok.status_code == 200


# -- playground: WebSocket -------------------------------------------------------------------
def check_frame(f: dict[str, Any], layers: bool = True) -> None:
    assert set(f) == FRAME_KEYS
    assert len(f["real"]) == 512 and len(f["fake"]) == 512
    assert all(len(p) == 2 for p in f["real"][:5] + f["fake"][:5])
    assert set(f["losses"]) == {"d", "g"}
    m = f["metrics"]
    assert set(m) == {"modes", "modes_total", "hq", "kl", "js"}
    assert m["modes_total"] == 8 and 0 <= m["modes"] <= 8 and 0 <= m["hq"] <= 1
    assert m["kl"] >= 0 and 0 <= m["js"] <= 0.6932
    assert f["bounds"] == {"x": [-1.5, 1.5], "y": [-1.5, 1.5]}
    if layers:
        h = f["heatmap"]
        assert (h["nx"], h["ny"]) == (48, 48) and len(h["values"]) == 48 * 48
        assert h["min"] <= min(h["values"]) and h["max"] >= max(h["values"])
        assert f["manifold"]["nx"] == 15 and len(f["manifold"]["points"]) == 225
        assert len(f["arrows"]) == 512 and all(len(a) == 2 for a in f["arrows"][:5])


def test_websocket_play_pause_step_reset(client: TestClient) -> None:
    sid = new_session(client, d_steps=2, g_steps=1)
    with client.websocket_connect(f"/api/sessions/{sid}/ws") as ws:
        first = recv(ws)  # one frame on connect, paused
        check_frame(first)
        assert first["step"] == 0 and first["playing"] is False
        assert first["losses"] == {"d": None, "g": None}

        ws.send_json({"action": "play"})
        t0, frames = time.monotonic(), []
        while len(frames) < 4:
            frames.append(recv(ws))
        assert all(f["playing"] for f in frames)
        assert frames[-1]["step"] > frames[0]["step"] >= 0
        check_frame(frames[-1])
        # 4 frames at >= 10 frames/s take ~0.3 s; generous for a shared CI machine
        assert time.monotonic() - t0 < 3.0

        ws.send_json({"action": "pause"})
        f = recv(ws)
        while f["playing"]:
            f = recv(ws)
        step, upd = f["step"], f["updates"]
        assert upd == {"d": 2 * step, "g": step} and f["steps_per_s"] == 0
        assert f["losses"]["d"] is not None and f["losses"]["g"] is not None

        ws.send_json({"action": "step", "what": "d"})
        f = recv(ws)
        assert f["step"] == step and f["updates"] == {"d": upd["d"] + 1, "g": upd["g"]}
        ws.send_json({"action": "step", "what": "g"})
        f = recv(ws)
        assert f["step"] == step and f["updates"] == {"d": upd["d"] + 1, "g": upd["g"] + 1}
        ws.send_json({"action": "step", "what": "both"})
        f = recv(ws)  # one iteration: d_steps critic and g_steps generator updates
        assert f["step"] == step + 1
        assert f["updates"] == {"d": upd["d"] + 3, "g": upd["g"] + 2}

        ws.send_json({"action": "layers", "value": {"heatmap": False, "arrows": False}})
        f = recv(ws)
        assert f["heatmap"] is None and f["arrows"] is None and f["manifold"] is not None

        ws.send_json({"action": "reset"})
        f = recv(ws)
        assert f["step"] == 0 and f["updates"] == {"d": 0, "g": 0}
        assert f["fake"] == first["fake"]  # same seed: the same start

        for bad, needle in [
            ("{nope", "not JSON"),
            ('{"action": "jump"}', "unknown action"),
            ('{"action": "paly"}', "Did you mean 'play'?"),
            ('{"action": "step", "what": "x"}', "what"),
            ('{"action": "speed", "value": 1000}', "value"),
            ('{"action": "speed", "value": 5, "extra": 1}', "extra"),
            ('{"action": "layers", "value": {"heatmap": "yes"}}', "value.heatmap"),
            ("[1]", "JSON object"),
        ]:
            ws.send_text(bad)
            err = recv(ws, "error")
            assert needle in err["error"], (bad, err)
        ws.send_json({"action": "speed", "value": 5})  # the socket is still usable
        assert recv(ws)["step"] == 0
    # the page went away: the session stopped and was freed
    deadline = time.monotonic() + 5
    while sid in client.app.state.sessions.live and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sid not in client.app.state.sessions.live


def test_websocket_refusals(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect) as e, client.websocket_connect("/api/sessions/x/ws"):
        pass
    assert e.value.code == 4404
    sid = new_session(client)
    with client.websocket_connect(f"/api/sessions/{sid}/ws") as ws:
        recv(ws)
        with (
            pytest.raises(WebSocketDisconnect) as e,
            client.websocket_connect(f"/api/sessions/{sid}/ws"),
        ):
            pass
        assert e.value.code == 4409  # one page per session
    with (
        pytest.raises(WebSocketDisconnect) as e,
        client.websocket_connect("/api/sessions/x/ws", headers={"origin": "http://evil.example"}),
    ):
        pass
    assert e.value.code == 4403
    sid = new_session(client)
    with client.websocket_connect(f"/api/sessions/{sid}/ws") as ws:
        recv(ws)
        assert client.delete(f"/api/sessions/{sid}").status_code == 204
        with pytest.raises(WebSocketDisconnect) as e:
            recv(ws)
        assert e.value.code == 4410  # deleted while its page was open: the socket closes


def test_divergence_is_reported_and_reset_recovers(client: TestClient) -> None:
    wild = {"optimizer": "sgd", "lr": 1.0}
    sid = new_session(client, objective="wgan", g=wild, d=wild)
    with client.websocket_connect(f"/api/sessions/{sid}/ws") as ws:
        recv(ws)
        ws.send_json({"action": "play"})
        err = recv(ws, "error")
        assert "diverged" in err["error"] and "reset" in err["error"]
        f = recv(ws)
        while f["playing"]:
            f = recv(ws)
        json.dumps(f, allow_nan=False)  # NaN never reaches the page
        ws.send_json({"action": "reset"})
        f = recv(ws)
        assert f["step"] == 0 and f["losses"] == {"d": None, "g": None}


def test_custom_points_become_modes() -> None:
    pts = [[-2.0 + 0.01 * i, 2.0] for i in range(10)] + [[2.0, -2.0], [2.05, -2.0], [0.0, 0.0]]
    s = PlaygroundSession(PlaygroundConfig(data="custom", points=pts, batch_size=32))
    centers = s.built.dataset.info["centers"]
    assert len(centers) == 3  # three clusters drawn
    s.iterate(2)
    f = s.frame()
    assert f["metrics"]["modes_total"] == 3 and f["bounds"]["x"] == [
        -3.0,
        3.0,
    ]  # max |x| 2.05 + 0.5, rounded up
    assert len(f["real"]) == 512  # replicated with jitter to a full dataset


# -- runs ------------------------------------------------------------------------------------
def test_runs_listing_detail_compare_files_and_no_writes(
    client: TestClient, runs_root: Path
) -> None:
    before = snapshot(runs_root)

    listing = client.get("/api/runs").json()
    assert listing["root"] == str(runs_root)
    by_name = {r["name"]: r for r in listing["runs"]}
    assert set(by_name) == {"gan-ring8-0001", "sweep/gan-ring8-0002"}  # not the symlink out
    r = by_name["gan-ring8-0001"]
    assert r["recipe"] == "gan-ring8" and r["steps"] == 20 and r["has_samples"]
    assert r["n_cards"] == 1 and "loss/d" in r["last"] and r["created"]

    d = client.get("/api/runs/sweep/gan-ring8-0002").json()
    assert d["config"]["data"]["name"] == "ring8"
    assert [m["step"] for m in d["metrics"]] == [10, 20]
    assert d["samples"][:2] == ["samples/step-00000010.png", "samples/step-00000020.png"]
    assert d["cards"][0]["metric"] == "mode-coverage" and "losses.png" in d["files"]
    assert client.get("/api/runs/nope").status_code == 404

    comp = client.get("/api/compare?runs=gan-ring8-0001,sweep/gan-ring8-0002").json()
    assert comp["columns"][0] == "mode-coverage.modes"
    assert comp["rows"][0]["n"] == 2
    assert comp["rows"][0]["values"]["mode-coverage.modes"] == [
        5.5,
        pytest.approx(0.7071, abs=1e-4),
    ]
    assert client.get("/api/compare").status_code == 400
    assert client.get("/api/compare?runs=gan-ring8-0001,nope").status_code == 404

    png = client.get("/runs/gan-ring8-0001/files/samples/step-00000010.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n"
    cfg = client.get("/runs/sweep/gan-ring8-0002/files/config.yaml")
    assert cfg.status_code == 200 and "ring8" in cfg.text

    assert snapshot(runs_root) == before  # the lab wrote nothing


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"/runs/gan-ring8-0001/files/../../../etc/passwd", 404),
        (b"/runs/gan-ring8-0001/files/samples/../config.yaml", 404),
        (b"/runs/gan-ring8-0001/files/..%2f..%2fetc%2fpasswd", 404),
        (b"/runs/gan-ring8-0001/files/%2e%2e/%2e%2e/etc/passwd", 404),
        (b"/runs/gan-ring8-0001/files/%2E%2E%2Fconfig.yaml", 404),
        (b"/runs/gan-ring8-0001/files//etc/passwd", 404),
        (b"/runs/gan-ring8-0001/files/%2fetc%2fpasswd", 404),
        (b"/runs/gan-ring8-0001/files/samples\\..\\config.yaml", 404),
        (b"/runs/gan-ring8-0001/files/samples%5c..%5cconfig.yaml", 404),
        (b"/runs/gan-ring8-0001/files/config.yaml%00.png", 404),
        (b"/runs/gan-ring8-0001/files/%252e%252e/config.yaml", 404),
        (b"/runs/../gan-ring8-0001/files/config.yaml", 404),
        (b"/runs/escape/files/secret.json", 404),
        (b"/api/runs/../../etc", 404),
        (b"/api/runs/%2e%2e", 404),
        (b"/static/../app.py", 404),
        (b"/static/%2e%2e%2fapp.py", 404),
        (b"/runs/gan-ring8-0001/files/leak.json", 403),
        (b"/runs/gan-ring8-0001/files/samples/leak.png", 403),
        (b"/runs/gan-ring8-0001/files/generator.safetensors", 403),
        (b"/runs/gan-ring8-0001/files/missing.png", 404),
        (b"/runs/gan-ring8-0001/files/checkpoints", 404),
    ],
)
def test_traversal_and_disallowed_files_are_refused(
    client: TestClient, raw: bytes, status: int
) -> None:
    got, body = get_raw(client.app, raw)
    assert got == status, (raw, body)
    assert b"secret" not in body and b"root:" not in body
    assert "error" in json.loads(body)


def test_pages_and_static_files(client: TestClient) -> None:
    from ganforge.lab.app import STATIC_DIR

    for url, name in (("/", "index.html"), ("/runs", "runs.html")):
        r = client.get(url)
        expected = 200 if (STATIC_DIR / name).is_file() else 404
        assert r.status_code == expected
    assert client.get("/static/not-there.js").status_code == 404
    assert client.get("/static/.hidden").status_code == 404
    r = client.get("/api/nothing-here")
    assert r.status_code == 404 and "not found" in r.json()["error"]
    r = client.put("/api/options")
    assert r.status_code == 405 and "not allowed" in r.json()["error"]


# -- the command -----------------------------------------------------------------------------
def test_cli_port_taken_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    from ganforge.cli import main

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        assert main(["lab", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert "ganforge lab: error: cannot listen on" in err and "--port" in err
    assert "Traceback" not in err
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2")


def test_cli_serves_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "ganforge", "lab", "--port", "0", "--runs", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("ganforge lab: http://127.0.0.1:"), line
        url = line.split()[2]
        assert httpx.get(url + "api/runs", timeout=10).json()["runs"] == []
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err
