/*  wp_keys: the key directory (see wp_keys.h). Files are read in name
    order, so when two certificates carry the same public key the first
    name wins, whatever order the directory lists them in.  */
#include "wp_keys.h"
#include <czmq.h>
#include <dirent.h>

struct _wp_keys_t {
    zhashx_t *keys;             //  Z85 public key -> wp_key_t
};

static void
s_key_destroy (void **item_p)
{
    wp_key_t *key = *item_p;
    if (key) {
        free (key->name);
        free (key->worker_prefix);
        free (key);
    }
    *item_p = NULL;
}

const char *
wp_role_name (wp_role role)
{
    switch (role) {
        case WP_ROLE_PRODUCER: return "producer";
        case WP_ROLE_WORKER:   return "worker";
        case WP_ROLE_ADMIN:    return "admin";
    }
    return "?";
}

static int
s_role_from_name (const char *name)
{
    for (wp_role role = WP_ROLE_PRODUCER; role <= WP_ROLE_ADMIN; role++)
        if (name && streq (name, wp_role_name (role)))
            return (int) role;
    return -1;
}

static int
s_compare_names (const void *a, const void *b)
{
    return strcmp (*(char *const *) a, *(char *const *) b);
}

//  Reads one certificate into a key, or returns NULL with the reason in why.
static wp_key_t *
s_key_load (const char *dir, const char *name, char *why, size_t why_size)
{
    char path [PATH_MAX];
    if (snprintf (path, sizeof path, "%s/%s", dir, name) >= (int) sizeof path) {
        snprintf (why, why_size, "path too long");
        return NULL;
    }
    zcert_t *cert = zcert_load (path);
    if (!cert) {
        snprintf (why, why_size, "not a czmq certificate");
        return NULL;
    }
    const char *public_key = zcert_public_txt (cert);
    int role = s_role_from_name (zcert_meta (cert, "role"));
    const char *prefix = zcert_meta (cert, "worker_prefix");
    wp_key_t *key = NULL;
    if (strlen (public_key) != WP_KEY_TEXT_SIZE - 1
    ||  streq (public_key, "0000000000000000000000000000000000000000"))
        snprintf (why, why_size, "no curve public-key");
    else
    if (role < 0)
        snprintf (why, why_size, "metadata role is '%s', not producer, worker or admin",
                  zcert_meta (cert, "role") ? zcert_meta (cert, "role") : "");
    else
    if (role == WP_ROLE_WORKER && (!prefix || !*prefix))
        snprintf (why, why_size, "a worker key needs a worker_prefix in its metadata");
    else {
        key = calloc (1, sizeof *key);
        if (!key)
            abort ();
        memcpy (key->public_key, public_key, WP_KEY_TEXT_SIZE);
        key->name = strdup (name);
        key->role = (wp_role) role;
        key->worker_prefix = role == WP_ROLE_WORKER ? strdup (prefix) : NULL;
        if (!key->name || (role == WP_ROLE_WORKER && !key->worker_prefix))
            abort ();
    }
    zcert_destroy (&cert);
    return key;
}

wp_keys_t *
wp_keys_load (const char *dir, char **error)
{
    DIR *handle = opendir (dir);
    if (!handle) {
        if (error && asprintf (error, "cannot read the key directory %s: %s",
                               dir, strerror (errno)) < 0)
            abort ();
        return NULL;
    }
    char **names = NULL;
    size_t count = 0, capacity = 0;
    struct dirent *entry;
    while ((entry = readdir (handle))) {
        const char *name = entry->d_name;
        size_t length = strlen (name);
        if (name [0] == '.')
            continue;
        if (length > 7 && streq (name + length - 7, "_secret")) {
            zsys_warning ("key directory %s holds %s, a secret certificate: skipped "
                          "(the broker needs only clients' public ones)", dir, name);
            continue;
        }
        if (count == capacity) {
            capacity = capacity ? capacity * 2 : 16;
            names = realloc (names, capacity * sizeof *names);
            if (!names)
                abort ();
        }
        names [count] = strdup (name);
        if (!names [count++])
            abort ();
    }
    closedir (handle);
    if (count > 1)
        qsort (names, count, sizeof *names, s_compare_names);

    wp_keys_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    self->keys = zhashx_new ();
    zhashx_set_destructor (self->keys, s_key_destroy);
    for (size_t i = 0; i < count; i++) {
        char path [PATH_MAX];
        struct stat st;
        snprintf (path, sizeof path, "%s/%s", dir, names [i]);
        if (stat (path, &st) == 0 && S_ISREG (st.st_mode)) {
            char why [256] = "";
            wp_key_t *key = s_key_load (dir, names [i], why, sizeof why);
            const wp_key_t *other = key ? zhashx_lookup (self->keys, key->public_key) : NULL;
            if (!key)
                zsys_warning ("key %s/%s skipped: %s", dir, names [i], why);
            else
            if (other) {
                zsys_warning ("key %s/%s skipped: the same public key as %s",
                              dir, names [i], other->name);
                s_key_destroy ((void **) &key);
            }
            else
                zhashx_insert (self->keys, key->public_key, key);
        }
        free (names [i]);
    }
    free (names);
    return self;
}

void
wp_keys_destroy (wp_keys_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhashx_destroy (&(*self_p)->keys);
    free (*self_p);
    *self_p = NULL;
}

const wp_key_t *
wp_keys_lookup (wp_keys_t *self, const char *public_key)
{
    return zhashx_lookup (self->keys, public_key);
}

size_t
wp_keys_size (wp_keys_t *self)
{
    return zhashx_size (self->keys);
}

//  Appends "; " (unless first) and the formatted text to *text.
static void
s_append (char **text, const char *format, ...) __attribute__ ((format (printf, 2, 3)));

static void
s_append (char **text, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *part = NULL;
    if (vasprintf (&part, format, args) < 0)
        abort ();
    va_end (args);
    char *joined = NULL;
    if (asprintf (&joined, "%s%s%s", *text ? *text : "", *text ? "; " : "", part) < 0)
        abort ();
    free (part);
    free (*text);
    *text = joined;
}

static void
s_describe (const wp_key_t *key, char *out, size_t size)
{
    if (key->worker_prefix)
        snprintf (out, size, "%s, worker_prefix '%s'", wp_role_name (key->role),
                  key->worker_prefix);
    else
        snprintf (out, size, "%s", wp_role_name (key->role));
}

char *
wp_keys_changes (wp_keys_t *before, wp_keys_t *after)
{
    char *text = NULL;
    char was [320], now [320];
    for (wp_key_t *key = zhashx_first (after->keys); key; key = zhashx_next (after->keys)) {
        const wp_key_t *old = zhashx_lookup (before->keys, key->public_key);
        s_describe (key, now, sizeof now);
        if (!old)
            s_append (&text, "added %s (%s)", key->name, now);
        else {
            s_describe (old, was, sizeof was);
            if (strcmp (was, now))
                s_append (&text, "changed %s (%s -> %s)", key->name, was, now);
        }
    }
    for (wp_key_t *key = zhashx_first (before->keys); key; key = zhashx_next (before->keys))
        if (!zhashx_lookup (after->keys, key->public_key))
            s_append (&text, "removed %s", key->name);
    if (!text)
        text = strdup ("no change");
    if (!text)
        abort ();
    return text;
}
