/*  errors: the status codes of the wire (gRPC's canonical numbers, as in
    proto/wp_status.h) and one Error subclass per code under WorkpoolError,
    so callers can `catch (e) { if (e instanceof NotFound) ... }` or switch
    on `e.code`.  */

/** The status codes of PROTOCOL.md section 4.2 (gRPC's canonical numbers). */
export const StatusCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

export type StatusName = keyof typeof StatusCode;

const NAMES: StatusName[] = Object.keys(StatusCode) as StatusName[];

/** The canonical name of a code ("NOT_FOUND"), or "UNKNOWN_STATUS". */
export function statusName(code: number): string {
  return NAMES[code] ?? "UNKNOWN_STATUS";
}

/** A failed call: `code` is the status number, `status` its name, `message`
 *  the broker's (or the client's) words, unchanged. */
export class WorkpoolError extends Error {
  readonly code: number;
  readonly status: string;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
    this.status = statusName(code);
    this.name = new.target.name;
  }
}

export class Cancelled extends WorkpoolError {
  constructor(message: string) { super(StatusCode.CANCELLED, message); }
}
export class Unknown extends WorkpoolError {
  constructor(message: string) { super(StatusCode.UNKNOWN, message); }
}
export class InvalidArgument extends WorkpoolError {
  constructor(message: string) { super(StatusCode.INVALID_ARGUMENT, message); }
}
export class DeadlineExceeded extends WorkpoolError {
  constructor(message: string) { super(StatusCode.DEADLINE_EXCEEDED, message); }
}
export class NotFound extends WorkpoolError {
  constructor(message: string) { super(StatusCode.NOT_FOUND, message); }
}
export class AlreadyExists extends WorkpoolError {
  constructor(message: string) { super(StatusCode.ALREADY_EXISTS, message); }
}
export class PermissionDenied extends WorkpoolError {
  constructor(message: string) { super(StatusCode.PERMISSION_DENIED, message); }
}
export class ResourceExhausted extends WorkpoolError {
  constructor(message: string) { super(StatusCode.RESOURCE_EXHAUSTED, message); }
}
export class FailedPrecondition extends WorkpoolError {
  constructor(message: string) { super(StatusCode.FAILED_PRECONDITION, message); }
}
export class Aborted extends WorkpoolError {
  constructor(message: string) { super(StatusCode.ABORTED, message); }
}
export class OutOfRange extends WorkpoolError {
  constructor(message: string) { super(StatusCode.OUT_OF_RANGE, message); }
}
export class Unimplemented extends WorkpoolError {
  constructor(message: string) { super(StatusCode.UNIMPLEMENTED, message); }
}
export class Internal extends WorkpoolError {
  constructor(message: string) { super(StatusCode.INTERNAL, message); }
}
export class Unavailable extends WorkpoolError {
  constructor(message: string) { super(StatusCode.UNAVAILABLE, message); }
}
export class DataLoss extends WorkpoolError {
  constructor(message: string) { super(StatusCode.DATA_LOSS, message); }
}
export class Unauthenticated extends WorkpoolError {
  constructor(message: string) { super(StatusCode.UNAUTHENTICATED, message); }
}

const CLASSES: Array<(new (message: string) => WorkpoolError) | undefined> = [
  undefined, Cancelled, Unknown, InvalidArgument, DeadlineExceeded, NotFound, AlreadyExists,
  PermissionDenied, ResourceExhausted, FailedPrecondition, Aborted, OutOfRange, Unimplemented,
  Internal, Unavailable, DataLoss, Unauthenticated,
];

/** The error for a non-OK status: the subclass of its code, or a plain
 *  WorkpoolError for a number outside 1..16. */
export function errorFor(code: number, message: string): WorkpoolError {
  const cls = CLASSES[code];
  return cls ? new cls(message) : new WorkpoolError(code, message);
}
