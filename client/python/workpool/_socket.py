"""The DEALER socket both clients use, set up as libworkpool sets up its own."""
import random

import zmq
from zmq.utils.monitor import recv_monitor_message

from . import curve
from .errors import InvalidArgument, Unauthenticated, Unavailable

DEFAULT_ENDPOINT = "tcp://127.0.0.1:5555"
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRY_INTERVAL = 2.0


_SCHEMES = ("tcp", "ipc", "inproc", "ws", "wss")


def parse_endpoints(endpoint):
    """The brokers of an endpoint string: one, or several comma-separated
    ("tcp://a:5555,tcp://b:5555", whitespace around commas ignored).
    Raises InvalidArgument naming an empty element or an unknown scheme."""
    if not endpoint or not isinstance(endpoint, str):
        raise InvalidArgument("an endpoint is required")
    if "," not in endpoint:
        return [endpoint]           # one endpoint: checked by connect, as before
    listed = []
    for n, element in enumerate(endpoint.split(",")):
        element = element.strip()
        if not element:
            raise InvalidArgument("endpoint list %r: element %d is empty" % (endpoint, n + 1))
        scheme = element.split("://", 1)[0] if "://" in element else ""
        if scheme not in _SCHEMES:
            raise InvalidArgument("endpoint list %r: %r has no known scheme (%s)"
                                  % (endpoint, element, ", ".join(_SCHEMES)))
        listed.append(element)
    return listed


class Endpoints:
    """The brokers a client may use, the one in use, and how often it moved
    (round robin, wrapping; it stays where it moved to)."""

    def __init__(self, endpoint):
        self.text = endpoint
        self.listed = parse_endpoints(endpoint)
        self.index = 0
        self.moves = 0

    @property
    def many(self):
        return len(self.listed) > 1

    @property
    def current(self):
        return self.listed[self.index]

    def advance(self):
        self.index = (self.index + 1) % len(self.listed)
        self.moves += 1
        return self.current


def open_dealer(context, endpoint, server_key=None, cert=None, watch_disconnects=False):
    """A connected DEALER socket. Only a live connection takes a request
    (IMMEDIATE), so a request that could not go out is sent once the broker
    is there; ZMTP heartbeats drop a connection to a broker that vanished
    without a word. server_key / cert turn CURVE on (see curve.py).
    watch_disconnects: the Handshake monitor is made for a plain socket too
    and counts dropped connections (a subscription ends with its connection).
    Raises InvalidArgument for a bad endpoint or certificate."""
    if not endpoint or not isinstance(endpoint, str):
        raise InvalidArgument("an endpoint is required")
    if cert is not None and server_key is None:
        raise InvalidArgument("cert needs server_key: CURVE needs the broker's public key")
    sock = context.socket(zmq.DEALER)
    try:
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.IMMEDIATE, 1)
        sock.setsockopt(zmq.RECONNECT_IVL, 100)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
        sock.setsockopt(zmq.HEARTBEAT_IVL, 1000)
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 5000)
        if server_key is not None:
            if not zmq.has("curve"):
                raise InvalidArgument("this libzmq has no CURVE support")
            if cert is not None:
                public, secret = curve.client_keys(cert)
            else:
                #  No certificate: a fresh key pair (a broker that checks
                #  keys refuses it)
                public, secret = (k.decode("ascii") for k in zmq.curve_keypair())
            sock.curve_serverkey = curve.server_public_key(server_key).encode("ascii")
            sock.curve_publickey = public.encode("ascii")
            sock.curve_secretkey = secret.encode("ascii")
            handshake = Handshake(sock, watch_disconnects)
        else:
            handshake = Handshake(sock, True) if watch_disconnects else None
        try:
            sock.connect(endpoint)
        except zmq.ZMQError as e:
            raise InvalidArgument("cannot connect to '%s': %s" % (endpoint, e.strerror)) from None
    except BaseException:
        sock.close(0)
        raise
    return sock, handshake


class Handshake:
    """Watches a CURVE socket's handshakes (a ZeroMQ socket monitor), so a
    call that never reached the broker can say why: the broker refused our
    key, or the handshake failed (the wrong server key, a plain-text
    broker)."""

    _FAILED = (zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
               | zmq.EVENT_HANDSHAKE_FAILED_AUTH)

    def __init__(self, sock, watch_disconnects=False):
        events = self._FAILED | zmq.EVENT_HANDSHAKE_SUCCEEDED
        if watch_disconnects:
            events |= zmq.EVENT_DISCONNECTED
        self._monitor = sock.get_monitor_socket(events)
        self._failure = None
        self.disconnects = 0        # connections dropped so far (watch_disconnects)

    @property
    def monitor(self):
        """The monitor socket, to poll beside the DEALER."""
        return self._monitor

    def _drain(self):
        while True:
            try:
                event = recv_monitor_message(self._monitor, zmq.NOBLOCK)
            except zmq.Again:
                return
            if event["event"] == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self._failure = None
            elif event["event"] == zmq.EVENT_DISCONNECTED:
                self.disconnects += 1
            else:
                self._failure = event

    def drain(self):
        """Reads the events there are; returns disconnects so far."""
        self._drain()
        return self.disconnects

    def unreachable(self, endpoint, budget):
        """The error of a call that never went out within budget seconds."""
        self._drain()
        text = "no broker reachable at %s within %.3g s" % (endpoint, budget)
        failure = self._failure
        if failure is None:
            return Unavailable(text)
        if failure["event"] == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
            return Unauthenticated("%s: authentication failed: the broker refused this "
                                   "client's key (status %s)" % (text, failure["value"]))
        return Unavailable("%s: the CURVE handshake failed (is server_key the broker's "
                           "public certificate, and the broker running CURVE?)" % text)

    def close(self):
        self._monitor.close(0)


def unreachable(handshake, endpoint, budget):
    """The error of a call that never reached the broker."""
    if handshake is not None:
        return handshake.unreachable(endpoint, budget)
    return Unavailable("no broker reachable at %s within %.3g s" % (endpoint, budget))


def first_request_id():
    """A random start, so replies meant for an earlier socket on a reused
    connection identity are never taken for ours."""
    return (random.getrandbits(30) << 32) | 1
