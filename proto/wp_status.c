/*  wp_status: names of the canonical status codes.  */
#include "wp_status.h"
#include <string.h>

static const char *s_names [WP_STATUS_COUNT] = {
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
    "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"
};

const char *
wp_strerror (int status)
{
    if (status < 0 || status >= WP_STATUS_COUNT)
        return "UNKNOWN_STATUS";
    return s_names [status];
}

int
wp_status_from_name (const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < WP_STATUS_COUNT; i++)
        if (strcmp (name, s_names [i]) == 0)
            return i;
    return -1;
}
