"""workpool.Client: the synchronous client, one DEALER socket.

    with workpool.Client("tcp://127.0.0.1:5555") as c:
        jobs = c.pool("jobs")
        jobs.push({"n": 1})
        item = jobs.claim("w1", wait=5)
        if item:
            jobs.complete(item.id, {"ok": True}, worker_id="w1")

Deadlines. Each call must finish within timeout seconds (a claim's wait
on top): when the broker was never reached it raises Unavailable, when the
request went out and no reply came, DeadlineExceeded. A late reply to a
call that may be resent (see _ops.py) is asked for again every
retry_interval seconds until the deadline.

Several brokers (FAILOVER.md): endpoint may list several, comma-separated.
One is used at a time; when it stops answering (a reply later than
retry_interval, a claim's wait on top, or no connection within it) the
client moves to the next, resends there only what may be resent, and stays.
.endpoint is the one in use, .moves how often it moved.

Threads. Calls from several threads are serialized on the one socket (a
waiting claim holds it for its wait); give each thread its own Client to
run them side by side. A process that forks must make its clients after
the fork.
"""
import functools
import math
import threading
import time

import zmq

from . import _ops, _socket, _wire
from .errors import DeadlineExceeded, Internal, Unavailable, WorkpoolError, error_for


def _sync(op):
    @functools.wraps(op)
    def call(self, *args, **kwargs):
        return self._drive(op(*args, **kwargs))
    return call


def _bound(name):
    def call(self, *args, **kwargs):
        return getattr(self._client, name)(self.name, *args, **kwargs)
    call.__name__ = name
    call.__doc__ = getattr(_ops, name).__doc__
    return call


class Client:
    """A connection to a workpoold broker. Every method of PROTOCOL.md is a
    method here (pool calls take the pool's name first; pool(name) binds it)."""

    def __init__(self, endpoint=_socket.DEFAULT_ENDPOINT, *, timeout=_socket.DEFAULT_TIMEOUT,
                 retry_interval=_socket.DEFAULT_RETRY_INTERVAL, server_key=None, cert=None,
                 context=None):
        self._endpoints = _socket.Endpoints(endpoint)
        self.timeout = float(timeout)
        self.retry_interval = float(retry_interval)
        self._curve = (server_key, cert)
        self._context = context or zmq.Context.instance()
        self._sock, self._handshake = _socket.open_dealer(self._context, self.endpoint,
                                                          server_key, cert)
        self._next_id = _socket.first_request_id()
        self._lock = threading.Lock()

    @property
    def endpoint(self):
        """The endpoint in use (one of those listed)."""
        return self._endpoints.current

    @property
    def endpoints(self):
        """Every endpoint listed, in order."""
        return list(self._endpoints.listed)

    @property
    def moves(self):
        """How often the client moved to the next listed broker."""
        return self._endpoints.moves

    def _move(self):
        """Leaves the broker in use for the next listed one (caller holds
        the lock): a fresh socket, so no reply from the old one arrives."""
        server_key, cert = self._curve
        sock, handshake = self._sock, self._handshake
        endpoint = self._endpoints.advance()
        self._sock, self._handshake = _socket.open_dealer(self._context, endpoint, server_key,
                                                          cert)
        if handshake is not None:
            handshake.close()
        sock.close(0)

    def _suspect(self, endpoint):
        """A subscription's connection to endpoint was lost: move if the
        client still uses it, so the next subscribe goes elsewhere."""
        with self._lock:
            if self._sock is not None and self._endpoints.many and self.endpoint == endpoint:
                self._move()

    def close(self):
        """Closes the socket; safe twice. Calls after it raise Unavailable."""
        sock, self._sock = getattr(self, "_sock", None), None
        if sock is not None:
            if self._handshake is not None:
                self._handshake.close()
            sock.close(0)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def pool(self, name):
        """The pool called name (pools exist once named)."""
        return Pool(self, name)

    # -----------------------------------------------------------------------
    #  The round trip

    def _drive(self, op):
        """Runs one operation of _ops to its end."""
        try:
            call = next(op)
            while True:
                try:
                    outcome = self._call(call)
                except WorkpoolError as e:
                    call = op.throw(e)
                else:
                    call = op.send(outcome)
        except StopIteration as stop:
            return stop.value

    def _call(self, call):
        """Sends call and waits for its reply: (body, resent), or raises the
        reply's error (with .resent) or the deadline's."""
        with self._lock:
            if self._sock is None:
                raise Unavailable("the client is closed")
            request_id = self._next_id
            self._next_id += 1
            budget = self.timeout + call.wait
            deadline = time.monotonic() + budget
            many = self._endpoints.many
            retry = self.retry_interval
            sends, last_sent = 0, 0.0
            here = 0                    # sends on the socket in use
            since = time.monotonic()    # when the socket in use was first asked
            gone = False                # an unsafe call's broker was left: no reply comes
            while True:
                now = time.monotonic()
                if now >= deadline:
                    break
                if many and not gone:
                    #  Failover (FAILOVER.md): no connection within the
                    #  retry interval, or a reply later than it (a parked
                    #  claim's wait on top): the next broker
                    if (here == 0 and now - since >= retry) or \
                            (here and now - last_sent >= retry + call.wait):
                        sent_there = here > 0
                        self._move()
                        since, here = now, 0
                        if sent_there and not call.resend:
                            gone = True     # never resent: it ends at its deadline
                        continue
                sock = self._sock
                blocked = False
                if not gone and (here == 0 or (call.resend and not many
                                               and now - last_sent >= retry)):
                    timeout_ms = min(max(1, math.ceil((deadline - now) * 1000)), 0xFFFFFFFF)
                    frames = _wire.encode_request(request_id, call.method, call.body, timeout_ms)
                    try:
                        sock.send_multipart(frames, zmq.NOBLOCK)
                        sends, last_sent, here = sends + 1, now, here + 1
                    except zmq.Again:
                        blocked = True      # no connection takes it yet
                until = deadline
                if many and not gone:
                    until = min(until, since + retry if here == 0 else
                                last_sent + call.wait + retry)
                elif call.resend and sends and not blocked:
                    until = min(until, last_sent + retry)
                wait_ms = max(1, math.ceil((until - time.monotonic()) * 1000))
                events = sock.poll(wait_ms, zmq.POLLIN | (zmq.POLLOUT if blocked else 0))
                if not events & zmq.POLLIN:
                    continue
                while True:
                    try:
                        frames = sock.recv_multipart(zmq.NOBLOCK, copy=True)
                    except zmq.Again:
                        break
                    if len(frames) != 2:
                        continue
                    try:
                        reply_id, status, message = _wire.decode_reply_header(frames[0])
                    except ValueError:
                        continue
                    if reply_id != request_id:
                        continue            # the answer to a call we gave up on
                    if status != 0:
                        error = error_for(status, message)
                        error.resent = sends > 1
                        raise error
                    try:
                        return _wire.decode_reply_body(frames[1], call.method), sends > 1
                    except ValueError as e:
                        raise Internal("malformed reply to %s: %s" % (call.method, e)) from None
            where = self._endpoints.text if many else self.endpoint
            if sends == 0:
                raise _socket.unreachable(self._handshake, where, budget)
            raise DeadlineExceeded("no reply to %s from %s within %.3g s"
                                   % (call.method, where, budget))

    # -----------------------------------------------------------------------
    #  The calls (their bodies are in _ops.py)

    push = _sync(_ops.push)
    push_entry = _sync(_ops.push_entry)
    push_many = _sync(_ops.push_many)
    push_entries = _sync(_ops.push_entries)
    claim = _sync(_ops.claim)
    claim_many = _sync(_ops.claim_many)
    complete = _sync(_ops.complete)
    complete_many = _sync(_ops.complete_many)
    fail = _sync(_ops.fail)
    complete_and_claim = _sync(_ops.complete_and_claim)
    size = _sync(_ops.size)
    release_by_worker = _sync(_ops.release_by_worker)
    get = _sync(_ops.get)
    list_items = _sync(_ops.list_items)
    retry = _sync(_ops.retry)
    retry_all = _sync(_ops.retry_all)
    cancel = _sync(_ops.cancel)
    purge = _sync(_ops.purge)
    pause = _sync(_ops.pause)
    resume = _sync(_ops.resume)
    set_backoff = _sync(_ops.set_backoff)
    unsubscribe = _sync(_ops.unsubscribe)
    renew = _sync(_ops.renew)
    register = _sync(_ops.register)
    heartbeat = _sync(_ops.heartbeat)
    update_status = _sync(_ops.update_status)
    get_worker = _sync(_ops.get_worker)
    list_workers = _sync(_ops.list_workers)
    stats = _sync(_ops.stats)
    ping = _sync(_ops.ping)
    schedule_add = _sync(_ops.schedule_add)
    schedule_list = _sync(_ops.schedule_list)
    schedule_remove = _sync(_ops.schedule_remove)

    def subscribe(self, pool, worker_id, credit, lease=None, stream_timeout=None):
        """A Subscription (WorkPool.Subscribe) on a socket of its own: items
        stream in as they are claimed for worker_id, at most credit (1..1000)
        unacknowledged; ack them with its complete / fail (pipelined), end
        it with close(). See workpool.subscription."""
        from .subscription import Subscription
        server_key, cert = self._curve
        endpoint = self.endpoint
        on_lost = (lambda: self._suspect(endpoint)) if self._endpoints.many else None
        return Subscription(endpoint, pool, worker_id, credit, lease,
                            timeout=self.timeout, retry_interval=self.retry_interval,
                            server_key=server_key, cert=cert, context=self._context,
                            stream_timeout=stream_timeout, _on_lost=on_lost)

    def iter_items(self, pool, status=None, page_size=None):
        """Every item of pool in status (None: any), oldest first, a page
        (WorkPool.List) at a time."""
        cursor = None
        while True:
            page = self.list_items(pool, status, page_size, cursor)
            yield from page.items
            cursor = page.cursor
            if cursor is None:
                return


class Pool:
    """A pool of a Client: the client's pool calls with the name bound."""

    def __init__(self, client, name):
        self._client = client
        self.name = name

    def __repr__(self):
        return "Pool(%r)" % self.name

    def iter_items(self, status=None, page_size=None):
        return self._client.iter_items(self.name, status, page_size)

    def subscribe(self, worker_id, credit, lease=None, stream_timeout=None):
        return self._client.subscribe(self.name, worker_id, credit, lease, stream_timeout)


for _name in _ops.POOL_CALLS:
    setattr(Pool, _name, _bound(_name))
del _name
