"""A workpoold process for the tests: started on ipc://DIR/broker.ipc with
its database in DIR, ready once it answers a ping."""
import os
import signal
import subprocess
import time

import zmq


class Broker:
    def __init__(self, binary, directory, *args, store=None):
        self.binary = binary
        self.directory = directory
        self.args = list(args)
        self.store = store or os.environ.get("WP_TEST_STORE", "sqlite")
        self.endpoint = "ipc://%s/broker.ipc" % directory
        self.log_path = os.path.join(directory, "workpoold.log")
        self.process = None

    def start(self, timeout=30.0):
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [self.binary, "--bind", self.endpoint, "--db",
                 os.path.join(self.directory, "workpool.db"), "--store", self.store]
                + self.args, stdout=log, stderr=subprocess.STDOUT)
        try:
            return self._wait_ready(timeout)
        except BaseException:
            self.kill()
            raise

    def _wait_ready(self, timeout):
        import workpool
        deadline = time.monotonic() + timeout
        with workpool.Client(self.endpoint, timeout=2.5) as probe:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError("workpoold exited with %d:\n%s"
                                       % (self.process.returncode, self.log()))
                try:
                    probe.ping()
                    return self
                except (workpool.Unavailable, workpool.DeadlineExceeded):
                    if time.monotonic() > deadline:
                        raise RuntimeError("workpoold did not answer:\n" + self.log())

    @property
    def pid(self):
        return self.process.pid

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def cpu_seconds(self):
        """User + system CPU the broker used so far (from /proc/PID/stat)."""
        with open("/proc/%d/stat" % self.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        """SIGTERM; fails unless the broker exits 0 within 60 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError("workpoold did not stop on SIGTERM:\n" + self.log())
        assert code == 0, "workpoold exited with %d:\n%s" % (code, self.log())

    def kill(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
