/*  wp_store_open: picks a store from a backend string. Kept apart from the
    dispatch so that code which never opens a local store (the remote client)
    does not pull the SQLite store in.  */
#include "wp_store_impl.h"
#include <stdlib.h>
#include <string.h>

wp_store_t *
wp_store_open (const char *spec, const wp_store_config_t *cfg,
               wp_status *status, char **message)
{
    if (spec && strcmp (spec, "memory") == 0)
        return wp_store_memory_new (cfg);
    if (spec && strncmp (spec, "sqlite:", 7) == 0 && spec [7])
        return wp_store_sqlite_new (spec + 7, cfg, status, message);
    if (spec && strncmp (spec, "image:", 6) == 0 && spec [6])
        return wp_store_image_new (spec + 6, cfg, status, message);
    if (spec && strncmp (spec, "postgres:", 9) == 0) {
#ifdef WP_WITH_POSTGRES
        return wp_store_postgres_new (spec + 9, cfg, status, message);
#else
        if (status)
            *status = WP_UNIMPLEMENTED;
        if (message)
            *message = wp_strdup ("this workpool was built without the PostgreSQL store "
                                  "(no libpq at build time)");
        return NULL;
#endif
    }
    if (status)
        *status = WP_INVALID_ARGUMENT;
    if (message) {
        const char *text = "backend must be \"memory\", \"sqlite:PATH\", \"image:PATH\" "
                           "or \"postgres:CONNINFO\"";
        *message = strdup (text);
        if (!*message)
            abort ();
    }
    return NULL;
}

