"""Processes under test and the load generator: start/stop servers, read their memory, run wrk."""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.fixtures import BIN, ROOT

LOG_DIR = ROOT / "var" / "bench"


def ensure_wrk() -> str:
    """The wrk binary; installed from Debian's packages when missing (as root), otherwise say how."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing: apt-get install -y wrk", flush=True)
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=False, capture_output=True)
        found = shutil.which("wrk")
    if not found:
        raise SystemExit("The benchmark needs wrk: `sudo apt-get install -y wrk` (Debian/Ubuntu), then run again.")
    return found


def raise_fd_limit() -> int:
    """Raise the soft open-files limit to the hard one (servers and clients inherit it)."""
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def _children(pid: int) -> list[int]:
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
            found += [int(c) for c in text.split()]
    except OSError:
        pass
    return found


def tree_rss(pid: int) -> int:
    """Resident memory (bytes) of a process and all its descendants, from /proc."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        total += int(match.group(1)) * 1024 if match else 0
        todo += _children(p)
    return total


@dataclass
class Server:
    """A server process we started (its own process group), with its log under var/bench/."""

    name: str
    port: int
    argv: list[str]
    env: dict[str, str]
    nice: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_path: str | None = "/healthz", timeout: float = 60) -> Server:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        log = (LOG_DIR / f"{self.name}.log").open("wb")
        argv = ["nice", "-n", str(self.nice), *self.argv] if self.nice else self.argv
        self.proc = subprocess.Popen(
            argv, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        if self.nice:
            _nice_session(self.proc.pid, self.nice)
        deadline = time.monotonic() + timeout
        while ready_path is not None and time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {LOG_DIR / (self.name + '.log')}")
            try:
                if httpx.get(self.url + ready_path, timeout=1).status_code == 200:
                    time.sleep(1.0)  # let every worker finish its start-up
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        if ready_path is None:
            return self
        raise RuntimeError(f"{self.name} did not become ready")

    def rss(self) -> int:
        return tree_rss(self.proc.pid) if self.proc else 0

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the group of the process we started
            self.proc.wait()


def _nice_session(pid: int, nice: int) -> None:
    """Lower the priority of a process's whole session. With the kernel's session autogrouping on (the default
    on desktops and many VMs, /proc/sys/kernel/sched_autogroup_enabled) the CPU is first shared between sessions,
    so a process's own nice value only ranks it inside its session: a `nice -n 19` worker in a session of its own
    took a quarter of this 2-core machine during the registration rush. The session's nice value is its
    autogroup's (see sched(7))."""
    try:
        Path(f"/proc/{pid}/autogroup").write_text(str(nice))
    except OSError:
        pass  # no autogrouping here: the process's nice value is all there is


def platform(name: str, port: int, env: dict[str, str], workers: int) -> Server:
    argv = [str(BIN / "webinar"), "serve", "--workers", str(workers), "--port", str(port)]
    return Server(name, port, argv, env)


def mail_worker(env: dict[str, str]) -> Server:
    """The background loops (mail sender, sweeper) in their own low-priority process, as on a multi-machine setup."""
    return Server("worker", 0, [str(BIN / "webinar"), "worker"], env, nice=19)


def baseline_app(port: int, env: dict[str, str]) -> Server:
    argv = [str(BIN / "uvicorn"), "bench.baseline_app:app", "--workers", "2", "--port", str(port)]
    return Server("baseline", port, argv, env)  # uvicorn's defaults, access log included, as `webinar serve`


@dataclass
class WrkResult:
    requests: int
    seconds: float
    socket_errors: int
    status_errors: int
    unexpected: int
    p50_ms: float
    p99_ms: float
    raw: dict[str, Any] = field(repr=False)  # the BENCH_JSON line; a script's FLOW_JSON line under "flow"

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.socket_errors + self.status_errors + self.unexpected


def wrk(url: str, script: str, duration: float, connections: int, threads: int, args: list[str] = ()) -> WrkResult:
    """Run wrk with one of our Lua scripts; its summary comes back as the BENCH_JSON line."""
    argv = [ensure_wrk(), f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency"]
    argv += ["--timeout", "10s", "-s", str(ROOT / "bench" / script), url, "--", *args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    parsed = _parse(subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=True).stdout)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # wrk's own CPU: on a 2-core machine the load generator's share is the servers' loss.
    parsed.raw["wrk_cpu_s"] = round(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, 2)
    return parsed


def _parse(out: str) -> WrkResult:
    line = next(x for x in out.splitlines() if x.startswith("BENCH_JSON "))
    data = json.loads(line.removeprefix("BENCH_JSON "))
    flow = next((x for x in out.splitlines() if x.startswith("FLOW_JSON ")), None)
    if flow is not None:
        data["flow"] = json.loads(flow.removeprefix("FLOW_JSON "))
    return WrkResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        socket_errors=data["socket_errors"],
        status_errors=data["status_errors"],
        unexpected=data["unexpected"],
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        raw=data,
    )


class wrk_until_stopped:  # lower case: used like a function, `with wrk_until_stopped(...) as probe:`
    """wrk running in the background until the block ends (SIGINT makes it print its summary)."""

    def __init__(self, url: str, script: str, connections: int, threads: int) -> None:
        argv = [ensure_wrk(), f"-t{threads}", f"-c{connections}", "-d3600s", "--latency", "--timeout", "10s"]
        self.argv = [*argv, "-s", str(ROOT / "bench" / script), url]
        self.result: WrkResult | None = None

    def __enter__(self) -> wrk_until_stopped:
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.send_signal(signal.SIGINT)
        out, _err = self.proc.communicate(timeout=30)
        self.result = _parse(out)


class RssSampler:
    """Samples a server's RSS every `interval` seconds in a thread; keeps the peak."""

    def __init__(self, server: Server, interval: float = 0.25) -> None:
        self.server, self.interval = server, interval
        self.start_rss = server.rss()
        self.peak = self.start_rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self.server.rss())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.server.rss())


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
VERSION_RE = re.compile(r'name="consent_version" value="(\d+)"')


def form_session(url: str) -> tuple[str, str, str]:
    """GET a form page once: (cookie header, csrf token, consent version or '')."""
    response = httpx.get(url, timeout=10)
    response.raise_for_status()
    cookie = "; ".join(f"{k}={v}" for k, v in response.cookies.items())
    version = VERSION_RE.search(response.text)
    return cookie, CSRF_RE.search(response.text).group(1), version.group(1) if version else ""
