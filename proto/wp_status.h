/*  wp_status: the status codes of every workpool API and of the wire.

    The numbers are gRPC's canonical codes, so a client in any language can
    map them to its own gRPC-style errors. Internal helpers return 0/-1; the
    public API and the wire carry a wp_status and a human-readable message.  */
#ifndef WP_STATUS_H_INCLUDED
#define WP_STATUS_H_INCLUDED

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    WP_OK                  = 0,
    WP_CANCELLED           = 1,
    WP_UNKNOWN             = 2,
    WP_INVALID_ARGUMENT    = 3,
    WP_DEADLINE_EXCEEDED   = 4,
    WP_NOT_FOUND           = 5,
    WP_ALREADY_EXISTS      = 6,
    WP_PERMISSION_DENIED   = 7,
    WP_RESOURCE_EXHAUSTED  = 8,
    WP_FAILED_PRECONDITION = 9,
    WP_ABORTED             = 10,
    WP_OUT_OF_RANGE        = 11,
    WP_UNIMPLEMENTED       = 12,
    WP_INTERNAL            = 13,
    WP_UNAVAILABLE         = 14,
    WP_DATA_LOSS           = 15,
    WP_UNAUTHENTICATED     = 16
} wp_status;

#define WP_STATUS_COUNT 17

//  Returns the canonical name of a status ("NOT_FOUND"); "UNKNOWN_STATUS" for
//  a number outside 0..16. The string is static.
const char *wp_strerror (int status);

//  Returns the status named by name ("NOT_FOUND"), or -1 if none is.
int wp_status_from_name (const char *name);

#ifdef __cplusplus
}
#endif
#endif
