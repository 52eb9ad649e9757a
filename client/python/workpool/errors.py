"""Status codes (gRPC's canonical set, as on the wire) and one exception
class per code under WorkpoolError.

A call that the broker (or the client, before sending) refuses raises the
class of its status with the broker's message unchanged:

    try:
        pool.complete(item.id, worker_id="w1")
    except workpool.FailedPrecondition as e:
        print(e.code, e.message)

Some classes also derive from the builtin exception a Python caller would
catch for that case: NotFound is a KeyError (as the FlatAgents SDK raises),
InvalidArgument a ValueError, DeadlineExceeded a TimeoutError,
Unavailable a ConnectionError, Cancelled an asyncio-independent
InterruptedError.
"""
import enum


class Status(enum.IntEnum):
    """The status codes of PROTOCOL.md section 4.2."""
    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


class WorkpoolError(Exception):
    """A call failed. code is a Status, message the broker's words."""
    code = Status.UNKNOWN

    def __init__(self, message="", code=None):
        if code is not None:
            self.code = Status(code) if code in Status._value2member_map_ else code
        self.message = message
        super().__init__(message)

    def __str__(self):
        name = self.code.name if isinstance(self.code, Status) else str(self.code)
        return "%s: %s" % (name, self.message) if self.message else name

    def __reduce__(self):
        #  Picklable with its code, so errors cross process boundaries
        return (error_for, (int(self.code), self.message))


class Cancelled(WorkpoolError, InterruptedError):
    code = Status.CANCELLED


class Unknown(WorkpoolError):
    code = Status.UNKNOWN


class InvalidArgument(WorkpoolError, ValueError):
    code = Status.INVALID_ARGUMENT


class DeadlineExceeded(WorkpoolError, TimeoutError):
    code = Status.DEADLINE_EXCEEDED


class NotFound(WorkpoolError, KeyError):
    code = Status.NOT_FOUND

    #  KeyError quotes its argument in str(); we want the message as is
    __str__ = WorkpoolError.__str__


class AlreadyExists(WorkpoolError):
    code = Status.ALREADY_EXISTS


class PermissionDenied(WorkpoolError, PermissionError):
    code = Status.PERMISSION_DENIED


class ResourceExhausted(WorkpoolError):
    code = Status.RESOURCE_EXHAUSTED


class FailedPrecondition(WorkpoolError):
    code = Status.FAILED_PRECONDITION


class Aborted(WorkpoolError):
    code = Status.ABORTED


class OutOfRange(WorkpoolError):
    code = Status.OUT_OF_RANGE


class Unimplemented(WorkpoolError, NotImplementedError):
    code = Status.UNIMPLEMENTED


class Internal(WorkpoolError):
    code = Status.INTERNAL


class Unavailable(WorkpoolError, ConnectionError):
    code = Status.UNAVAILABLE


class DataLoss(WorkpoolError):
    code = Status.DATA_LOSS


class Unauthenticated(WorkpoolError):
    code = Status.UNAUTHENTICATED


_BY_CODE = {cls.code: cls for cls in (
    Cancelled, Unknown, InvalidArgument, DeadlineExceeded, NotFound, AlreadyExists,
    PermissionDenied, ResourceExhausted, FailedPrecondition, Aborted, OutOfRange,
    Unimplemented, Internal, Unavailable, DataLoss, Unauthenticated)}


def error_for(code, message=""):
    """The exception for a non-OK status code (a code no class has gives a
    WorkpoolError carrying that number)."""
    cls = _BY_CODE.get(code)
    if cls is None:
        return WorkpoolError(message, code)
    return cls(message)
