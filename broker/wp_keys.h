/*  wp_keys: the client keys a CURVE broker accepts, loaded from a
    directory of czmq public certificates (zcert). Each certificate's
    metadata gives the key's role ("role" = producer, worker or admin) and,
    for a worker, the worker ids it may act as ("worker_prefix"). Internal
    to broker/.  */
#ifndef WP_KEYS_H_INCLUDED
#define WP_KEYS_H_INCLUDED

#include <stddef.h>

#define WP_KEY_TEXT_SIZE    41      //  a Z85 CURVE public key and its NUL

typedef enum {
    WP_ROLE_PRODUCER = 1,       //  push and read items
    WP_ROLE_WORKER,             //  and claim, finish, register as its own worker ids
    WP_ROLE_ADMIN               //  everything
} wp_role;

//  One accepted key.
typedef struct {
    char public_key [WP_KEY_TEXT_SIZE];     //  Z85
    char *name;                 //  the certificate's file name
    wp_role role;
    char *worker_prefix;        //  worker ids a worker key may use start with it; NULL otherwise
} wp_key_t;

typedef struct _wp_keys_t wp_keys_t;

//  Loads every certificate in dir (not its subdirectories; files named
//  "*_secret" and dot files are skipped). A certificate that cannot be
//  read, or whose role is missing or unknown, or a worker's without a
//  worker_prefix, is skipped with a warning in the log. Returns NULL if
//  dir cannot be read, with *error (caller frees) saying why.
//  Caller owns return value.
wp_keys_t *wp_keys_load (const char *dir, char **error);
//  Frees the table and nulls *self_p; safe on NULL.
void wp_keys_destroy (wp_keys_t **self_p);
//  The key with this Z85 public key, or NULL. Owned by the table.
const wp_key_t *wp_keys_lookup (wp_keys_t *self, const char *public_key);
//  Keys in the table.
size_t wp_keys_size (wp_keys_t *self);
//  What changed from before to after: "added alice (producer); removed bob;
//  changed carol (producer -> admin)", or "no change". Caller owns return value.
char *wp_keys_changes (wp_keys_t *before, wp_keys_t *after);
//  "producer", "worker", "admin".
const char *wp_role_name (wp_role role);

#endif
