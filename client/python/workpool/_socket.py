"""The DEALER socket both clients use, set up as libworkpool sets up its own."""
import random

import zmq

from . import curve
from .errors import InvalidArgument

DEFAULT_ENDPOINT = "tcp://127.0.0.1:5555"
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRY_INTERVAL = 2.0


def open_dealer(context, endpoint, server_key=None, cert=None):
    """A connected DEALER socket. Only a live connection takes a request
    (IMMEDIATE), so a request that could not go out is sent once the broker
    is there; ZMTP heartbeats drop a connection to a broker that vanished
    without a word. server_key / cert turn CURVE on (see curve.py).
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
        try:
            sock.connect(endpoint)
        except zmq.ZMQError as e:
            raise InvalidArgument("cannot connect to '%s': %s" % (endpoint, e.strerror)) from None
    except BaseException:
        sock.close(0)
        raise
    return sock


def first_request_id():
    """A random start, so replies meant for an earlier socket on a reused
    connection identity are never taken for ours."""
    return (random.getrandbits(30) << 32) | 1
