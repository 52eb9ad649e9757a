"""workpool.AsyncClient: the asyncio client, with the Client's method names.

Many calls may be in flight on its one socket at once, matched to their
replies by request id, so

    ids = await asyncio.gather(*(jobs.push(x) for x in batch))

is pipelined: every push goes out before the first reply comes back.
Deadlines and resend rules are the Client's (see client.py and _ops.py).

The socket is a plain ZeroMQ socket watched through the event loop's
add_reader on its file descriptor; the client binds to the running loop on
its first call (a later call from another loop moves it there and fails the
calls still waiting in the old one). Close it with `await c.close()` or
`async with`.
"""
import asyncio
import functools
import math

import zmq

from . import _ops, _socket, _wire
from .errors import Cancelled, DeadlineExceeded, Internal, Unavailable, WorkpoolError, error_for


def _async(op):
    @functools.wraps(op)
    async def call(self, *args, **kwargs):
        return await self._drive(op(*args, **kwargs))
    return call


def _bound(name):
    def call(self, *args, **kwargs):
        return getattr(self._client, name)(self.name, *args, **kwargs)
    call.__name__ = name
    call.__doc__ = getattr(_ops, name).__doc__
    return call


class _Request:
    """A call in flight: its reply future and how often it went out."""
    __slots__ = ("future", "sends", "queued", "queued_at", "gen", "sent_at")

    def __init__(self, future):
        self.future = future
        self.sends = 0
        self.queued = False
        self.queued_at = 0.0        # when it was queued for a connection
        self.gen = 0                # the socket it last went out on (AsyncClient._gen)
        self.sent_at = 0.0


class AsyncClient:
    """A connection to a workpoold broker for asyncio programs."""

    def __init__(self, endpoint=_socket.DEFAULT_ENDPOINT, *, timeout=_socket.DEFAULT_TIMEOUT,
                 retry_interval=_socket.DEFAULT_RETRY_INTERVAL, server_key=None, cert=None,
                 context=None, _watch_disconnects=False):
        self._endpoints = _socket.Endpoints(endpoint)
        self.timeout = float(timeout)
        self.retry_interval = float(retry_interval)
        self._curve = (server_key, cert)
        self._context = context or zmq.Context.instance()
        self._watch_disconnects = _watch_disconnects
        self._sock, self._handshake = _socket.open_dealer(self._context, self.endpoint,
                                                          server_key, cert, _watch_disconnects)
        self._gen = 0               # sockets replaced so far (moves)
        self._moved_at = None       # loop time of the last move
        self._fd = self._sock.getsockopt(zmq.FD)
        self._next_id = _socket.first_request_id()
        self._loop = None
        self._waiting = {}          # request id -> _Request
        self._outbox = []           # (request id, call, deadline) no connection took yet
        self._service_due = False   # a _service is scheduled
        self._streams = {}          # request id -> callback(frames) of a stream (Subscribe)

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
        """Leaves the broker in use for the next listed one: a fresh socket
        (no reply from the old one arrives). Requests still queued for a
        connection go out on the new one; each call decides whether what
        went out on the old one is sent again (_call)."""
        server_key, cert = self._curve
        endpoint = self._endpoints.advance()
        sock, handshake = _socket.open_dealer(self._context, endpoint, server_key, cert,
                                              self._watch_disconnects)
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.remove_reader(self._fd)
        if self._handshake is not None:
            self._handshake.close()
        self._sock.close(0)
        self._sock, self._handshake = sock, handshake
        self._fd = sock.getsockopt(zmq.FD)
        self._gen += 1
        if loop is not None:
            self._moved_at = loop.time()
            loop.add_reader(self._fd, self._service)
            if not self._service_due:
                self._service_due = True
                loop.call_soon(self._service)

    def _suspect(self, endpoint):
        """A subscription's connection to endpoint was lost: move if the
        client still uses it, so the next subscribe goes elsewhere."""
        if self._sock is not None and self._endpoints.many and self.endpoint == endpoint:
            self._move()

    async def close(self):
        """Closes the socket; calls still waiting raise Cancelled. Safe twice."""
        self._close()

    def _close(self):
        if self._sock is None:
            return
        self._unwatch()
        for request in self._waiting.values():
            if not request.future.done():
                request.future.set_exception(Cancelled("the client was closed"))
        self._waiting.clear()
        self._outbox.clear()
        if self._handshake is not None:
            self._handshake.close()
        self._sock.close(0)
        self._sock = None

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self._close()

    def __del__(self):
        try:
            if getattr(self, "_sock", None) is not None:
                self._sock.close(0)
        except Exception:
            pass

    def pool(self, name):
        """The pool called name."""
        return AsyncPool(self, name)

    # -----------------------------------------------------------------------
    #  The event loop side

    def _unwatch(self):
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._fd)
        self._loop = None

    def _bind(self):
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            if self._sock is None:
                raise Unavailable("the client is closed")
            self._unwatch()
            for request in self._waiting.values():
                if not request.future.done():
                    request.future.set_exception(Cancelled("the client moved to another loop"))
            self._waiting.clear()
            self._outbox.clear()
            self._loop = loop
            loop.add_reader(self._fd, self._service)
        return loop

    def _service(self):
        """The socket's descriptor signalled (edge-triggered): write what
        waits for a connection, read every reply there is."""
        self._service_due = False
        sock = self._sock
        if sock is None:
            return
        while True:
            events = sock.getsockopt(zmq.EVENTS)
            progressed = False
            if self._outbox and events & zmq.POLLOUT:
                progressed = self._flush()
            if events & zmq.POLLIN:
                try:
                    frames = sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    frames = None
                if frames is not None:
                    progressed = True
                    self._dispatch(frames)
            if not progressed:
                return

    def _dispatch(self, frames):
        if len(frames) != 2:
            return
        try:
            request_id = _wire.decode_reply_header(frames[0])[0]
        except ValueError:
            return
        stream = self._streams.get(request_id)
        if stream is not None:
            stream(frames)
            return
        request = self._waiting.get(request_id)
        if request is not None and not request.future.done():
            request.future.set_result(frames)

    def _write(self, request_id, call, deadline):
        """Writes one request if a connection takes it; True if it went."""
        left = deadline - self._loop.time()
        timeout_ms = getattr(call, "header_timeout_ms", None)
        if timeout_ms is None:
            timeout_ms = min(max(1, math.ceil(left * 1000)), 0xFFFFFFFF)
        frames = _wire.encode_request(request_id, call.method, call.body, timeout_ms)
        try:
            self._sock.send_multipart(frames, zmq.NOBLOCK)
        except zmq.Again:
            return False
        request = self._waiting.get(request_id)
        if request is not None:
            request.sends += 1
            request.gen = self._gen
            request.sent_at = self._loop.time()
        return True

    def _flush(self):
        """Writes queued requests while a connection takes them."""
        wrote = False
        while self._outbox:
            request_id, call, deadline = self._outbox[0]
            request = self._waiting.get(request_id)
            if request is None or self._loop.time() >= deadline:
                self._outbox.pop(0)
                continue
            if not self._write(request_id, call, deadline):
                break
            request.queued = False
            self._outbox.pop(0)
            wrote = True
        return wrote

    def _send(self, request_id, request, call, deadline):
        if request.queued:
            return
        if self._outbox or not self._write(request_id, call, deadline):
            request.queued = True
            request.queued_at = self._loop.time()
            self._outbox.append((request_id, call, deadline))
        #  A send changes the socket's state; the descriptor may not signal
        #  again for replies already there
        if not self._service_due:
            self._service_due = True
            self._loop.call_soon(self._service)

    # -----------------------------------------------------------------------
    #  The round trip

    def _open_stream(self, call, on_frames):
        """Sends a stream's request once (call.header_timeout_ms its
        timeout_ms); every reply with its id goes to on_frames. Returns
        (request id, _Request): .sends says whether it went out."""
        loop = self._bind()
        request_id = self._next_id
        self._next_id += 1
        request = _Request(loop.create_future())
        self._waiting[request_id] = request
        self._streams[request_id] = on_frames
        self._send(request_id, request, call, loop.time() + self.timeout)
        return request_id, request

    def _close_stream(self, request_id):
        self._streams.pop(request_id, None)
        self._waiting.pop(request_id, None)

    async def _drive(self, op, call=None):
        try:
            if call is None:
                call = next(op)
            while True:
                try:
                    outcome = await self._call(call)
                except WorkpoolError as e:
                    call = op.throw(e)
                else:
                    call = op.send(outcome)
        except StopIteration as stop:
            return stop.value

    async def _call(self, call):
        loop = self._bind()
        request_id = self._next_id
        self._next_id += 1
        budget = self.timeout + call.wait
        deadline = loop.time() + budget
        request = _Request(None)
        self._waiting[request_id] = request
        many = self._endpoints.many
        retry = self.retry_interval
        try:
            first = True
            gone = False            # an unsafe call's broker was left: no reply comes
            while True:
                now = loop.time()
                if now >= deadline:
                    break
                request.future = loop.create_future()
                send = first or (call.resend and not many)
                if many and not gone:
                    #  Failover (FAILOVER.md): queued with no connection for
                    #  the retry interval, or a reply later than it (a parked
                    #  claim's wait on top): the next broker
                    if request.queued:
                        waited = now - max(request.queued_at, self._moved_at or 0.0)
                        if waited >= retry:
                            self._move()
                    elif request.sends and request.gen == self._gen and \
                            now - request.sent_at >= retry + call.wait:
                        self._move()
                    if request.sends and not request.queued and request.gen != self._gen:
                        if call.resend:
                            send = True
                        else:
                            gone = True     # never resent: it ends at its deadline
                if send:
                    self._send(request_id, request, call, deadline)
                    first = False
                if not many:
                    until = min(deadline, now + retry) if call.resend else deadline
                elif gone:
                    until = deadline
                elif request.queued:
                    until = min(deadline, max(request.queued_at, self._moved_at or 0.0) + retry)
                else:
                    until = min(deadline, request.sent_at + call.wait + retry)
                timer = loop.call_later(max(0.0, until - now), _wake, request.future)
                try:
                    frames = await request.future
                finally:
                    timer.cancel()
                if self._sock is None:
                    raise Cancelled("the client was closed")
                if frames is None:
                    continue
                _, status, message = _wire.decode_reply_header(frames[0])
                resent = request.sends > 1
                if status != 0:
                    error = error_for(status, message)
                    error.resent = resent
                    raise error
                try:
                    return _wire.decode_reply_body(frames[1], call.method), resent
                except ValueError as e:
                    raise Internal("malformed reply to %s: %s" % (call.method, e)) from None
            where = self._endpoints.text if many else self.endpoint
            if request.sends == 0:
                raise _socket.unreachable(self._handshake, where, budget)
            raise DeadlineExceeded("no reply to %s from %s within %.3g s"
                                   % (call.method, where, budget))
        finally:
            self._waiting.pop(request_id, None)

    # -----------------------------------------------------------------------
    #  The calls (their bodies are in _ops.py)

    push = _async(_ops.push)
    push_entry = _async(_ops.push_entry)
    push_many = _async(_ops.push_many)
    push_entries = _async(_ops.push_entries)
    claim = _async(_ops.claim)
    claim_many = _async(_ops.claim_many)
    complete = _async(_ops.complete)
    complete_many = _async(_ops.complete_many)
    fail = _async(_ops.fail)
    complete_and_claim = _async(_ops.complete_and_claim)
    size = _async(_ops.size)
    release_by_worker = _async(_ops.release_by_worker)
    get = _async(_ops.get)
    list_items = _async(_ops.list_items)
    retry = _async(_ops.retry)
    retry_all = _async(_ops.retry_all)
    cancel = _async(_ops.cancel)
    purge = _async(_ops.purge)
    pause = _async(_ops.pause)
    resume = _async(_ops.resume)
    set_backoff = _async(_ops.set_backoff)
    unsubscribe = _async(_ops.unsubscribe)
    renew = _async(_ops.renew)
    register = _async(_ops.register)
    heartbeat = _async(_ops.heartbeat)
    update_status = _async(_ops.update_status)
    get_worker = _async(_ops.get_worker)
    list_workers = _async(_ops.list_workers)
    stats = _async(_ops.stats)
    ping = _async(_ops.ping)
    schedule_add = _async(_ops.schedule_add)
    schedule_list = _async(_ops.schedule_list)
    schedule_remove = _async(_ops.schedule_remove)

    def subscribe(self, pool, worker_id, credit, lease=None, stream_timeout=None):
        """An AsyncSubscription (WorkPool.Subscribe) on a socket of its own,
        sent at once (call it on the loop): `async for item in sub`, ack
        with sub.complete / sub.fail (pipelined), `await sub.close()`."""
        from .subscription import AsyncSubscription
        return AsyncSubscription(self, pool, worker_id, credit, lease, stream_timeout)

    async def iter_items(self, pool, status=None, page_size=None):
        """Every item of pool in status (None: any), oldest first, a page
        at a time (an async generator)."""
        cursor = None
        while True:
            page = await self.list_items(pool, status, page_size, cursor)
            for item in page.items:
                yield item
            cursor = page.cursor
            if cursor is None:
                return


def _wake(future):
    if not future.done():
        future.set_result(None)


class AsyncPool:
    """A pool of an AsyncClient: its pool calls with the name bound."""

    def __init__(self, client, name):
        self._client = client
        self.name = name

    def __repr__(self):
        return "AsyncPool(%r)" % self.name

    def iter_items(self, status=None, page_size=None):
        return self._client.iter_items(self.name, status, page_size)

    def subscribe(self, worker_id, credit, lease=None, stream_timeout=None):
        return self._client.subscribe(self.name, worker_id, credit, lease, stream_timeout)


for _name in _ops.POOL_CALLS:
    setattr(AsyncPool, _name, _bound(_name))
del _name
