"""workpool.Worker and AsyncWorker: a registered worker's loop in five lines.

    import workpool

    def handle(item):
        return {"doubled": item.data["n"] * 2}

    workpool.Worker("tcp://127.0.0.1:5555", "jobs").run(handle)

The worker registers (host, pid, capabilities, pool group, heartbeat
interval), heartbeats in the background while the handler runs (a thread
with its own socket; AsyncWorker: a task, and a synchronous handler runs in
a thread so the loop stays free), claims with a wait, completes each item
with the handler's return value or fails it with its exception's text
(raise RetryLater(seconds) to have it tried again no sooner than that),
and registers again when the broker says it was declared lost. On SIGTERM
or SIGINT (or stop()) it finishes the item in hand, returns anything it
still holds to pending and marks itself `terminated`.

credit=N (> 0) streams instead of claiming one item at a time: the worker
opens a subscription (WorkPool.Subscribe, its own socket) with that credit,
so up to N items wait in hand while the handler runs, and sends each
Complete / Fail without waiting for its reply (pipelined; each returns a
credit). A stream ended because the worker was declared lost registers and
subscribes again; one replaced by another subscription of the same worker
id (two processes sharing an id) raises Cancelled, releasing nothing. On
stopping it unsubscribes, waits for the acks in flight, then releases the
items streamed and not handled.
"""
import asyncio
import inspect
import logging
import os
import signal
import socket
import threading
import uuid

from . import _socket, _wire
from .aio import AsyncClient
from .client import Client
from .errors import (Cancelled, DeadlineExceeded, FailedPrecondition, InvalidArgument, NotFound,
                     Unavailable, WorkpoolError)

log = logging.getLogger("workpool.worker")

#  Calls that fail for a while and then work again (a broker restarting)
_PASSING = (Unavailable, DeadlineExceeded)
_ERROR_MAX = 65536          # bytes of Fail's error text (proto/wp_limits.h)


def error_text(exc):
    """The text a failed item records: 'ZeroDivisionError: division by zero'
    (a RetryLater: its message alone)."""
    if isinstance(exc, RetryLater):
        text = str(exc)
    else:
        text = "%s: %s" % (type(exc).__name__, exc) if str(exc) else type(exc).__name__
    data = text.encode("utf-8", "replace")
    if len(data) > _ERROR_MAX:
        text = data[:_ERROR_MAX].decode("utf-8", "ignore")
    return text.replace("\0", "?")


class RetryLater(Exception):
    """Raised by a handler: this attempt failed, try the item again in
    after seconds (0..366 days). The worker sends Fail with
    retry_after_seconds, so the item waits scheduled, not pending; the
    attempt counts toward max_retries like any failure (at the limit the
    item is poisoned instead). The text stored is message, or
    "retry in N s" when there is none.

        def handle(item):
            if not rate_limiter.ok():
                raise workpool.RetryLater(30, "rate limited")
    """

    def __init__(self, after, message=None):
        self.after = _wire.check_seconds("retry_after_seconds", after, 0.0, _wire.DELAY_MAX)
        super().__init__(message if message is not None else "retry in %g s" % self.after)


class _Identity:
    """Who the worker is: what Register sends."""

    def __init__(self, worker_id, host, pid, capabilities, pool_id, heartbeat_interval,
                 metadata):
        host = host or socket.gethostname()
        pid = os.getpid() if pid is None else pid
        self.worker_id = worker_id or "%s-%d-%s" % (host, pid, uuid.uuid4().hex[:8])
        self.fields = dict(host=host, pid=pid, capabilities=list(capabilities or ()),
                           pool_id=pool_id, heartbeat_interval=heartbeat_interval,
                           metadata=metadata)
        self.heartbeat_interval = heartbeat_interval


class _WorkerBase:
    """What both workers are: who they are, how they claim, what they count."""

    def __init__(self, endpoint, pool, handler=None, *, worker_id=None, host=None, pid=None,
                 capabilities=(), pool_id=None, heartbeat_interval=10.0, lease=None, wait=5.0,
                 metadata=None, timeout=30.0, server_key=None, cert=None, handle_signals=True,
                 credit=0):
        if isinstance(credit, bool) or not isinstance(credit, int) \
                or not 0 <= credit <= _wire.CREDIT_MAX:
            raise InvalidArgument("credit must be an integer from 0 (claim one at a time) to %d"
                                  % _wire.CREDIT_MAX)
        self.pool = pool
        self.credit = credit
        self.handler = handler
        self.lease = lease
        self.wait = wait
        self.handle_signals = handle_signals
        self._identity = _Identity(worker_id, host, pid, capabilities, pool_id,
                                   heartbeat_interval, metadata)
        self._options = dict(timeout=timeout, server_key=server_key, cert=cert)
        _socket.parse_endpoints(endpoint)     # a bad list fails here, not in run()
        self._endpoint = endpoint
        self.processed = 0              # items completed or failed
        self.heartbeats = 0             # heartbeats the broker accepted
        self.registrations = 0          # the first one included

    @property
    def worker_id(self):
        return self._identity.worker_id

    @staticmethod
    def _outcome(value=None, exc=None):
        """The call that settles an item and its arguments: complete with
        the handler's value, or fail with its exception's text (RetryLater:
        its message, and its delay as retry_after)."""
        if isinstance(exc, RetryLater):
            return "fail", {"error": error_text(exc), "retry_after": exc.after}
        if exc is not None:
            return "fail", {"error": error_text(exc)}
        return "complete", {"result": value}

    def _count(self, outcomes):
        """Counts the acks answered (a subscription's outcomes), logging
        those refused (a lapsed claim: FailedPrecondition)."""
        for outcome in outcomes:
            if outcome.error is not None:
                log.warning("worker %s: item %s: %s", self.worker_id, outcome.id, outcome.error)
            self.processed += 1

    def _settled(self, item, error):
        """Logs why an item was not settled (None: it was); counts it."""
        if error is not None:
            log.warning("worker %s: item %s: %s", self.worker_id, item.id, error)
        self.processed += 1


class Worker(_WorkerBase):
    """A blocking worker on pool. handler(item) returns the result (any
    msgpack value, or None) or raises to fail the item."""

    def __init__(self, endpoint, pool, handler=None, **options):
        super().__init__(endpoint, pool, handler, **options)
        self._stop = threading.Event()

    def stop(self):
        """Asks run() to return after the item in hand. Safe from any thread
        and from a signal handler."""
        self._stop.set()

    def _register(self, client):
        client.register(self.worker_id, **self._identity.fields)
        self.registrations += 1

    def _heartbeat_loop(self, client, done):
        while not done.wait(self._identity.heartbeat_interval):
            try:
                client.heartbeat(self.worker_id)
                self.heartbeats += 1
            except (FailedPrecondition, NotFound) as e:
                #  Declared lost (or forgotten): its claims went back already
                log.warning("worker %s: %s; registering again", self.worker_id, e.message)
                try:
                    self._register(client)
                except WorkpoolError as e2:
                    log.warning("worker %s: register failed: %s", self.worker_id, e2)
            except WorkpoolError as e:
                log.warning("worker %s: heartbeat failed: %s", self.worker_id, e)

    def run(self, handler=None):
        """Registers, then claims and handles items until stop(), SIGTERM or
        SIGINT. Returns the number of items handled. Raises what no retry
        can mend (InvalidArgument for a bad pool name, say)."""
        handler = handler or self.handler
        if handler is None:
            raise TypeError("Worker.run needs a handler")
        self._stop.clear()
        restore = self._install_signals()
        client = Client(self._endpoint, **self._options)
        beat_client = Client(self._endpoint, **self._options)
        done = threading.Event()
        beat = None
        try:
            self._register(client)
            beat = threading.Thread(target=self._heartbeat_loop, args=(beat_client, done),
                                    name="workpool-heartbeat", daemon=True)
            beat.start()
            if self.credit > 0:
                self._stream(client, handler)
            while self.credit == 0 and not self._stop.is_set():
                try:
                    item = client.claim(self.pool, self.worker_id, wait=self.wait,
                                        lease=self.lease)
                except _PASSING as e:
                    log.warning("worker %s: claim failed: %s", self.worker_id, e)
                    self._stop.wait(1.0)
                    continue
                if item is None or self._stop.is_set():
                    continue            # an item claimed after stop() is released below
                self._handle(client, handler, item)
        finally:
            done.set()
            if beat is not None:
                beat.join()
            self._finish(client)
            client.close()
            beat_client.close()
            restore()
        return self.processed

    def _handle(self, client, handler, item):
        try:
            name, kwargs = self._outcome(handler(item))
        except Exception as e:
            name, kwargs = self._outcome(exc=e)
        error = None
        try:
            getattr(client, name)(self.pool, item.id, worker_id=self.worker_id, **kwargs)
        except (FailedPrecondition, NotFound) as e:
            error = e           # the claim lapsed or was taken back: not ours to settle
        except _PASSING as e:
            error = e
        self._settled(item, error)

    def _stream(self, client, handler):
        """The loop over a subscription (credit > 0)."""
        while not self._stop.is_set():
            try:
                sub = client.subscribe(self.pool, self.worker_id, self.credit, self.lease)
            except _PASSING as e:
                log.warning("worker %s: subscribe failed: %s", self.worker_id, e)
                self._stop.wait(1.0)
                continue
            try:
                while not self._stop.is_set():
                    try:
                        item = sub.next(timeout=min(self.wait, 1.0) if self.wait else 1.0)
                    except (FailedPrecondition, NotFound) as e:
                        #  Declared lost: its items went back already
                        log.warning("worker %s: %s; registering again", self.worker_id, e)
                        self._register(client)
                        break
                    except Cancelled:
                        self._replaced = True
                        raise
                    except _PASSING as e:
                        log.warning("worker %s: the stream ended: %s", self.worker_id, e)
                        self._stop.wait(1.0)
                        break
                    if item is None:
                        if sub.ended:
                            break       # ended by an Unsubscribe from elsewhere: open again
                    else:
                        self._handle_streamed(sub, handler, item)
                    self._count(sub.outcomes())
            finally:
                try:
                    sub.close()
                except WorkpoolError as e:
                    log.warning("worker %s: unsubscribe: %s", self.worker_id, e)
                self._count(sub.outcomes())

    def _handle_streamed(self, sub, handler, item):
        try:
            name, kwargs = self._outcome(handler(item))
        except Exception as e:
            name, kwargs = self._outcome(exc=e)
        try:
            getattr(sub, name)(item, **kwargs)
        except InvalidArgument as e:
            #  The result has no msgpack form: fail the item with why
            sub.fail(item, "result cannot be sent: %s" % e)

    def _finish(self, client):
        calls = [(client.update_status, (self.worker_id, "terminated"))]
        if not getattr(self, "_replaced", False):
            #  (replaced: the other subscription holds these items now)
            calls.insert(0, (client.release_by_worker, (self.pool, self.worker_id)))
        for call, args in calls:
            try:
                call(*args)
            except WorkpoolError as e:
                log.warning("worker %s: on stopping: %s", self.worker_id, e)

    def _install_signals(self):
        if not self.handle_signals or threading.current_thread() is not threading.main_thread():
            return lambda: None
        saved = {}
        for signum in (signal.SIGTERM, signal.SIGINT):
            saved[signum] = signal.signal(signum, lambda *_: self.stop())

        def restore():
            for signum, handler in saved.items():
                signal.signal(signum, handler)
        return restore


class AsyncWorker(_WorkerBase):
    """The asyncio worker: handler(item) may be a coroutine function
    (awaited on the loop) or a plain function (run in a thread)."""

    def __init__(self, endpoint, pool, handler=None, **options):
        super().__init__(endpoint, pool, handler, **options)
        self._stop = None

    def stop(self):
        """Asks run() to return after the item in hand (from the loop's thread)."""
        if self._stop is not None:
            self._stop.set()

    async def _register(self, client):
        await client.register(self.worker_id, **self._identity.fields)
        self.registrations += 1

    async def _heartbeat_loop(self, client):
        while True:
            await asyncio.sleep(self._identity.heartbeat_interval)
            try:
                await client.heartbeat(self.worker_id)
                self.heartbeats += 1
            except (FailedPrecondition, NotFound) as e:
                log.warning("worker %s: %s; registering again", self.worker_id, e.message)
                try:
                    await self._register(client)
                except WorkpoolError as e2:
                    log.warning("worker %s: register failed: %s", self.worker_id, e2)
            except Cancelled:
                return
            except WorkpoolError as e:
                log.warning("worker %s: heartbeat failed: %s", self.worker_id, e)

    async def run(self, handler=None):
        """As Worker.run, on the running loop."""
        handler = handler or self.handler
        if handler is None:
            raise TypeError("AsyncWorker.run needs a handler")
        self._stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        installed = []
        if self.handle_signals and threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                try:
                    loop.add_signal_handler(signum, self.stop)
                    installed.append(signum)
                except (NotImplementedError, RuntimeError):
                    pass
        client = AsyncClient(self._endpoint, **self._options)
        beat = None
        try:
            await self._register(client)
            beat = asyncio.ensure_future(self._heartbeat_loop(client))
            if self.credit > 0:
                await self._stream(client, handler, loop)
            while self.credit == 0 and not self._stop.is_set():
                try:
                    item = await client.claim(self.pool, self.worker_id, wait=self.wait,
                                              lease=self.lease)
                except _PASSING as e:
                    log.warning("worker %s: claim failed: %s", self.worker_id, e)
                    try:
                        await asyncio.wait_for(self._stop.wait(), 1.0)
                    except asyncio.TimeoutError:
                        pass
                    continue
                if item is None or self._stop.is_set():
                    continue
                await self._handle(client, handler, item, loop)
        finally:
            if beat is not None:
                beat.cancel()
                try:
                    await beat
                except BaseException:
                    pass
            calls = [(client.update_status, (self.worker_id, "terminated"))]
            if not getattr(self, "_replaced", False):
                calls.insert(0, (client.release_by_worker, (self.pool, self.worker_id)))
            for call, args in calls:
                try:
                    await call(*args)
                except WorkpoolError as e:
                    log.warning("worker %s: on stopping: %s", self.worker_id, e)
            await client.close()
            for signum in installed:
                loop.remove_signal_handler(signum)
        return self.processed

    async def _handle(self, client, handler, item, loop):
        try:
            if inspect.iscoroutinefunction(handler):
                value = await handler(item)
            else:
                value = await loop.run_in_executor(None, handler, item)
                if inspect.isawaitable(value):
                    value = await value
        except Exception as e:
            name, kwargs = self._outcome(exc=e)
        else:
            name, kwargs = self._outcome(value)
        error = None
        try:
            await getattr(client, name)(self.pool, item.id, worker_id=self.worker_id, **kwargs)
        except (FailedPrecondition, NotFound) as e:
            error = e
        except _PASSING as e:
            error = e
        self._settled(item, error)


    async def _stream(self, client, handler, loop):
        """As Worker._stream, on the loop."""
        while not self._stop.is_set():
            sub = client.subscribe(self.pool, self.worker_id, self.credit, self.lease)
            try:
                while not self._stop.is_set():
                    try:
                        item = await sub.next(timeout=min(self.wait, 1.0) if self.wait else 1.0)
                    except (FailedPrecondition, NotFound) as e:
                        log.warning("worker %s: %s; registering again", self.worker_id, e)
                        await self._register(client)
                        break
                    except Cancelled:
                        self._replaced = True
                        raise
                    except _PASSING as e:
                        log.warning("worker %s: the stream ended: %s", self.worker_id, e)
                        try:
                            await asyncio.wait_for(self._stop.wait(), 1.0)
                        except asyncio.TimeoutError:
                            pass
                        break
                    if item is None:
                        if sub.ended:
                            break
                    else:
                        await self._handle_streamed(sub, handler, item, loop)
                    self._count(sub.outcomes())
            finally:
                try:
                    await sub.close()
                except WorkpoolError as e:
                    log.warning("worker %s: unsubscribe: %s", self.worker_id, e)
                self._count(sub.outcomes())

    async def _handle_streamed(self, sub, handler, item, loop):
        try:
            if inspect.iscoroutinefunction(handler):
                value = await handler(item)
            else:
                value = await loop.run_in_executor(None, handler, item)
                if inspect.isawaitable(value):
                    value = await value
        except Exception as e:
            name, kwargs = self._outcome(exc=e)
        else:
            name, kwargs = self._outcome(value)
        try:
            getattr(sub, name)(item, **kwargs)
        except InvalidArgument as e:
            sub.fail(item, "result cannot be sent: %s" % e)
