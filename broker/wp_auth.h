/*  wp_auth: who may do what on a CURVE broker. The ZAP handler (ZeroMQ's
    RFC 27) admits a connection whose CURVE key is in the key table and
    names it by that key (the ZAP user id, which libzmq then attaches to
    every message of the connection); each request is then checked against
    the key's current entry and role. Also the rule that keeps a broker
    without CURVE off the network. Internal to broker/.  */
#ifndef WP_AUTH_H_INCLUDED
#define WP_AUTH_H_INCLUDED

#include "wp_keys.h"
#include "wp_proto.h"

//  Checks that key may make req. Returns WP_OK, or WP_PERMISSION_DENIED
//  with a message naming the role and what it may not do in msg.
wp_status wp_auth_check (const wp_key_t *key, const wp_request_t *req, char *msg, size_t size);

//  The outcome of one ZAP request.
typedef struct {
    bool accepted;
    char public_key [WP_KEY_TEXT_SIZE];     //  Z85; "" if none was offered
    char address [64];          //  the peer's address, as libzmq gives it
    const char *reason;         //  why it was refused (static)
} wp_zap_outcome_t;

//  Reads one ZAP request from zap (a REP socket bound to
//  inproc://zeromq.zap.01 in the broker's context) and answers it: 200 with
//  the Z85 key as user id if it is in keys, else 400. Returns 0 with
//  *outcome filled, or -1 if nothing well-formed was read (then a 500 is
//  sent if a reply is owed).
int wp_zap_handle (void *zap, wp_keys_t *keys, wp_zap_outcome_t *outcome);

//  True if endpoint is ipc://, or tcp:// on a loopback address
//  (127.0.0.0/8, ::1, "localhost"). Anything else (*, 0.0.0.0, a
//  public address, an interface or host name) is not.
bool wp_endpoint_is_local (const char *endpoint);

#endif
