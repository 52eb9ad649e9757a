"""CURVE: certificates made by czmq (zcert, called through ctypes) read by
workpool.curve, and a live CURVE handshake with them against a ROUTER
that answers Broker.Ping (the broker's --curve-secret comes with the
security issue; this checks the client's side of it)."""
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
