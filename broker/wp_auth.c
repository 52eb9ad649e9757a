/*  wp_auth: roles and the ZAP handler (see wp_auth.h). What each role may
    call is written once, in s_policy.

    Why our own ZAP handler, not czmq's zauth: zauth checks a key when the
    connection is made and never again, so a key removed from the directory
    would keep its open connections. Putting the key in the ZAP user id
    lets the broker look it up again on every request (zmq_msg_gets
    "User-Id"), against the table as it is now.  */
#include "wp_auth.h"
#include <arpa/inet.h>
#include <czmq.h>

//  The least role that may call a method, and whether a worker key must
//  name one of its own worker ids in it.
typedef struct {
    wp_role role;
    bool worker_bound;
} s_rule_t;

static const s_rule_t s_policy [WP_METHOD_COUNT] = {
    [WP_METHOD_PING]                = { WP_ROLE_PRODUCER, false },
    [WP_METHOD_PUSH]                = { WP_ROLE_PRODUCER, false },
    [WP_METHOD_PUSH_MANY]           = { WP_ROLE_PRODUCER, false },
    [WP_METHOD_GET]                 = { WP_ROLE_PRODUCER, false },
    [WP_METHOD_SIZE]                = { WP_ROLE_PRODUCER, false },
    [WP_METHOD_LIST_ITEMS]          = { WP_ROLE_PRODUCER, false },
    [WP_METHOD_CLAIM]               = { WP_ROLE_WORKER, true },
    [WP_METHOD_CLAIM_MANY]          = { WP_ROLE_WORKER, true },
    [WP_METHOD_COMPLETE_AND_CLAIM]  = { WP_ROLE_WORKER, true },
    [WP_METHOD_SUBSCRIBE]           = { WP_ROLE_WORKER, true },
    [WP_METHOD_UNSUBSCRIBE]         = { WP_ROLE_WORKER, true },
    [WP_METHOD_COMPLETE]            = { WP_ROLE_WORKER, true },
    [WP_METHOD_COMPLETE_MANY]       = { WP_ROLE_WORKER, true },
    [WP_METHOD_FAIL]                = { WP_ROLE_WORKER, true },
    [WP_METHOD_RENEW]               = { WP_ROLE_WORKER, true },
    [WP_METHOD_RELEASE_BY_WORKER]   = { WP_ROLE_WORKER, true },
    [WP_METHOD_REGISTER]            = { WP_ROLE_WORKER, true },
    [WP_METHOD_HEARTBEAT]           = { WP_ROLE_WORKER, true },
    [WP_METHOD_UPDATE_STATUS]       = { WP_ROLE_WORKER, true },
    [WP_METHOD_GET_WORKER]          = { WP_ROLE_WORKER, true },
    [WP_METHOD_LIST_WORKERS]        = { WP_ROLE_ADMIN, false },
    [WP_METHOD_STATS]               = { WP_ROLE_ADMIN, false },
    [WP_METHOD_RETRY]               = { WP_ROLE_ADMIN, false },
    [WP_METHOD_CANCEL]              = { WP_ROLE_ADMIN, false },
    [WP_METHOD_PURGE]               = { WP_ROLE_ADMIN, false },
    [WP_METHOD_PAUSE]               = { WP_ROLE_ADMIN, false },
    [WP_METHOD_RESUME]              = { WP_ROLE_ADMIN, false },
    [WP_METHOD_SET_BACKOFF]         = { WP_ROLE_ADMIN, false },
    [WP_METHOD_SCHEDULE_ADD]        = { WP_ROLE_ADMIN, false },
    [WP_METHOD_SCHEDULE_LIST]       = { WP_ROLE_ADMIN, false },
    [WP_METHOD_SCHEDULE_REMOVE]     = { WP_ROLE_ADMIN, false },
};

wp_status
wp_auth_check (const wp_key_t *key, const wp_request_t *req, char *msg, size_t size)
{
    const char *method = wp_method_name (req->method);
    s_rule_t rule = req->method > WP_METHOD_UNKNOWN && req->method < WP_METHOD_COUNT
                  ? s_policy [req->method] : (s_rule_t) { WP_ROLE_ADMIN, false };
    if (rule.role == 0)
        rule.role = WP_ROLE_ADMIN;      //  a method added without a rule: admins only
    if (key->role < rule.role) {
        snprintf (msg, size, "key '%s' has role %s, which may not call %s (it needs %s%s)",
                  key->name, wp_role_name (key->role), method, wp_role_name (rule.role),
                  rule.role == WP_ROLE_ADMIN ? "" : " or above");
        return WP_PERMISSION_DENIED;
    }
    if (key->role != WP_ROLE_WORKER || !rule.worker_bound)
        return WP_OK;
    const char *worker_id = req->worker_id;
    const char *prefix = key->worker_prefix;
    if (!worker_id) {
        snprintf (msg, size, "key '%s' has role worker: its %s must name its worker_id "
                  "(one starting with '%s')", key->name, method, prefix);
        return WP_PERMISSION_DENIED;
    }
    if (strncmp (worker_id, prefix, strlen (prefix))) {
        snprintf (msg, size, "key '%s' has role worker with worker_prefix '%s': "
                  "it may not call %s as worker '%s'", key->name, prefix, method, worker_id);
        return WP_PERMISSION_DENIED;
    }
    return WP_OK;
}

//  ---------------------------------------------------------------------
//  ZAP (RFC 27): a request is version, request id, domain, address,
//  identity, mechanism, credentials; the reply version, request id,
//  status code, status text, user id, metadata.

//  Sends a ZAP reply; request_id (may be NULL: empty) is the request's.
static void
s_zap_reply (void *zap, zmq_msg_t *request_id, const char *code, const char *text,
             const char *user_id)
{
    zmq_send (zap, "1.0", 3, ZMQ_SNDMORE);
    if (request_id)
        zmq_send (zap, zmq_msg_data (request_id), zmq_msg_size (request_id), ZMQ_SNDMORE);
    else
        zmq_send (zap, "", 0, ZMQ_SNDMORE);
    zmq_send (zap, code, strlen (code), ZMQ_SNDMORE);
    zmq_send (zap, text, strlen (text), ZMQ_SNDMORE);
    zmq_send (zap, user_id, strlen (user_id), ZMQ_SNDMORE);
    zmq_send (zap, "", 0, 0);
}

static bool
s_frame_is (zmq_msg_t *frame, const char *text)
{
    return zmq_msg_size (frame) == strlen (text)
        && memcmp (zmq_msg_data (frame), text, strlen (text)) == 0;
}

int
wp_zap_handle (void *zap, wp_keys_t *keys, wp_zap_outcome_t *outcome)
{
    memset (outcome, 0, sizeof *outcome);
    outcome->reason = "malformed ZAP request";
    enum { VERSION, REQUEST_ID, DOMAIN, ADDRESS, IDENTITY, MECHANISM, CREDENTIALS, FRAMES };
    zmq_msg_t frames [FRAMES];
    size_t count = 0;
    bool more = true;
    while (more) {
        zmq_msg_t extra, *frame = count < FRAMES ? &frames [count] : &extra;
        zmq_msg_init (frame);
        if (zmq_msg_recv (frame, zap, ZMQ_DONTWAIT) == -1) {
            zmq_msg_close (frame);
            break;
        }
        more = zmq_msg_more (frame);
        if (frame == &extra)
            zmq_msg_close (frame);
        count++;
    }
    if (count == 0)
        return -1;
    size_t held = count < FRAMES ? count : FRAMES;
    int rc = -1;
    //  A REP socket must answer whatever it read, or it reads no more
    if (count != FRAMES || !s_frame_is (&frames [VERSION], "1.0"))
        s_zap_reply (zap, count > REQUEST_ID ? &frames [REQUEST_ID] : NULL, "500",
                     outcome->reason, "");
    else {
        size_t size = zmq_msg_size (&frames [ADDRESS]);
        if (size >= sizeof outcome->address)
            size = sizeof outcome->address - 1;
        memcpy (outcome->address, zmq_msg_data (&frames [ADDRESS]), size);
        rc = 0;
        if (!s_frame_is (&frames [MECHANISM], "CURVE"))
            outcome->reason = "not a CURVE connection";
        else
        if (zmq_msg_size (&frames [CREDENTIALS]) != 32)
            outcome->reason = "malformed CURVE key";
        else {
            zmq_z85_encode (outcome->public_key, zmq_msg_data (&frames [CREDENTIALS]), 32);
            if (wp_keys_lookup (keys, outcome->public_key)) {
                outcome->accepted = true;
                outcome->reason = "";
            }
            else
                outcome->reason = "key not in the broker's key directory";
        }
        if (outcome->accepted)
            s_zap_reply (zap, &frames [REQUEST_ID], "200", "OK", outcome->public_key);
        else
            s_zap_reply (zap, &frames [REQUEST_ID], "400", outcome->reason, "");
    }
    for (size_t i = 0; i < held; i++)
        zmq_msg_close (&frames [i]);
    return rc;
}

//  ---------------------------------------------------------------------

bool
wp_endpoint_is_local (const char *endpoint)
{
    if (strncmp (endpoint, "ipc://", 6) == 0 || strncmp (endpoint, "inproc://", 9) == 0)
        return true;
    if (strncmp (endpoint, "tcp://", 6))
        return false;
    const char *host = endpoint + 6;
    const char *end;
    char address [64];
    if (*host == '[') {
        host++;
        end = strchr (host, ']');
    }
    else
        end = strrchr (host, ':');
    if (!end || (size_t) (end - host) >= sizeof address)
        return false;
    memcpy (address, host, (size_t) (end - host));
    address [end - host] = 0;
    if (streq (address, "localhost"))
        return true;
    struct in_addr v4;
    struct in6_addr v6;
    if (inet_pton (AF_INET, address, &v4) == 1)
        return (ntohl (v4.s_addr) >> 24) == 127;
    if (inet_pton (AF_INET6, address, &v6) == 1)
        return IN6_IS_ADDR_LOOPBACK (&v6)
            || (IN6_IS_ADDR_V4MAPPED (&v6) && v6.s6_addr [12] == 127);
    return false;
}
