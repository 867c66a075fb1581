"""`python -m deploy.serve`: W `streamlit run` processes of the lab behind HAProxy, each browser kept on one of them.

    python -m deploy.serve [--workers W] [--port 8080] [--address 0.0.0.0] [--database-url URL] [--restart]

One Streamlit process runs every session's script in one Python interpreter, so a class queues behind itself;
W processes (default: one per usable core) share the work. A Streamlit session lives in one process's memory (its
WebSocket, its media files, its uploads), so HAProxy keeps each browser on the process that served its first page,
by a cookie it inserts, and health-checks every process (deploy/haproxy.cfg.template says why HAProxy).

The workers listen on loopback ports only HAProxy uses. Nothing is restarted silently: a worker that dies is
reported, HAProxy takes it out, its own sessions are lost and everybody else goes on; with --restart it is started
again on its port (HAProxy lets it back in once its health check answers). SIGTERM or SIGINT stops everything.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from string import Template

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = Path(__file__).with_name("haproxy.cfg.template")
START_TIMEOUT_S = 300.0  # the lab answers its health check once warmed up: ~15 s idle, longer on a busy machine


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def find_haproxy() -> str | None:
    return shutil.which("haproxy") or next((p for p in ("/usr/sbin/haproxy",) if os.access(p, os.X_OK)), None)


@dataclass
class Worker:
    name: str  # also its HAProxy server name and cookie value
    port: int
    log: Path
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, env: dict) -> None:
        # the lab's own settings come from .streamlit/config.toml, read from the project root
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
                 "--server.address", "127.0.0.1", "--server.port", str(self.port)],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def render_config(bind: str, servers: list[tuple[str, str]], stats_socket: str) -> str:
    """HAProxy's configuration: the template with the bind address, one `server` line per (name, host:port)."""
    lines = "\n".join(f"    server {name} {addr} cookie {name}" for name, addr in servers)
    return Template(TEMPLATE.read_text()).substitute(bind=bind, servers=lines, stats_socket=stats_socket)


def healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url + "/_stcore/health", timeout=timeout) as r:
            return r.status == 200
    except OSError:
        return False


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def say(text: str) -> None:
    print(f"[deploy.serve] {text}", flush=True)


def worker_env(workers: int, database_url: str | None) -> dict:
    env = dict(os.environ)
    # each process has its own pool of compute threads (ui/compute.py, one per core by default); W of them would
    # oversubscribe the cores, so together they get about one thread per core, unless the setting says otherwise
    env.setdefault("IBL_COMPUTE_SLOTS", str(max(1, usable_cores() // workers)))
    if database_url:
        env["IBL_CLASSROOM_DB"] = database_url  # read by core/classroom.py in every worker
    return env


def warn_database(database_url: str | None, workers: int) -> None:
    if workers < 2:
        return
    if database_url and database_url.startswith(("postgresql://", "postgres://")):
        return
    where = database_url or "the default SQLite file (core/classroom.py)"
    say(f"note: the {workers} workers share one classroom database, {where}. An SQLite file (WAL mode) is fine for "
        "processes on one machine; workers on several machines need PostgreSQL (--database-url postgresql://...).")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m deploy.serve", description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", "-w", type=int, default=usable_cores(), help="Streamlit processes (default: cores)")
    ap.add_argument("--port", type=int, default=8080, help="HAProxy's port, the one visitors open (default 8080)")
    ap.add_argument("--address", default="0.0.0.0", help="HAProxy's address (default: every interface)")
    ap.add_argument("--database-url", help="classroom database for every worker (IBL_CLASSROOM_DB): a path or a "
                    "postgresql:// URL")
    ap.add_argument("--restart", action="store_true", help="start a worker that died again (reported all the same)")
    args = ap.parse_args(argv)
    haproxy = find_haproxy()
    if haproxy is None:
        ap.error("haproxy is not installed (Debian/Ubuntu: apt-get install haproxy, as root)")
    if args.workers < 1:
        ap.error("--workers must be at least 1")

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    warn_database(args.database_url, args.workers)
    env = worker_env(args.workers, args.database_url)

    with tempfile.TemporaryDirectory(prefix="ibl-deploy-") as tmp:
        workers = [Worker(f"w{i}", free_port(), Path(tmp) / f"w{i}.log") for i in range(1, args.workers + 1)]
        stats = str(Path(tmp) / "haproxy.sock")
        config = Path(tmp) / "haproxy.cfg"
        config.write_text(render_config(f"{args.address}:{args.port}", [(w.name, f"127.0.0.1:{w.port}")
                                                                        for w in workers], stats))
        proxy = None
        try:
            for w in workers:
                w.start(env)
                say(f"worker {w.name}: pid {w.proc.pid}, {w.url}, log {w.log}")
            # HAProxy starts once the workers answer, so that the first visitor finds them warm
            deadline = time.monotonic() + START_TIMEOUT_S
            waiting = list(workers)
            dead: set[str] = set()  # reported once each; a worker that fails to start is not restarted
            while waiting and not stop.is_set():
                for w in list(waiting):
                    if w.proc.poll() is not None:
                        say(f"worker {w.name} exited with code {w.proc.returncode} while starting:\n{tail(w.log)}")
                        waiting.remove(w)
                        dead.add(w.name)
                    elif healthy(w.url, 1.0):
                        waiting.remove(w)
                if time.monotonic() > deadline:
                    say(f"workers {', '.join(w.name for w in waiting)} did not answer within {START_TIMEOUT_S:.0f} s")
                    return 1
                stop.wait(0.25)
            if stop.is_set() or all(w.proc.poll() is not None for w in workers):
                return 0 if stop.is_set() else 1

            # -db: in the foreground, as our child; its warnings (a worker down or up) go to our output
            proxy = subprocess.Popen([haproxy, "-db", "-f", str(config)])
            public = f"http://{'127.0.0.1' if args.address in ('0.0.0.0', '::') else args.address}:{args.port}"
            while not healthy(public, 1.0):
                if proxy.poll() is not None:
                    say(f"haproxy exited with code {proxy.returncode} (config: {config})")
                    return 1
                if stop.wait(0.25):
                    return 0
            plural = "s" * (len(workers) != 1)
            say(f"ready: {public} ({len(workers)} worker{plural} behind HAProxy, stats socket {stats})")

            while not stop.wait(0.5):  # without --restart a dead worker stays dead
                if proxy.poll() is not None:
                    say(f"haproxy exited with code {proxy.returncode}; stopping the workers")
                    return 1
                for w in workers:
                    if w.name in dead or w.proc.poll() is None:
                        continue
                    say(f"worker {w.name} (pid {w.proc.pid}) exited with code {w.proc.returncode}: its sessions are "
                        f"lost, HAProxy sends its visitors to the others. Its log ends:\n{tail(w.log)}")
                    if args.restart:
                        w.start(env)
                        say(f"worker {w.name} restarted: pid {w.proc.pid}, {w.url}")
                    else:
                        dead.add(w.name)
                if len(dead) == len(workers):
                    say("no worker is left; stopping")
                    return 1
            return 0
        finally:
            stop_all([proxy] + [w.proc for w in workers])
            say("stopped")


def stop_all(procs: list[subprocess.Popen | None]) -> None:
    """SIGTERM to every child still running (HAProxy first: no new connections), then SIGKILL after 10 s."""
    live = [p for p in procs if p is not None and p.poll() is None]
    for p in live:
        p.terminate()
    deadline = time.monotonic() + 10
    for p in live:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


if __name__ == "__main__":
    sys.exit(main())
