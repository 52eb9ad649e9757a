"""wpwire: a small workpool client for black-box broker tests.

Written from proto/PROTOCOL.md alone, the way a client in another language
would be: a pyzmq DEALER socket and msgpack, no code of ours. Also starts
and stops the real workpoold binary in a temporary directory.
"""
import collections
import msgpack
import os
import re
import signal
import subprocess
import tempfile
import shutil
import time
import zmq

OK, CANCELLED, UNKNOWN, INVALID_ARGUMENT, DEADLINE_EXCEEDED, NOT_FOUND = 0, 1, 2, 3, 4, 5
ALREADY_EXISTS, PERMISSION_DENIED, RESOURCE_EXHAUSTED, FAILED_PRECONDITION = 6, 7, 8, 9
ABORTED, OUT_OF_RANGE, UNIMPLEMENTED, INTERNAL, UNAVAILABLE = 10, 11, 12, 13, 14

ITEM_KEYS = ["id", "pool", "data", "status", "claimed_by", "claimed_at", "lease_expires_at",
             "attempts", "max_retries", "result", "error", "created_at", "priority", "run_at",
             "unique_key"]
WORKER_KEYS = ["worker_id", "host", "pid", "capabilities", "pool_id", "started_at", "status",
               "last_heartbeat", "current_task_id", "heartbeat_interval_seconds", "metadata"]
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


class TestFailure(Exception):
    pass


def check(condition, what):
    """Fails the test with what, unless condition holds."""
    if not condition:
        raise TestFailure(what)


def pack(value):
    return msgpack.packb(value, use_bin_type=True)


def header(request_id, method, timeout_ms=0, metadata=None, signature="WPQ", version=1):
    return pack([signature, version, request_id, method, timeout_ms,
                 {} if metadata is None else metadata])


class Reply:
    def __init__(self, frames):
        self.frames = frames
        head = msgpack.unpackb(frames[0], raw=False)
        if not (isinstance(head, list) and len(head) == 5 and head[0] == "WPR" and head[1] == 1):
            raise TestFailure("malformed reply header %r" % (head,))
        self.request_id, self.status, self.message = head[2], head[3], head[4]
        self.body = msgpack.unpackb(frames[1], raw=False) if len(frames) > 1 else None
        if len(frames) != 2:
            raise TestFailure("reply of %d frames" % len(frames))

    def __repr__(self):
        return "Reply(id=%r, status=%r, message=%r, body=%r)" % (
            self.request_id, self.status, self.message, self.body)


class Client:
    """One DEALER socket. Replies are matched by request id."""

    def __init__(self, endpoint, context=None):
        self.context = context or zmq.Context.instance()
        self.socket = self.context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(endpoint)
        self.next_id = 1
        self.early = {}
        self.streams = {}   # request id of a Subscribe -> its replies not yet read

    def close(self):
        self.socket.close(0)

    def send(self, method, body=None, timeout_ms=0, metadata=None, request_id=None):
        if request_id is None:
            request_id = self.next_id
            self.next_id += 1
        self.socket.send_multipart([header(request_id, method, timeout_ms, metadata),
                                    pack({} if body is None else body)])
        return request_id

    def send_raw(self, frames):
        self.socket.send_multipart(frames)

    def recv(self, timeout=10.0):
        """The next reply, or None if none comes within timeout seconds."""
        if not self.socket.poll(int(timeout * 1000)):
            return None
        return Reply(self.socket.recv_multipart())

    def wait_for(self, request_id, timeout=10.0):
        deadline = time.monotonic() + timeout
        while request_id not in self.early:
            left = deadline - time.monotonic()
            reply = self.recv(max(left, 0)) if left > 0 else None
            if reply is None:
                raise TestFailure("no reply to request %r within %gs" % (request_id, timeout))
            self._keep(reply)
        return self.early.pop(request_id)

    def _keep(self, reply):
        if reply.request_id in self.streams:
            self.streams[reply.request_id].append(reply)
        else:
            self.early[reply.request_id] = reply

    def call(self, method, body=None, timeout_ms=0, timeout=10.0, metadata=None):
        return self.wait_for(self.send(method, body, timeout_ms, metadata), timeout)

    def ok(self, method, body=None, **kwargs):
        """Calls method and fails the test unless the reply is OK; returns its body."""
        reply = self.call(method, body, **kwargs)
        check(reply.status == OK, "%s %r: %r" % (method, body, reply))
        return reply.body

    def counters(self):
        return self.ok("Broker.Stats")["counters"]

    # WorkPool.Subscribe: one request, many replies with its id

    def subscribe(self, body, timeout_ms=0):
        """Sends a Subscribe; returns its request id for stream_next."""
        request_id = self.send("WorkPool.Subscribe", body, timeout_ms)
        self.streams[request_id] = collections.deque()
        return request_id

    def stream_next(self, request_id, timeout=10.0):
        """The stream's next reply (a stream message or its final reply), or
        None if none comes within timeout seconds. Other replies read on the
        way are kept for wait_for."""
        queue = self.streams[request_id]
        deadline = time.monotonic() + timeout
        while not queue:
            left = deadline - time.monotonic()
            reply = self.recv(left) if left > 0 else None
            if reply is None:
                return None
            self._keep(reply)
        return queue.popleft()


def wait_until(predicate, what, timeout=20.0, every=0.02):
    """Polls predicate until it holds; fails the test after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TestFailure("timed out waiting for " + what)
        time.sleep(every)


class Daemon:
    """A workpoold process on an ipc endpoint in a temporary directory."""

    started = []        # every daemon started, so a failing test can kill them

    # WP_TEST_STORE runs the daemons of a test on another store ("image")
    def __init__(self, binary, workdir, *args, store=os.environ.get("WP_TEST_STORE", "sqlite"),
                 bind=None):
        self.binary = binary
        self.workdir = workdir
        self.args = list(args)
        self.store = store
        self.endpoint = bind or "ipc://%s/broker.ipc" % workdir
        self.db = os.path.join(workdir, "workpool.db")
        self.process = None
        self.log_path = os.path.join(workdir, "workpoold.log")

    def start(self, timeout=30.0):
        self.log_file = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [self.binary, "--bind", self.endpoint, "--db", self.db, "--store", self.store]
            + self.args, stdout=self.log_file, stderr=subprocess.STDOUT)
        Daemon.started.append(self)
        if "*" in self.endpoint:
            def bound():
                found = re.findall(r"listening on (tcp://\S+)", self.log())
                return found[-1] if found else None
            self.endpoint = wait_until(bound, "the broker to bind", timeout)
        probe = Client(self.endpoint)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if self.process.poll() is not None:
                    raise TestFailure("workpoold exited with %d:\n%s"
                                      % (self.process.returncode, self.log()))
                # Any answer will do: a busy machine may answer late
                probe.send("Broker.Ping")
                if probe.recv(0.5) is not None:
                    break
                if time.monotonic() > deadline:
                    raise TestFailure("workpoold did not answer a ping:\n" + self.log())
        finally:
            probe.close()
        return self

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def signal(self, signum):
        self.process.send_signal(signum)

    def wait(self, timeout=60.0):
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise TestFailure("workpoold did not exit within %gs:\n%s" % (timeout, self.log()))
        self.log_file.close()
        return code

    def stop(self):
        """Stops the broker with SIGTERM; fails the test unless it exits 0."""
        self.signal(signal.SIGTERM)
        code = self.wait()
        check(code == 0, "workpoold exited with %d:\n%s" % (code, self.log()))

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
            self.log_file.close()

    @staticmethod
    def kill_all():
        for daemon in Daemon.started:
            daemon.kill()


class Workdir:
    """A temporary directory, removed at the end (kept if WP_KEEP_TMP is set)."""

    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="wp-broker-test-")
        return self.path

    def __exit__(self, *exc):
        if not os.environ.get("WP_KEEP_TMP"):
            shutil.rmtree(self.path, ignore_errors=True)
