"""workpool.Subscription: a streaming claim (WorkPool.Subscribe) on a socket
of its own.

    with client.subscribe("jobs", "w1", credit=64) as sub:
        for item in sub:
            sub.complete(item, {"ok": True})     # sent at once, reply not awaited
            for outcome in sub.outcomes():       # acks answered so far
                if not outcome.ok:
                    log(outcome)

The broker claims items for the worker as they become claimable and streams
them, at most `credit` unacknowledged; each complete / fail / complete_many
entry given back returns its credit. Acks are pipelined: complete() and
fail() send and return; their replies are read while the caller waits for
the next item (or in flush() / close()), and each becomes an Outcome kept
until outcomes() hands it over, so none is lost. They follow the client's
resend rules (with the worker id: resent on a late reply, and a refused
resend checked with a Get, as Client.complete does).

The stream ends with one final message: OK end (after close() or another
client's Unsubscribe: iteration stops), or an error, raised by next() /
iteration as its class (Cancelled: a newer subscription of the worker
replaced this one; FailedPrecondition: the worker was declared lost;
DeadlineExceeded; Unauthenticated / PermissionDenied; Unavailable: the
broker is stopping). A dropped connection ends it too: Unavailable. Items
streamed before the end are handed out first.

close() sends Unsubscribe, waits for the final message and for the acks in
flight, and returns the items streamed but not handed out: like every item
the worker was given, they stay claimed by it (complete them, fail them, or
ReleaseByWorker). A Subscription belongs to one thread.
"""
import asyncio
import collections
import math
import time

import zmq

from . import _ops, _socket, _wire
from .errors import Cancelled, DeadlineExceeded, Internal, Unavailable, WorkpoolError, error_for
from .records import Item

_END = object()             # the final OK end came


class Outcome:
    """How one acknowledgement went: verb ("complete", "fail" or
    "complete_many"), id (the item's), error (None: OK; else the
    WorkpoolError, e.g. FailedPrecondition when the claim had lapsed),
    status (a Fail's new state)."""
    __slots__ = ("verb", "id", "error", "status")

    def __init__(self, verb, id, error=None, status=None):
        self.verb, self.id, self.error, self.status = verb, id, error, status

    @property
    def ok(self):
        return self.error is None

    def __repr__(self):
        return "Outcome(%r, %r, %s)" % (self.verb, self.id,
                                        "ok" if self.error is None else self.error)


class _Op:
    """One operation of _ops in flight: its generator and current request."""
    __slots__ = ("gen", "verb", "id", "call", "sends", "last_sent", "deadline", "budget",
                 "error", "finished")

    def __init__(self, gen, verb, id):
        self.gen, self.verb, self.id = gen, verb, id
        self.error, self.finished = None, False
        self.call = None
        self.sends, self.last_sent, self.deadline, self.budget = 0, 0.0, 0.0, 0.0


def _item_id(item):
    return item.id if isinstance(item, Item) else item


class Subscription:
    """A WorkPool.Subscribe stream; see the module's doc. Made by
    Client.subscribe / Pool.subscribe (or directly, with the Client's
    options). Returns once the Subscribe went out (Unavailable if no
    broker took it within timeout). timeout: seconds each ack (and close())
    may take; stream_timeout: the Subscribe's timeout_ms in
    seconds (None: it lasts until ended)."""

    def __init__(self, endpoint, pool, worker_id, credit, lease=None, *,
                 timeout=_socket.DEFAULT_TIMEOUT, retry_interval=_socket.DEFAULT_RETRY_INTERVAL,
                 server_key=None, cert=None, context=None, stream_timeout=None, _on_lost=None):
        self.pool = pool
        self.worker_id = worker_id
        self.credit = credit
        #  A list: the first (Client.subscribe passes the one its client
        #  uses, and _on_lost moves the client when this connection is lost,
        #  so a subscribe made again goes to the next broker)
        endpoint = _socket.parse_endpoints(endpoint)[0]
        self.endpoint = endpoint
        self._on_lost = _on_lost
        self.timeout = float(timeout)
        self.retry_interval = float(retry_interval)
        call = _ops.subscribe_call(pool, worker_id, credit, lease)     # bad input: nothing opened
        if stream_timeout is not None:
            stream_timeout = _wire.check_seconds("stream_timeout", stream_timeout, 0.0,
                                                 0xFFFFFFFF / 1000.0, low_open=True)
        self._stream_call = call
        self._stream_timeout_ms = 0 if stream_timeout is None else math.ceil(stream_timeout * 1000)
        self._context = context or zmq.Context.instance()
        self._sock, self._monitor = _socket.open_dealer(self._context, endpoint, server_key, cert,
                                                        watch_disconnects=True)
        self._next_id = _socket.first_request_id()
        self._stream_id = self._take_id()
        self._stream_sent = False
        self._stream_deadline = time.monotonic() + self.timeout
        self._disconnects = 0
        self._items = collections.deque()
        self._final = None          # _END or the WorkpoolError that ended the stream
        self._ops = {}              # request id -> _Op
        self._outcomes = collections.deque()
        self.received = 0           # items streamed to us so far
        #  Returns once the Subscribe went out, so a subscription made after
        #  another is the newer one at the broker too
        try:
            while not self._send_stream():
                left = self._stream_deadline - time.monotonic()
                if left <= 0:
                    self._lost()
                    raise _socket.unreachable(None, endpoint, self.timeout)
                self._sock.poll(max(1, min(50, math.ceil(left * 1000))), zmq.POLLOUT)
        except BaseException:
            self._close_socket()
            raise

    # -----------------------------------------------------------------------
    #  What the caller sees

    @property
    def ended(self):
        """The final message came (or the connection dropped)."""
        return self._final is not None

    @property
    def error(self):
        """The error that ended the stream, None while open or after OK end."""
        return None if self._final is None or self._final is _END else self._final

    @property
    def pending_acks(self):
        """Acks sent and not yet answered."""
        return sum(1 for op in self._ops.values() if op.verb != "unsubscribe")

    def __iter__(self):
        return self

    def __next__(self):
        item = self.next()
        if item is None:
            raise StopIteration
        return item

    def next(self, timeout=None):
        """The next item streamed; None at the OK end, or when none came
        within timeout seconds (None: wait for one). Raises the error that
        ended the stream, once the items before it are handed out."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._items:
                return self._items.popleft()
            if self._final is _END:
                return None
            if self._final is not None:
                raise self._final
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return None
            self._pump(left)

    def complete(self, item, result=None):
        """Acknowledges item (an Item or its id) as done with result, without
        waiting for the reply (its Outcome comes later)."""
        id = _item_id(item)
        self._start(_ops.complete(self.pool, id, result, self.worker_id), "complete", id)

    def fail(self, item, error=None, retry_after=None):
        """Acknowledges item as failed (Fail with error, retry_after), without
        waiting; the Outcome's status is the item's new state."""
        id = _item_id(item)
        self._start(_ops.fail(self.pool, id, error, self.worker_id, retry_after), "fail", id)

    def complete_many(self, items):
        """Acknowledges several items in one CompleteMany (entries: Item, id,
        or (id, result)); one Outcome per entry."""
        entries = [(e.id, None) if isinstance(e, Item) else e for e in items]
        ids = [e if isinstance(e, str) else e[0] for e in entries]
        self._start(_ops.complete_many(self.pool, entries, self.worker_id), "complete_many", ids)

    def outcomes(self):
        """The Outcomes of acks answered since the last call (reads what
        has arrived, without waiting)."""
        if self._sock is not None:
            self._pump(0)
        out = list(self._outcomes)
        self._outcomes.clear()
        return out

    def flush(self, timeout=None):
        """Waits until every ack in flight is answered (or timeout seconds);
        returns outcomes(). Items arriving meanwhile are kept for next()."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while self.pending_acks and self._sock is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._pump(left)
        return self.outcomes()

    def close(self, timeout=None):
        """Unsubscribes, waits (timeout seconds, default the client's) for the
        final message and the acks in flight, closes the socket. Returns the
        items streamed and not handed out (still claimed by the worker).
        Raises the Unsubscribe's error if it got none. Safe twice."""
        if self._sock is None:
            return []
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        unsubscribe = None
        try:
            if self._final is None:
                if not self._stream_sent:
                    self._final = _END      # never went out: nothing to end
                else:
                    unsubscribe = self._start(_ops.unsubscribe(self.pool, self.worker_id),
                                              "unsubscribe", None)
            while self._ops or (self._final is None and self._stream_sent):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._pump(left)
            if unsubscribe is not None and unsubscribe.error is not None \
                    and self._final is None:
                raise unsubscribe.error
            if self._final is None:
                raise DeadlineExceeded("no final message of the subscription of %s on %s "
                                       "within %.3g s" % (self.worker_id, self.pool,
                                                          self.timeout if timeout is None
                                                          else timeout))
        finally:
            left = list(self._items)
            self._items.clear()
            self._close_socket()
        return left

    def _close_socket(self):
        sock, self._sock = self._sock, None
        if sock is not None:
            self._monitor.close()
            sock.close(0)
        if self._final is None:
            self._final = Unavailable("the subscription was closed")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            self.close()
        else:
            try:
                self.close()
            except WorkpoolError:
                pass

    def __del__(self):
        try:
            self._close_socket()
        except Exception:
            pass

    # -----------------------------------------------------------------------
    #  The machinery: one stream and many operations on one socket

    def _take_id(self):
        request_id = self._next_id
        self._next_id += 1
        return request_id

    def _lost(self):
        """The broker did not answer: tell the client (failover), once."""
        on_lost, self._on_lost = self._on_lost, None
        if on_lost is not None:
            on_lost()

    def _send_stream(self):
        frames = _wire.encode_request(self._stream_id, self._stream_call.method,
                                      self._stream_call.body, self._stream_timeout_ms)
        try:
            self._sock.send_multipart(frames, zmq.NOBLOCK)
        except zmq.Again:
            return False            # no connection yet: _pump tries again
        self._stream_sent = True
        self._disconnects = self._monitor.drain()
        return True

    def _start(self, gen, verb, id):
        if self._sock is None:
            raise Unavailable("the subscription is closed")
        op = _Op(gen, verb, id)
        self._advance(op, first=True)
        return op

    def _advance(self, op, value=None, error=None, first=False):
        """Runs op's generator one step: its next request goes out, or its
        outcome is recorded."""
        if first:
            call = next(op.gen)     # bad input raises here, to the caller: nothing was sent
        try:
            if first:
                pass
            elif error is not None:
                call = op.gen.throw(error)
            else:
                call = op.gen.send(value)
        except StopIteration as stop:
            self._record(op, None, stop.value)
            return
        except WorkpoolError as e:
            self._record(op, e, None)
            return
        op.call = call
        op.sends = 0
        op.budget = self.timeout + call.wait
        now = time.monotonic()
        op.deadline = now + op.budget
        request_id = self._take_id()
        self._ops[request_id] = op
        self._send_op(request_id, op, now)

    def _record(self, op, error, value):
        op.error, op.finished = error, True
        if op.verb == "unsubscribe":
            return
        if op.verb == "complete_many":
            if error is not None:
                for id in op.id:
                    self._outcomes.append(Outcome("complete_many", id, error))
            else:
                for id, e in zip(op.id, value):
                    self._outcomes.append(Outcome("complete_many", id, e))
            return
        self._outcomes.append(Outcome(op.verb, op.id, error,
                                      value if op.verb == "fail" and error is None else None))

    def _flush_ops(self):
        """Sends what is due: first copies not sent yet, resends of safe
        calls past retry_interval; fails what is past its deadline. Returns
        the time of the next thing due (monotonic), or None."""
        now = time.monotonic()
        due = None
        for request_id, op in list(self._ops.items()):
            if now >= op.deadline:
                del self._ops[request_id]
                if op.sends == 0:
                    err = _socket.unreachable(None, self.endpoint, op.budget)
                else:
                    err = DeadlineExceeded("no reply to %s from %s within %.3g s"
                                           % (op.call.method, self.endpoint, op.budget))
                err.resent = op.sends > 1
                self._advance(op, error=err)
                continue
            if op.sends == 0 or (op.call.resend and now - op.last_sent >= self.retry_interval):
                if not self._send_op(request_id, op, now):
                    due = now + 0.01 if due is None else min(due, now + 0.01)
                    continue
            nxt = op.deadline
            if op.call.resend:
                nxt = min(nxt, op.last_sent + self.retry_interval)
            due = nxt if due is None else min(due, nxt)
        return due

    def _send_op(self, request_id, op, now):
        left = op.deadline - now
        frames = _wire.encode_request(request_id, op.call.method, op.call.body,
                                      min(max(1, math.ceil(left * 1000)), 0xFFFFFFFF))
        try:
            self._sock.send_multipart(frames, zmq.NOBLOCK)
        except zmq.Again:
            return False            # no connection takes it yet: _flush_ops tries again
        op.sends += 1
        op.last_sent = now
        return True

    def _pump(self, timeout):
        """Sends what is due, then waits up to timeout seconds (None: until
        something comes) for replies and reads every one there is."""
        if self._sock is None:
            raise Unavailable("the subscription is closed")
        now = time.monotonic()
        due = self._flush_ops()
        if not self._stream_sent and self._final is None:
            if not self._send_stream():
                if now >= self._stream_deadline:
                    self._final = _socket.unreachable(None, self.endpoint, self.timeout)
                    self._lost()
                else:
                    due = now + 0.01 if due is None else min(due, now + 0.01)
        wait = timeout
        if due is not None:
            wait = max(0.0, due - now) if wait is None else min(wait, max(0.0, due - now))
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        poller.register(self._monitor.monitor, zmq.POLLIN)
        events = dict(poller.poll(None if wait is None else max(0, math.ceil(wait * 1000))))
        if self._monitor.monitor in events:
            disconnects = self._monitor.drain()
            if self._stream_sent and disconnects > self._disconnects and self._final is None:
                self._final = Unavailable("the connection to %s was lost: the subscription "
                                          "ended" % self.endpoint)
                self._lost()
            self._disconnects = disconnects
        while True:
            try:
                frames = self._sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if len(frames) != 2:
                continue
            try:
                request_id, status, message = _wire.decode_reply_header(frames[0])
            except ValueError:
                continue
            if request_id == self._stream_id:
                self._stream_message(status, message, frames[1])
                continue
            op = self._ops.pop(request_id, None)
            if op is None:
                continue            # a resend's second answer, or one given up on
            if status != 0:
                err = error_for(status, message)
                err.resent = op.sends > 1
                self._advance(op, error=err)
                continue
            try:
                body = _wire.decode_reply_body(frames[1], op.call.method)
            except (ValueError, Internal) as e:
                self._advance(op, error=Internal("malformed reply to %s: %s"
                                                 % (op.call.method, e)))
                continue
            self._advance(op, value=(body, op.sends > 1))

    def _stream_message(self, status, message, frame):
        if self._final is not None:
            return
        if status != 0:
            self._final = error_for(status, message)
            return
        try:
            body = _wire.decode_reply_body(frame, "WorkPool.Subscribe")
            items = [Item.from_wire(m) for m in body.get("items") or []]
        except Exception as e:
            self._final = Internal("malformed stream message: %s" % e)
            return
        self.received += len(items)
        self._items.extend(items)
        if body.get("end") is True:
            self._final = _END


# ---------------------------------------------------------------------------
#  asyncio

class AsyncSubscription:
    """The asyncio Subscription (AsyncClient.subscribe): the same calls,
    next() / flush() / close() awaited, `async for item in sub`. Its stream
    and acks go on an AsyncClient of its own (its own socket); acks are
    tasks on the loop, each becoming an Outcome."""

    def __init__(self, parent, pool, worker_id, credit, lease=None, stream_timeout=None):
        from .aio import AsyncClient
        call = _ops.subscribe_call(pool, worker_id, credit, lease)
        if stream_timeout is not None:
            stream_timeout = _wire.check_seconds("stream_timeout", stream_timeout, 0.0,
                                                 0xFFFFFFFF / 1000.0, low_open=True)
        header_timeout_ms = 0 if stream_timeout is None else math.ceil(stream_timeout * 1000)
        self.pool, self.worker_id, self.credit = pool, worker_id, credit
        #  On the endpoint the parent uses; a lost connection moves the
        #  parent on (failover), so a subscribe made again goes elsewhere
        self.endpoint = parent.endpoint
        self._parent = parent
        self.timeout = parent.timeout
        server_key, cert = parent._curve
        self._client = AsyncClient(self.endpoint, timeout=parent.timeout,
                                   retry_interval=parent.retry_interval, server_key=server_key,
                                   cert=cert, context=parent._context, _watch_disconnects=True)
        self._items = collections.deque()
        self._final = None
        self._acks = set()          # ack tasks in flight
        self._outcomes = collections.deque()
        self._changed = asyncio.Event()
        self.received = 0
        self._stream_id, self._request = self._client._open_stream(_StreamCall(call, header_timeout_ms),
                                                                   self._on_frames)
        self._loop = asyncio.get_running_loop()
        self._disconnects = 0
        self._monitor_fd = self._client._handshake.monitor.getsockopt(zmq.FD)
        self._loop.add_reader(self._monitor_fd, self._on_monitor)
        self._unsent_timer = self._loop.call_later(self.timeout, self._check_sent)
        self._on_monitor()

    # -- the stream

    def _set_final(self, final):
        if self._final is None:
            self._final = final
            self._changed.set()

    def _on_frames(self, frames):
        if self._final is not None:
            return
        _, status, message = _wire.decode_reply_header(frames[0])
        if status != 0:
            self._set_final(error_for(status, message))
            return
        try:
            body = _wire.decode_reply_body(frames[1], "WorkPool.Subscribe")
            items = [Item.from_wire(m) for m in body.get("items") or []]
        except Exception as e:
            self._set_final(Internal("malformed stream message: %s" % e))
            return
        self.received += len(items)
        self._items.extend(items)
        self._changed.set()
        if body.get("end") is True:
            self._set_final(_END)

    def _on_monitor(self):
        handshake = self._client._handshake
        if handshake is None:
            return
        disconnects = handshake.drain()
        if disconnects > self._disconnects and self._request.sends > 0:
            self._set_final(Unavailable("the connection to %s was lost: the subscription "
                                        "ended" % self.endpoint))
            self._parent._suspect(self.endpoint)
        self._disconnects = disconnects

    def _check_sent(self):
        if self._request.sends == 0:
            self._set_final(_socket.unreachable(None, self.endpoint, self.timeout))
            self._parent._suspect(self.endpoint)

    @property
    def ended(self):
        return self._final is not None

    @property
    def error(self):
        return None if self._final is None or self._final is _END else self._final

    @property
    def pending_acks(self):
        return len(self._acks)

    def __aiter__(self):
        return self

    async def __anext__(self):
        item = await self.next()
        if item is None:
            raise StopAsyncIteration
        return item

    async def next(self, timeout=None):
        """As Subscription.next."""
        deadline = None if timeout is None else self._loop.time() + timeout
        while True:
            if self._items:
                return self._items.popleft()
            if self._final is _END:
                return None
            if self._final is not None:
                raise self._final
            self._changed.clear()
            left = None if deadline is None else deadline - self._loop.time()
            if left is not None and left <= 0:
                return None
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except asyncio.TimeoutError:
                return None

    # -- acks

    def _ack(self, gen, verb, id):
        if self._client._sock is None:
            raise Unavailable("the subscription is closed")
        call = next(gen)                # bad input raises here: nothing was sent
        task = asyncio.ensure_future(self._client._drive(gen, call))
        self._acks.add(task)
        task.add_done_callback(lambda t: self._acked(t, verb, id))

    def _acked(self, task, verb, id):
        self._acks.discard(task)
        if task.cancelled():
            error, value = Cancelled("the subscription was closed"), None
        else:
            error = task.exception()
            value = None if error is not None else task.result()
            if error is not None and not isinstance(error, WorkpoolError):
                error = Internal("%s: %r" % (verb, error))
        if verb == "complete_many":
            for i, one in enumerate(id):
                self._outcomes.append(Outcome(verb, one, error if error is not None
                                              else value[i]))
        else:
            self._outcomes.append(Outcome(verb, id, error,
                                          value if verb == "fail" and error is None else None))
        self._changed.set()

    def complete(self, item, result=None):
        id = _item_id(item)
        self._ack(_ops.complete(self.pool, id, result, self.worker_id), "complete", id)

    def fail(self, item, error=None, retry_after=None):
        id = _item_id(item)
        self._ack(_ops.fail(self.pool, id, error, self.worker_id, retry_after), "fail", id)

    def complete_many(self, items):
        entries = [(e.id, None) if isinstance(e, Item) else e for e in items]
        ids = [e if isinstance(e, str) else e[0] for e in entries]
        self._ack(_ops.complete_many(self.pool, entries, self.worker_id), "complete_many", ids)

    def outcomes(self):
        out = list(self._outcomes)
        self._outcomes.clear()
        return out

    async def flush(self, timeout=None):
        if self._acks:
            await asyncio.wait(set(self._acks), timeout=self.timeout if timeout is None
                               else timeout)
        return self.outcomes()

    async def close(self, timeout=None):
        """As Subscription.close."""
        if self._client._sock is None:
            return []
        budget = self.timeout if timeout is None else timeout
        deadline = self._loop.time() + budget
        try:
            if self._final is None:
                if self._request.sends == 0:
                    self._set_final(_END)
                else:
                    try:
                        await self._client.unsubscribe(self.pool, self.worker_id)
                    except WorkpoolError:
                        if self._final is None:
                            raise
                    #  The final message comes before Unsubscribe's reply
                    while self._final is None:
                        left = deadline - self._loop.time()
                        if left <= 0:
                            raise DeadlineExceeded(
                                "no final message of the subscription of %s on %s within "
                                "%.3g s" % (self.worker_id, self.pool, budget))
                        self._changed.clear()
                        try:
                            await asyncio.wait_for(self._changed.wait(), left)
                        except asyncio.TimeoutError:
                            pass
            await self.flush(max(0.0, deadline - self._loop.time()))
        finally:
            left = list(self._items)
            self._items.clear()
            self._shutdown()
        return left

    def _shutdown(self):
        self._unsent_timer.cancel()
        try:
            self._loop.remove_reader(self._monitor_fd)
        except Exception:
            pass
        self._client._close_stream(self._stream_id)
        self._client._close()
        self._set_final(Unavailable("the subscription was closed"))

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        try:
            await self.close()
        except WorkpoolError:
            if exc[0] is None:
                raise


class _StreamCall:
    """A Call with the stream's own header timeout (0: none)."""
    __slots__ = ("method", "body", "resend", "wait", "header_timeout_ms")

    def __init__(self, call, header_timeout_ms):
        self.method, self.body, self.resend, self.wait = call.method, call.body, False, 0.0
        self.header_timeout_ms = header_timeout_ms
