"""Helpers for tests that run the platform as real processes: a free port, waiting for health, stopping, crashing."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Callable

import httpx


def free_port() -> int:
    """A loopback TCP port that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(
    process: subprocess.Popen[bytes], base_url: str, within: float, name: str, tail: Callable[[], str]
) -> None:
    """Poll `/healthz` until it answers 200; RuntimeError with the log's tail if the process exits or never answers."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{tail()}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not start:\n{tail()}")


def crash(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL: no shutdown, no goodbye to open connections."""
    process.send_signal(signal.SIGKILL)
    process.wait(10)


def stop(process: subprocess.Popen[bytes], grace: float) -> int | None:
    """SIGTERM, then SIGKILL if it lingers longer than `grace` seconds; the exit code."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    return process.returncode
