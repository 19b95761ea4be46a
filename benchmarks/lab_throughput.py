"""Playground throughput: training steps/s, frames/s and frame size of a lab session.

A session with the page's default settings (ring8, 2x64 MLPs, batch 128, Adam 1e-3,
non-saturating loss, one critic and one generator update per iteration, every layer
on, speed 100 = unthrottled) plays for ``--seconds``. Goal (issue 8): >= 50 training
iterations/s with >= 10 frames/s on 2 CPU cores.

Two ways to drive it:

- default: in process, no HTTP: the session's own worker thread (the code the server
  runs) with a publish callback that counts frames and their JSON bytes;
- ``--ws``: through the whole app, Starlette's TestClient WebSocket (ASGI in process,
  no network): what a page receives.

One intra-op thread, as ``ganforge lab`` sets for its process (``--threads`` to change).

    python benchmarks/lab_throughput.py
    python benchmarks/lab_throughput.py --ws --seconds 20
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import threading
import time
from typing import Any

import torch

from ganforge.lab.playground import PlaygroundConfig, PlaygroundSession, SessionWorker, dumps


def direct(seconds: float, config: dict[str, Any]) -> dict[str, Any]:
    """Play a session on its worker thread; count what it publishes."""
    session = PlaygroundSession(PlaygroundConfig(**config))
    sizes: list[int] = []
    lock = threading.Lock()

    def publish(kind: str, text: str) -> None:
        if kind == "error":
            raise SystemExit(f"session error: {text}")
        with lock:
            sizes.append(len(text.encode()))

    worker = SessionWorker(session, publish, "bench")
    worker.start()
    worker.send({"action": "play"})
    time.sleep(0.5)  # warm-up: first frames, allocator, lazy imports
    with lock:
        f0 = len(sizes)
    s0, t0 = session.iterations, time.perf_counter()
    time.sleep(seconds)
    with lock:
        f1 = len(sizes)
    s1, t1 = session.iterations, time.perf_counter()
    worker.stop(timeout=5)
    return {
        "steps_per_s": (s1 - s0) / (t1 - t0),
        "frames_per_s": (f1 - f0) / (t1 - t0),
        "bytes": sizes[f0:f1],
        "session": session,
    }


def through_ws(seconds: float, config: dict[str, Any]) -> dict[str, Any]:
    """The same through the app: POST /api/sessions, then play over the WebSocket."""
    from starlette.testclient import TestClient

    from ganforge.lab import create_app

    with tempfile.TemporaryDirectory() as runs, TestClient(create_app(runs)) as client:
        r = client.post("/api/sessions", json=config)
        r.raise_for_status()
        sid = r.json()["id"]
        with client.websocket_connect(f"/api/sessions/{sid}/ws") as ws:
            ws.receive_text()  # the frame sent on connect
            ws.send_json({"action": "play"})
            t_end = time.perf_counter() + 0.5  # warm-up
            while time.perf_counter() < t_end:
                ws.receive_text()
            frames: list[tuple[float, int, int]] = []  # (time, step, bytes)
            t_end = time.perf_counter() + seconds
            while time.perf_counter() < t_end:
                text = ws.receive_text()
                msg = json.loads(text)
                if msg["type"] == "error":
                    raise SystemExit(f"session error: {msg['error']}")
                frames.append((time.perf_counter(), msg["step"], len(text.encode())))
            ws.send_json({"action": "pause"})
        span = frames[-1][0] - frames[0][0]
        return {
            "steps_per_s": (frames[-1][1] - frames[0][1]) / span,
            "frames_per_s": (len(frames) - 1) / span,
            "bytes": [b for _, _, b in frames],
            "session": None,
        }


def frame_cost(session: PlaygroundSession, n: int = 30) -> tuple[float, float]:
    """Mean milliseconds of one frame (compute + JSON) and of one iteration, paused."""
    t = time.perf_counter()
    for _ in range(n):
        dumps(session.frame())
    frame_ms = (time.perf_counter() - t) / n * 1e3
    t = time.perf_counter()
    session.iterate(100)
    return frame_ms, (time.perf_counter() - t) / 100 * 1e3


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=10.0, help="measured play time")
    p.add_argument("--ws", action="store_true", help="through the app's WebSocket")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (lab: 1)")
    p.add_argument("--data", default="ring8")
    p.add_argument("--objective", default="ns")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    config = {"data": a.data, "objective": a.objective}
    res = (through_ws if a.ws else direct)(a.seconds, config)
    sizes = res["bytes"]
    print(
        f"ganforge lab playground throughput ({'TestClient WebSocket' if a.ws else 'in process, no HTTP'}); "
        f"{a.data}, {a.objective}, default 2x64 MLPs, batch 128, {a.seconds:g} s"
    )
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__}, {a.threads} intra-op thread(s), "
        f"load average {os.getloadavg()[0]:.2f} at the end"
    )
    print(
        f"  training steps/s (iterations: 1 D + 1 G update) : {res['steps_per_s']:8.1f}  (goal >= 50)"
    )
    print(
        f"  frames/s                                        : {res['frames_per_s']:8.1f}  (goal >= 10)"
    )
    print(
        f"  frame payload (JSON bytes)                      : {statistics.mean(sizes):8.0f} mean, "
        f"{max(sizes)} max  ({statistics.mean(sizes) * res['frames_per_s'] / 1024:.0f} kB/s)"
    )
    if res["session"] is not None:
        frame_ms, step_ms = frame_cost(res["session"])
        print(f"  one frame, paused (compute + JSON)              : {frame_ms:8.2f} ms")
        print(f"  one iteration, paused                           : {step_ms:8.2f} ms")


if __name__ == "__main__":
    main()
