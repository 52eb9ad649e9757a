"""CURVE: certificates made by czmq (zcert, called through ctypes) read by
workpool.curve; a live CURVE handshake with them against a ROUTER that
answers Broker.Ping (the client's side alone); and the same certificates
against a real workpoold with --curve-secret and --keys (its ZAP handler
and the roles of PROTOCOL.md section 9)."""
import ctypes
import ctypes.util
import os
import threading

import pytest
import zmq

import workpool
from workpool import _wire, curve


def _czmq():
    name = ctypes.util.find_library("czmq") or "libczmq.so.4"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        pytest.skip("no libczmq to make certificates with")
    lib.zcert_new.restype = ctypes.c_void_p
    lib.zcert_public_txt.restype = ctypes.c_char_p
    lib.zcert_public_txt.argtypes = [ctypes.c_void_p]
    lib.zcert_secret_txt.restype = ctypes.c_char_p
    lib.zcert_secret_txt.argtypes = [ctypes.c_void_p]
    lib.zcert_save.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.zcert_destroy.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
    return lib


def make_cert(lib, path, **meta):
    """Writes path (public) and path_secret with czmq; returns the keys."""
    cert = ctypes.c_void_p(lib.zcert_new())
    for key, value in meta.items():
        lib.zcert_set_meta(cert, key.encode(), b"%s", value.encode())
    public = lib.zcert_public_txt(cert).decode()
    secret = lib.zcert_secret_txt(cert).decode()
    assert lib.zcert_save(cert, str(path).encode()) == 0
    lib.zcert_destroy(ctypes.byref(cert))
    return public, secret


def test_czmq_certificates_are_read(tmp_path):
    lib = _czmq()
    public, secret = make_cert(lib, tmp_path / "worker", role="worker", worker_prefix="gpu-")
    cert = workpool.load_certificate(str(tmp_path / "worker"))
    assert cert.public_key == public and cert.secret_key is None
    assert cert.metadata == {"role": "worker", "worker_prefix": "gpu-"}
    cert = workpool.load_certificate(str(tmp_path / "worker_secret"))
    assert (cert.public_key, cert.secret_key) == (public, secret)
    assert curve.client_keys(str(tmp_path / "worker_secret")) == (public, secret)
    assert curve.server_public_key(str(tmp_path / "worker")) == public
    assert curve.server_public_key(public) == public
    with pytest.raises(workpool.InvalidArgument):
        curve.client_keys(str(tmp_path / "worker"))        # a public certificate has no secret


def test_malformed_certificates_are_refused(tmp_path):
    for text in ("curve\n    public-key = \"short\"\n", "metadata\n", "curve\n        x = 1\n"):
        (tmp_path / "bad").write_text(text)
        with pytest.raises(workpool.InvalidArgument):
            workpool.load_certificate(str(tmp_path / "bad"))
    with pytest.raises(workpool.InvalidArgument):
        workpool.load_certificate(str(tmp_path / "missing"))


class _CurvePinger(threading.Thread):
    """A ROUTER under CURVE that answers every request with Ping's reply."""

    def __init__(self, secret, endpoint, context=None):
        super().__init__(daemon=True)
        self.sock = (context or zmq.Context.instance()).socket(zmq.ROUTER)
        self.sock.curve_server = True
        self.sock.curve_secretkey = secret.encode()
        self.sock.bind(endpoint)
        self.stopping = False

    def run(self):
        while not self.stopping:
            if not self.sock.poll(100):
                continue
            peer, header, _ = self.sock.recv_multipart()
            request_id = _wire.unpack(header)[2]
            self.sock.send_multipart([peer, _wire.pack(["WPR", 1, request_id, 0, ""]), _wire.pack(
                {"version": 1, "server": "curve-pinger", "time": "2026-11-26T05:39:00.123456Z",
                 "max_message": 1 << 20})])
        self.sock.close(0)


def test_a_curve_handshake_with_czmq_certificates(tmp_path):
    if not zmq.has("curve"):
        pytest.skip("this libzmq has no CURVE")
    lib = _czmq()
    _, server_secret = make_cert(lib, tmp_path / "broker")
    make_cert(lib, tmp_path / "client", role="admin")
    make_cert(lib, tmp_path / "stranger")
    endpoint = "ipc://%s/curve.ipc" % tmp_path
    server = _CurvePinger(server_secret, endpoint)
    server.start()
    try:
        with workpool.Client(endpoint, timeout=5, server_key=str(tmp_path / "broker"),
                             cert=str(tmp_path / "client_secret")) as c:
            assert c.ping().server == "curve-pinger"

        async def ping_async():
            async with workpool.AsyncClient(endpoint, timeout=5,
                                            server_key=str(tmp_path / "broker"),
                                            cert=str(tmp_path / "client_secret")) as c:
                return (await c.ping()).server
        import asyncio
        assert asyncio.run(ping_async()) == "curve-pinger"

        # The wrong server key: the handshake never completes; no hang past the deadline
        with workpool.Client(endpoint, timeout=0.5, server_key=str(tmp_path / "stranger"),
                             cert=str(tmp_path / "client_secret")) as c:
            with pytest.raises(workpool.Unavailable) as e:
                c.ping()
            assert "CURVE handshake failed" in e.value.message
        # Plain text to a CURVE server: likewise
        with workpool.Client(endpoint, timeout=0.5) as c:
            with pytest.raises(workpool.Unavailable):
                c.ping()
    finally:
        server.stopping = True
        server.join(5)


def test_a_refused_key_is_unauthenticated(tmp_path):
    """A broker that checks keys (ZAP, here pyzmq's authenticator over a
    directory of czmq public certificates) refuses a key it does not hold:
    the call fails within its deadline as UNAUTHENTICATED, saying so."""
    if not zmq.has("curve"):
        pytest.skip("this libzmq has no CURVE")
    from zmq.auth.thread import ThreadAuthenticator
    lib = _czmq()
    _, server_secret = make_cert(lib, tmp_path / "broker")
    keys = tmp_path / "keys"
    keys.mkdir()
    make_cert(lib, keys / "known.key")     # pyzmq reads the *.key files of a folder
    make_cert(lib, tmp_path / "unknown")
    context = zmq.Context()
    auth = ThreadAuthenticator(context)
    auth.start()
    auth.configure_curve(domain="*", location=str(keys))
    endpoint = "ipc://%s/zap.ipc" % tmp_path
    server = _CurvePinger(server_secret, endpoint, context)
    server.start()
    try:
        with workpool.Client(endpoint, timeout=5, server_key=str(tmp_path / "broker"),
                             cert=str(keys / "known.key_secret")) as c:
            assert c.ping().server == "curve-pinger"
        with workpool.Client(endpoint, timeout=1, server_key=str(tmp_path / "broker"),
                             cert=str(tmp_path / "unknown_secret")) as c:
            with pytest.raises(workpool.Unauthenticated) as e:
                c.ping()
            assert "authentication failed" in e.value.message
    finally:
        server.stopping = True
        server.join(5)
        auth.stop()
        context.term()


# ---------------------------------------------------------------------------
#  Against a real workpoold with --curve-secret and --keys: the broker's own
#  ZAP handler and role checks (PROTOCOL.md section 9), not a stand-in.

class _CurveBroker:
    """workpoold under CURVE in directory, with its certificates: the
    broker's pair in directory, the clients' public ones in directory/keys
    (the secret halves beside the broker's, outside the key directory)."""

    def __init__(self, workpoold, directory):
        from broker import Broker
        self.lib = _czmq()
        self.dir = directory
        self.keys = directory / "keys"
        self.keys.mkdir()
        make_cert(self.lib, directory / "broker")
        self.make_client("admin", role="admin")
        self.make_client("producer", role="producer")
        self.make_client("worker-a", role="worker", worker_prefix="a-")
        make_cert(self.lib, directory / "stranger")             # in no key directory
        self.broker = Broker(workpoold, str(directory), "--curve-secret",
                             str(directory / "broker_secret"), "--keys", str(self.keys))
        # Broker.start's readiness probe is plaintext, which a CURVE broker never
        # answers: wait with the admin key instead
        self.broker._wait_ready = self._wait_ready
        self.endpoint = self.broker.endpoint

    def make_client(self, name, **meta):
        """keys/NAME (public, read by the broker) and DIR/NAME_secret (ours)."""
        make_cert(self.lib, self.keys / name, **meta)
        os.rename(str(self.keys / (name + "_secret")), str(self.dir / (name + "_secret")))

    def client(self, name, timeout=5, server="broker"):
        return workpool.Client(self.endpoint, timeout=timeout, server_key=str(self.dir / server),
                               cert=str(self.dir / (name + "_secret")))

    def _wait_ready(self, timeout):
        import time
        deadline = time.monotonic() + timeout
        with self.client("admin", timeout=1) as probe:
            while True:
                if self.broker.process.poll() is not None:
                    raise RuntimeError("workpoold exited with %d:\n%s"
                                       % (self.broker.process.returncode, self.broker.log()))
                try:
                    probe.ping()
                    return self.broker
                except (workpool.Unavailable, workpool.DeadlineExceeded):
                    if time.monotonic() > deadline:
                        raise RuntimeError("workpoold did not answer:\n" + self.broker.log())


@pytest.fixture
def curve_broker(workpoold, tmp_path):
    if not zmq.has("curve"):
        pytest.skip("this libzmq has no CURVE")
    b = _CurveBroker(workpoold, tmp_path)
    b.broker.start()
    yield b
    b.broker.stop()


def test_workpoold_admin_key_may_call_everything(curve_broker):
    with curve_broker.client("admin") as c:
        jobs = c.pool("jobs")
        item_id = jobs.push({"n": 1})
        item = jobs.claim("anyone", wait=2)
        assert item is not None and item.id == item_id
        jobs.complete(item.id, {"ok": True}, worker_id="anyone")
        assert jobs.get(item_id).status == "done"
        stats = c.stats()
        assert isinstance(stats.counters, dict)


def test_workpoold_producer_key_may_push_not_claim(curve_broker):
    with curve_broker.client("producer") as c:
        jobs = c.pool("jobs")
        item_id = jobs.push({"n": 1})
        assert jobs.size() == 1
        with pytest.raises(workpool.PermissionDenied) as e:
            jobs.claim("a-1")
        assert "role producer" in e.value.message and "WorkPool.Claim" in e.value.message
        with pytest.raises(workpool.PermissionDenied) as e:
            c.stats()
        assert "role producer" in e.value.message
    with curve_broker.client("admin") as c:
        assert c.pool("jobs").get(item_id).status == "pending"     # the refusal changed nothing


def test_workpoold_worker_key_is_held_to_its_prefix(curve_broker):
    with curve_broker.client("admin") as c:
        item_id = c.pool("jobs").push({"n": 1})
    with curve_broker.client("worker-a") as c:
        jobs = c.pool("jobs")
        with pytest.raises(workpool.PermissionDenied) as e:
            jobs.claim("b-1")
        assert "worker_prefix 'a-'" in e.value.message and "'b-1'" in e.value.message
        item = jobs.claim("a-1", wait=2)
        assert item is not None and item.id == item_id
        with pytest.raises(workpool.PermissionDenied):
            jobs.complete(item.id, worker_id="b-1")
        jobs.complete(item.id, {"ok": True}, worker_id="a-1")
        with pytest.raises(workpool.PermissionDenied) as e:
            c.stats()
        assert "role worker" in e.value.message


def test_workpoold_refuses_unknown_keys_and_wrong_server_keys(curve_broker):
    import time
    # A key not in the key directory: the broker's ZAP handler refuses it
    with curve_broker.client("stranger", timeout=1) as c:
        start = time.monotonic()
        with pytest.raises(workpool.Unauthenticated) as e:
            c.ping()
        assert time.monotonic() - start < 3
        assert "authentication failed" in e.value.message
        with pytest.raises(workpool.Unauthenticated):
            c.pool("jobs").push({"n": 1})
    # A known client key, but the server key is not the broker's
    with curve_broker.client("admin", timeout=1, server="stranger") as c:
        start = time.monotonic()
        with pytest.raises(workpool.Unavailable) as e:
            c.ping()
        assert time.monotonic() - start < 3
        assert "CURVE handshake failed" in e.value.message
    # Plain text to the CURVE broker
    with workpool.Client(curve_broker.endpoint, timeout=1) as c:
        with pytest.raises(workpool.Unavailable):
            c.ping()
    # None of that hurt the broker: the admin key is still served
    with curve_broker.client("admin") as c:
        jobs = c.pool("jobs")
        item_id = jobs.push({"n": 2})
        assert jobs.size() == 1
        assert jobs.claim("a-9", wait=2).id == item_id
        assert c.ping().version == 1
