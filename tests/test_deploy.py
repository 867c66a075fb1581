"""`python -m deploy.serve` with two workers behind HAProxy: pages through the proxy, one visitor kept on one
worker (its WebSocket, media and uploads), a killed worker taking only its own sessions, a clean stop.

No browser: the tests speak HTTP and Streamlit's own WebSocket protocol (BackMsg / ForwardMsg). Each lab worker
warms up before it answers (~15 s idle, a minute on a busy 2-core machine), so the module starts the command once.
"""
import csv
import io
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from deploy.serve import find_haproxy, free_port, render_config

pytestmark = pytest.mark.skipif(find_haproxy() is None, reason="HAProxy is not installed (apt-get install haproxy)")

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 300  # two lab workers warming up on a busy 2-core machine
COOKIE = "IBL_WORKER"


class Serve:
    """The command as a child process; its output collected line by line, so that tests can wait for a line."""

    def __init__(self, args: list[str]):
        self.proc = subprocess.Popen([sys.executable, "-m", "deploy.serve", *args], cwd=ROOT, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines: list[str] = []
        self.ended = False
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self.ended = True
            self._changed.notify_all()

    def wait_line(self, pattern: str, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines:
                    if m := re.search(pattern, line):
                        return m
                left = deadline - time.monotonic()
                if left <= 0 or self.ended:
                    raise AssertionError(f"no line like {pattern!r} within {timeout:.0f} s:\n" + self.output())
                self._changed.wait(left)

    def output(self) -> str:
        return "\n".join(self.lines[-40:])


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    db = tmp_path_factory.mktemp("deploy") / "classroom.db"
    port = free_port()
    serve = Serve(["--workers", "2", "--port", str(port), "--address", "127.0.0.1", "--database-url", str(db)])
    try:
        ready = serve.wait_line(r"ready: (\S+) .*stats socket (\S+)\)", START_TIMEOUT_S)
        pids = {m[1]: int(m[2]) for m in (re.search(r"worker (w\d): pid (\d+)", x) for x in serve.lines) if m}
        yield {"serve": serve, "url": ready[1], "stats": ready[2], "pids": pids, "db": str(db)}
    finally:
        if serve.proc.poll() is None:
            serve.proc.send_signal(signal.SIGTERM)
            try:
                serve.proc.wait(30)
            except subprocess.TimeoutExpired:
                serve.proc.kill()


def get(url: str, cookie: str | None = None, timeout: float = 60):
    """(status, headers, body) of a GET; HTTP errors are answers too."""
    req = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def worker_states(stats_socket: str) -> dict[str, str]:
    """{server name: UP / DOWN / MAINT ...} from HAProxy's stats socket ("UP 1/3", a check missed while it is still
    up, reads UP)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(stats_socket)
        s.sendall(b"show stat\n")
        data = b"".join(iter(lambda: s.recv(65536), b""))
    rows = csv.DictReader(io.StringIO(data.decode().lstrip("# ")))
    return {r["svname"]: r["status"].split()[0] for r in rows
            if r["pxname"] == "streamlit" and r["svname"] != "BACKEND"}


def wait_until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"not within {timeout:.0f} s: {what}"
        time.sleep(0.1)
    return result


class Session:
    """One Streamlit session over the proxy's WebSocket, as a browser tab holds it; `cookie` picks the worker."""

    def __init__(self, base: str, cookie: str | None):
        from websockets.sync.client import connect

        self.ws = connect(base.replace("http://", "ws://") + "/_stcore/stream", subprotocols=["streamlit"],
                          additional_headers={"Cookie": cookie} if cookie else {}, open_timeout=60, max_size=None)
        self.worker = self.ws.response.headers.get("X-Worker")  # HAProxy adds it to the 101 answer too
        self.session_id, self.media = None, set()

    def run(self, timeout: float = 120) -> list[str]:
        """Rerun the home page (empty client state: the default page) and read ForwardMsgs until it finishes;
        remembers the session id and the /media/ URLs of the pictures it shows. Returns the message kinds."""
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        back = BackMsg()
        back.rerun_script.query_string = ""
        back.rerun_script.page_script_hash = ""
        self.ws.send(back.SerializeToString())
        kinds, deadline = [], time.monotonic() + timeout
        while True:
            raw = self.ws.recv(timeout=max(0.1, deadline - time.monotonic()))
            msg = ForwardMsg()
            msg.ParseFromString(raw)
            kinds.append(msg.WhichOneof("type"))
            if kinds[-1] == "new_session":
                self.session_id = msg.new_session.initialize.session_id
            # an image's URL is a plain string inside the serialized delta
            self.media.update(u.decode() for u in re.findall(rb"/media/[0-9a-f]+\.(?:png|jpg|jpeg|webp)", raw))
            if kinds[-1] == "script_finished":
                return kinds

    def close(self) -> None:
        self.ws.close()


def upload(base: str, worker_cookie: str, session_id: str):
    """PUT a small file to the session's upload URL as the browser does (XSRF cookie and header); (status, worker,
    body)."""
    _, headers, _ = get(base + "/_stcore/health", worker_cookie)
    xsrf = re.search(r"_streamlit_xsrf=([^;]+)", "; ".join(headers.get_all("Set-Cookie") or []))[1]
    boundary = "ibl" + uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="note.txt"\r\n'
            f"Content-Type: text/plain\r\n\r\nhello\r\n--{boundary}--\r\n").encode()
    req = urllib.request.Request(f"{base}/_stcore/upload_file/{session_id}/{uuid.uuid4()}", data=body, method="PUT",
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}",
                                          "Cookie": f"{worker_cookie}; _streamlit_xsrf={xsrf}", "X-Xsrftoken": xsrf})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.headers["X-Worker"], r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["X-Worker"], e.read()


def test_pages_and_health_are_served_through_the_proxy(lab):
    status, headers, body = get(lab["url"] + "/")
    assert status == 200 and b'<div id="root">' in body
    worker = headers["X-Worker"]
    assert worker in ("w1", "w2")
    assert f"{COOKIE}={worker}" in "; ".join(headers.get_all("Set-Cookie"))  # HAProxy's cookie names the worker
    assert get(lab["url"] + "/_stcore/health")[::2] == (200, b"ok")
    assert worker_states(lab["stats"]) == {"w1": "UP", "w2": "UP"}


def test_every_worker_gets_the_classroom_database(lab):
    for pid in lab["pids"].values():
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert f"IBL_CLASSROOM_DB={lab['db']}".encode() in environ
    assert "share one classroom database" in lab["serve"].output()  # an SQLite file: the note says when it fits


def test_a_cookie_keeps_a_visitor_on_one_worker(lab):
    for worker in ("w1", "w2"):
        answered = {get(lab["url"] + path, f"{COOKIE}={worker}")[1]["X-Worker"]
                    for path in ["/", "/_stcore/health"] * 3}
        assert answered == {worker}


def test_websocket_media_and_uploads_reach_the_sessions_worker(lab):
    session = Session(lab["url"], f"{COOKIE}=w1")
    try:
        assert session.ws.subprotocol == "streamlit" and session.worker == "w1"
        kinds = session.run()
        assert kinds[0] == "new_session" and "delta" in kinds and session.session_id
        assert session.media, "the home page shows a picture"
        url = lab["url"] + sorted(session.media)[0]
        status, headers, body = get(url, f"{COOKIE}=w1")
        assert (status, headers["X-Worker"]) == (200, "w1") and len(body) > 1000
        # the picture lives in w1's memory only: without stickiness a browser would get a broken image
        assert get(url, f"{COOKIE}=w2")[0] == 404
        assert upload(lab["url"], f"{COOKIE}=w1", session.session_id)[:2] == (204, "w1")
        status, worker, body = upload(lab["url"], f"{COOKIE}=w2", session.session_id)
        assert (status, worker) == (400, "w2") and b"sticky sessions" in body
    finally:
        session.close()


def test_a_killed_worker_takes_only_its_own_sessions(lab):
    doomed, survivor = Session(lab["url"], f"{COOKIE}=w1"), Session(lab["url"], f"{COOKIE}=w2")
    try:
        doomed.run()
        survivor.run()
        assert (doomed.worker, survivor.worker) == ("w1", "w2")
        os.kill(lab["pids"]["w1"], signal.SIGKILL)

        wait_until(lambda: worker_states(lab["stats"])["w1"] == "DOWN", 60, "HAProxy marks w1 down")
        assert worker_states(lab["stats"])["w2"] == "UP"
        lab["serve"].wait_line(rf"worker w1 \(pid {lab['pids']['w1']}\) exited with code -9", 10)
        with pytest.raises(Exception, match="(?i)closed|1006|1011|no close frame"):  # w1's session is gone ...
            doomed.run(timeout=30)
        kinds = survivor.run()  # ... w2's goes on
        assert "script_finished" in kinds and "delta" in kinds
        assert get(lab["url"] + sorted(survivor.media)[0], f"{COOKIE}=w2")[0] == 200

        # new visitors, and w1's visitors coming back, are served by w2 and told so by a new cookie
        for cookie in (None, None, f"{COOKIE}=w1"):
            status, headers, body = get(lab["url"] + "/", cookie)
            assert (status, headers["X-Worker"]) == (200, "w2") and b'<div id="root">' in body
            assert f"{COOKIE}=w2" in "; ".join(headers.get_all("Set-Cookie"))
        returning = Session(lab["url"], f"{COOKIE}=w1")
        try:
            assert returning.worker == "w2" and "script_finished" in returning.run()
        finally:
            returning.close()
    finally:
        doomed.close()
        survivor.close()


def test_sigterm_stops_the_proxy_and_every_worker(lab):
    serve = lab["serve"]
    haproxy = [int(p) for p in subprocess.run(["pgrep", "-P", str(serve.proc.pid), "haproxy"], text=True,
                                              capture_output=True).stdout.split()]
    assert len(haproxy) == 1
    serve.proc.send_signal(signal.SIGTERM)
    assert serve.proc.wait(30) == 0
    for pid in [*lab["pids"].values(), *haproxy]:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()


def test_the_container_proxy_keeps_the_same_rules():
    """deploy/haproxy-compose.cfg is written by hand for the containers (it cannot be run here): it must keep every
    rule of the template that serve.py runs, except the addresses."""
    served = render_config("127.0.0.1:8080", [("w1", "127.0.0.1:8501")], "/tmp/haproxy.sock")
    compose = (ROOT / "deploy" / "haproxy-compose.cfg").read_text()
    rules = [line.strip() for line in served.splitlines()
             if line.strip() and not line.strip().startswith(("#", "bind", "server", "stats socket"))]
    missing = [rule for rule in rules if rule not in compose]
    assert not missing, missing
    assert re.findall(r"server (w\d) app\d:8501 cookie (w\d)", compose) == [("w1", "w1"), ("w2", "w2")]
