"""workpool: the Python client of the workpool broker (proto/PROTOCOL.md).

    import workpool
    with workpool.Client("tcp://127.0.0.1:5555") as c:
        c.pool("jobs").push({"n": 1})

Client (blocking) and AsyncClient (asyncio, pipelined) have the same
methods; Worker and AsyncWorker run a claim / work / complete loop with a
background heartbeat; workpool.flatagents plugs the broker into a
FlatAgents program. Importing this package starts nothing.
"""
from .errors import (Status, WorkpoolError, Cancelled, Unknown, InvalidArgument,
                     DeadlineExceeded, NotFound, AlreadyExists, PermissionDenied,
                     ResourceExhausted, FailedPrecondition, Aborted, OutOfRange, Unimplemented,
                     Internal, Unavailable, DataLoss, Unauthenticated, error_for)
from .records import Item, WorkerRecord, PoolStats, Stats, Ping, Pushed, Entry, Page, Schedule
from ._wire import Raw
from .client import Client, Pool
from .aio import AsyncClient, AsyncPool
from .subscription import Subscription, Outcome
from .worker import Worker, AsyncWorker, RetryLater
from .curve import Certificate, load_certificate
from . import jsonvalue

__version__ = "0.1.0"

__all__ = [
    "Client", "Pool", "AsyncClient", "AsyncPool", "Subscription", "Outcome", "Worker", "AsyncWorker",
    "Item", "WorkerRecord", "PoolStats", "Stats", "Ping", "Pushed", "Entry", "Page", "Schedule",
    "Raw", "RetryLater",
    "Certificate", "load_certificate",
    "Status", "WorkpoolError", "Cancelled", "Unknown", "InvalidArgument", "DeadlineExceeded",
    "NotFound", "AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
    "Aborted", "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss",
    "Unauthenticated", "error_for",
]
