/*  consumer: a user's program on the installed libworkpool, built by
    packaging/install_test.sh with find_package and with pkg-config. It
    includes the public header as installed, and msgpack.h, which the
    package's public requirements provide: it packs a value, pushes it,
    claims it, and unpacks item->data. Exits 0 and prints "consumer: OK".  */
#include "workpool.h"
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_CHECK(cond) \
    do { if (!(cond)) { fprintf (stderr, "consumer: %s failed\n", #cond); return 1; } } while (0)

int
main (void)
{
    wp_status status = WP_OK;
    char *message = NULL;
    wp_backend_t *backend = wp_backend_open ("memory", NULL, &status, &message);
    S_CHECK (backend && status == WP_OK);
    wp_pool_t *pool = wp_backend_pool (backend, "jobs");
    S_CHECK (pool);

    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer packer;
    msgpack_packer_init (&packer, &buffer, msgpack_sbuffer_write);
    msgpack_pack_str_with_body (&packer, "hello", 5);
    char *id = NULL;
    S_CHECK (wp_pool_push (pool, buffer.data, buffer.size, &id) == WP_OK);
    msgpack_sbuffer_destroy (&buffer);

    wp_item_t *item = NULL;
    S_CHECK (wp_pool_claim (pool, "consumer", NULL, &item) == WP_OK && item);
    S_CHECK (strcmp (item->id, id) == 0);
    msgpack_unpacked value;
    msgpack_unpacked_init (&value);
    S_CHECK (msgpack_unpack_next (&value, (const char *) item->data, item->data_size, NULL)
             == MSGPACK_UNPACK_SUCCESS);
    S_CHECK (value.data.type == MSGPACK_OBJECT_STR && value.data.via.str.size == 5
             && memcmp (value.data.via.str.ptr, "hello", 5) == 0);
    msgpack_unpacked_destroy (&value);
    S_CHECK (wp_pool_complete (pool, item->id, NULL, 0, "consumer") == WP_OK);
    S_CHECK (strcmp (wp_strerror (WP_NOT_FOUND), "NOT_FOUND") == 0);
    S_CHECK (WP_BATCH_MAX >= 1);            //  wp_limits.h came along with workpool.h

    wp_item_destroy (&item);
    free (id);
    wp_pool_destroy (&pool);
    wp_backend_destroy (&backend);
    printf ("consumer: OK (libworkpool %d.%d.%d)\n", WP_LIB_VERSION_MAJOR,
            WP_LIB_VERSION_MINOR, WP_LIB_VERSION_PATCH);
    return 0;
}
