/*  sec_client: what the security tests share: certificates made in a
    test's directory (the broker's, and clients' with a role), a client
    that speaks CURVE (or not) with a czmq DEALER and zcert, and a
    workpoold spawned with its log in a file.  */
#ifndef SEC_CLIENT_H_INCLUDED
#define SEC_CLIENT_H_INCLUDED

#include "wp_proto.h"
#include "wp_test.h"
#include <czmq.h>
#include <signal.h>
#include <sys/wait.h>

//  ---------------------------------------------------------------------
//  Certificates

//  A test's directory: keys/ holds the public certificates the broker
//  accepts; the broker's own certificate is broker / broker_secret.
typedef struct {
    char dir [64];
    char keys [128];
    char broker_secret [128];
    zcert_t *broker;
} sec_env_t;

static inline void
sec_env_init (sec_env_t *env, const char *name)
{
    wp_test_dir_new (env->dir, name);
    snprintf (env->keys, sizeof env->keys, "%s/keys", env->dir);
    CHECK (mkdir (env->keys, 0700) == 0);
    env->broker = zcert_new ();
    char path [160];
    snprintf (path, sizeof path, "%s/broker", env->dir);
    CHECK (zcert_save (env->broker, path) == 0);
    snprintf (env->broker_secret, sizeof env->broker_secret, "%s/broker_secret", env->dir);
}

static inline void
sec_env_clear (sec_env_t *env)
{
    zcert_destroy (&env->broker);
    wp_test_remove (env->dir);
}

//  A client key with role (and prefix, for workers; may be NULL), its
//  public certificate put in keys/NAME unless listed is false.
//  Caller owns return value.
static inline zcert_t *
sec_key_new (sec_env_t *env, const char *name, const char *role, const char *prefix,
             bool listed)
{
    zcert_t *cert = zcert_new ();
    zcert_set_meta (cert, "role", "%s", role);
    if (prefix)
        zcert_set_meta (cert, "worker_prefix", "%s", prefix);
    if (listed) {
        char path [192];
        snprintf (path, sizeof path, "%s/%s", env->keys, name);
        CHECK (zcert_save_public (cert, path) == 0);
    }
    return cert;
}

//  ---------------------------------------------------------------------
//  A client: requests built from wp_request_t, replies decoded by id

#define SEC_NO_REPLY    (-1)

typedef struct {
    zsock_t *socket;
    uint64_t next_id;
    wp_method methods [4096];
} sec_client_t;

//  A DEALER to endpoint: with CURVE if cert (the client's key) is given,
//  trusting server_key (Z85) as the broker's; plaintext if cert is NULL.
static inline sec_client_t *
sec_client_new (const char *endpoint, zcert_t *cert, const char *server_key)
{
    sec_client_t *self = calloc (1, sizeof *self);
    CHECK (self);
    self->socket = zsock_new (ZMQ_DEALER);
    CHECK (self->socket);
    zsock_set_linger (self->socket, 0);
    //  A DEALER whose handshake was refused has no connection to queue on:
    //  a send would block for good
    zsock_set_sndtimeo (self->socket, 1000);
    if (cert) {
        zcert_apply (cert, self->socket);
        zsock_set_curve_serverkey (self->socket, server_key);
    }
    CHECK (zsock_connect (self->socket, "%s", endpoint) == 0);
    self->next_id = 1;
    return self;
}

static inline void
sec_client_destroy (sec_client_t **self_p)
{
    if (!*self_p)
        return;
    zsock_destroy (&(*self_p)->socket);
    free (*self_p);
    *self_p = NULL;
}

//  Sends req (its pointers borrowed); returns its request id, or 0 if it
//  could not be sent within the socket's send timeout.
static inline uint64_t
sec_send (sec_client_t *self, wp_request_t *req)
{
    CHECK (self->next_id < 4096);
    req->request_id = self->next_id++;
    self->methods [req->request_id] = req->method;
    uint8_t *header, *body;
    size_t header_size, body_size;
    CHECK (wp_request_encode (req, &header, &header_size, &body, &body_size) == 0);
    zmsg_t *msg = zmsg_new ();
    zmsg_addmem (msg, header, header_size);
    zmsg_addmem (msg, body, body_size);
    int rc = zmsg_send (&msg, self->socket);
    zmsg_destroy (&msg);
    free (header);
    free (body);
    return rc == 0 ? req->request_id : 0;
}

//  The next reply into *reply (to clear with wp_reply_clear), or false if
//  none comes within timeout_ms.
static inline bool
sec_recv (sec_client_t *self, wp_reply_t *reply, int timeout_ms)
{
    zsock_set_rcvtimeo (self->socket, timeout_ms);
    zmsg_t *msg = zmsg_recv (self->socket);
    if (!msg)
        return false;
    CHECK (zmsg_size (msg) == 2);
    zframe_t *header = zmsg_first (msg);
    zframe_t *body = zmsg_next (msg);
    char errbuf [256];
    wp_reply_init (reply);
    CHECK (wp_reply_decode_header (reply, zframe_data (header), zframe_size (header),
                                   errbuf, sizeof errbuf) == WP_OK);
    CHECK (reply->request_id > 0 && reply->request_id < self->next_id);
    if (reply->status == WP_OK)
        CHECK (wp_reply_decode_body (reply, self->methods [reply->request_id],
                                     zframe_data (body), zframe_size (body),
                                     errbuf, sizeof errbuf) == WP_OK);
    zmsg_destroy (&msg);
    return true;
}

//  Sends req and waits up to timeout_ms for its reply. Returns its status,
//  or SEC_NO_REPLY; *reply_out (may be NULL) gets the reply.
static inline int
sec_call_within (sec_client_t *self, wp_request_t *req, wp_reply_t *reply_out, int timeout_ms)
{
    uint64_t id = sec_send (self, req);
    if (id == 0)
        return SEC_NO_REPLY;
    wp_reply_t reply;
    int64_t deadline = zclock_mono () + timeout_ms;
    while (true) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0 || !sec_recv (self, &reply, (int) left))
            return SEC_NO_REPLY;
        if (reply.request_id == id)
            break;
        wp_reply_clear (&reply);            //  a reply to a request given up on
    }
    int status = reply.status;
    if (reply_out)
        *reply_out = reply;
    else
        wp_reply_clear (&reply);
    return status;
}

static inline int
sec_call (sec_client_t *self, wp_request_t *req, wp_reply_t *reply_out)
{
    return sec_call_within (self, req, reply_out, 20000);
}

//  A request of method with nothing set.
static inline wp_request_t
sec_request (wp_method method)
{
    wp_request_t req;
    wp_request_init (&req);
    req.method = method;
    return req;
}

static uint8_t sec_data [] = { 0x2a };          //  msgpack 42

static inline int
sec_push (sec_client_t *client, const char *pool, const char *id)
{
    wp_request_t req = sec_request (WP_METHOD_PUSH);
    wp_push_entry_t entry = { sec_data, sizeof sec_data, id, -1 };
    req.pool = (char *) pool;
    req.entries = &entry;
    req.entry_count = 1;
    return sec_call (client, &req, NULL);
}

static inline int
sec_ping (sec_client_t *client, int timeout_ms)
{
    wp_request_t req = sec_request (WP_METHOD_PING);
    return sec_call_within (client, &req, NULL, timeout_ms);
}

//  The value of a Broker.Stats counter.
static inline uint64_t
sec_counter (sec_client_t *client, const char *name)
{
    wp_request_t req = sec_request (WP_METHOD_STATS);
    wp_reply_t reply;
    CHECK (sec_call (client, &req, &reply) == WP_OK);
    uint64_t value = UINT64_MAX;
    for (size_t i = 0; i < reply.stats->counter_count; i++)
        if (streq (reply.stats->counters [i].name, name))
            value = reply.stats->counters [i].value;
    wp_reply_clear (&reply);
    CHECK (value != UINT64_MAX);
    return value;
}

//  ---------------------------------------------------------------------
//  workpoold in a child process

typedef struct {
    pid_t pid;
    char log [160];
    char endpoint [128];
} sec_daemon_t;

//  The daemon's log so far (caller frees).
static inline char *
sec_daemon_log (sec_daemon_t *self)
{
    FILE *file = fopen (self->log, "r");
    CHECK (file);
    char *text = calloc (1, 1 << 20);
    CHECK (text);
    size_t got = fread (text, 1, (1 << 20) - 1, file);
    text [got] = 0;
    fclose (file);
    return text;
}

//  Waits up to timeout_ms for text in the log; returns whether it came.
static inline bool
sec_daemon_wait_log (sec_daemon_t *self, const char *text, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (zclock_mono () < deadline) {
        char *log = sec_daemon_log (self);
        bool found = strstr (log, text) != NULL;
        free (log);
        if (found)
            return true;
        zclock_sleep (20);
    }
    return false;
}

//  Starts workpoold (argv: its arguments after the binary, NULL-ended)
//  with stderr to dir/workpoold.log. If wait_bound, waits for its first
//  "listening on" line and puts the endpoint in self->endpoint.
static inline void
sec_daemon_start (sec_daemon_t *self, const char *binary, const char *dir,
                  const char *const *args, bool wait_bound)
{
    memset (self, 0, sizeof *self);
    snprintf (self->log, sizeof self->log, "%s/workpoold.log", dir);
    const char *argv [64] = { binary };
    size_t argc = 1;
    for (size_t i = 0; args [i]; i++) {
        CHECK (argc < 63);
        argv [argc++] = args [i];
    }
    argv [argc] = NULL;
    int log_fd = open (self->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK (log_fd >= 0);
    self->pid = fork ();
    CHECK (self->pid >= 0);
    if (self->pid == 0) {
        //  Under AddressSanitizer, freed memory is held in a quarantine
        //  (256 MB by default) that a test of the daemon's RSS would count
        const char *asan = getenv ("ASAN_OPTIONS");
        char options [1024];
        snprintf (options, sizeof options, "%s%squarantine_size_mb=4", asan ? asan : "",
                  asan && *asan ? ":" : "");
        setenv ("ASAN_OPTIONS", options, 1);
        dup2 (log_fd, 1);
        dup2 (log_fd, 2);
        execv (binary, (char *const *) argv);
        _exit (127);
    }
    close (log_fd);
    if (!wait_bound)
        return;
    CHECK (sec_daemon_wait_log (self, "started", 30000));
    char *log = sec_daemon_log (self);
    const char *at = strstr (log, "listening on ");
    CHECK (at);
    at += strlen ("listening on ");
    size_t length = strcspn (at, " \n");
    CHECK (length < sizeof self->endpoint);
    memcpy (self->endpoint, at, length);
    free (log);
}

//  Waits up to timeout_ms for the daemon to exit; returns its exit status,
//  or -1 (killed) if it did not.
static inline int
sec_daemon_wait (sec_daemon_t *self, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    int status;
    while (waitpid (self->pid, &status, WNOHANG) == 0) {
        if (zclock_mono () > deadline) {
            kill (self->pid, SIGKILL);
            waitpid (self->pid, &status, 0);
            return -1;
        }
        zclock_sleep (10);
    }
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

//  Stops the daemon with SIGTERM; checks that it exits 0.
static inline void
sec_daemon_stop (sec_daemon_t *self)
{
    kill (self->pid, SIGTERM);
    int code = sec_daemon_wait (self, 30000);
    if (code != 0) {
        char *log = sec_daemon_log (self);
        fprintf (stderr, "workpoold exited with %d:\n%s\n", code, log);
        free (log);
    }
    CHECK (code == 0);
}

//  The resident set of process pid, in bytes.
static inline uint64_t
sec_rss (pid_t pid)
{
    char path [64];
    snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
    FILE *file = fopen (path, "r");
    CHECK (file);
    char line [256];
    uint64_t kb = 0;
    while (fgets (line, sizeof line, file))
        if (sscanf (line, "VmRSS: %" SCNu64 " kB", &kb) == 1)
            break;
    fclose (file);
    return kb * 1024;
}

#endif
