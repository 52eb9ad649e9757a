/*  fuzz_seeds: turns the golden vectors into fuzz_decode's seed corpus:
    one file per vector, in fuzz_decode's input format (method byte, header
    length, header, body). fuzz_seeds OUTDIR; reads $WP_SOURCE_DIR/proto/vectors.
    OUTDIR is emptied first, so each run starts from the vectors alone.
    A few seeds are added beside them: the accepted forms the canonical
    vectors do not show (a single status name rather than an array, a
    Stats pool without paused, Retry's all: false beside an id, an Item of
    the 12 fields a broker older than scheduling sends, a SetBackoff whose
    cap is left to default and whose jitter is an int).  */
#include "proto_test.h"
#include "wp_msgpack.h"
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

//  Writes one seed: the fixture header of method (a request unless reply)
//  and the body packed by pack.
static int
s_extra (const char *dir, const char *name, wp_method m, bool request,
         void (*pack) (msgpack_packer *pk))
{
    uint8_t *h, *b;
    size_t hn, bn;
    if (pt_encode (m, true, request, &h, &hn, &b, &bn))
        return -1;
    free (b);
    wp_mp_writer_t w;
    wp_mp_writer_init (&w);
    pack (&w.pk);
    wp_mp_writer_take (&w, &b, &bn);
    char path [4400];
    snprintf (path, sizeof path, "%.4000s/extra.%s", dir, name);
    FILE *file = fopen (path, "wb");
    if (file) {
        uint8_t prefix [3] = { (uint8_t) (m - 1), (uint8_t) (hn & 0xff), (uint8_t) (hn >> 8) };
        fwrite (prefix, 1, 3, file);
        fwrite (h, 1, hn, file);
        fwrite (b, 1, bn, file);
        fclose (file);
    }
    free (h);
    free (b);
    return file ? 0: -1;
}

static void
s_list_one_status (msgpack_packer *pk)
{
    msgpack_pack_map (pk, 3);
    wp_mp_pack_cstr (pk, "pool"); wp_mp_pack_cstr (pk, "jobs");
    wp_mp_pack_cstr (pk, "status"); wp_mp_pack_cstr (pk, "poisoned");
    wp_mp_pack_cstr (pk, "cursor"); wp_mp_pack_cstr (pk, "17");
}

static void
s_purge_one_status (msgpack_packer *pk)
{
    msgpack_pack_map (pk, 2);
    wp_mp_pack_cstr (pk, "pool"); wp_mp_pack_cstr (pk, "jobs");
    wp_mp_pack_cstr (pk, "status"); wp_mp_pack_cstr (pk, "done");
}

static void
s_retry_id_all_false (msgpack_packer *pk)
{
    msgpack_pack_map (pk, 3);
    wp_mp_pack_cstr (pk, "pool"); wp_mp_pack_cstr (pk, "jobs");
    wp_mp_pack_cstr (pk, "id"); wp_mp_pack_cstr (pk, "job-1");
    wp_mp_pack_cstr (pk, "all"); msgpack_pack_false (pk);
}

static void
s_stats_without_paused (msgpack_packer *pk)
{
    msgpack_pack_map (pk, 3);
    wp_mp_pack_cstr (pk, "pools");
    msgpack_pack_array (pk, 1);
    msgpack_pack_map (pk, 5);
    wp_mp_pack_cstr (pk, "pool"); wp_mp_pack_cstr (pk, "jobs");
    const char *counts [4] = { "pending", "claimed", "done", "poisoned" };
    for (int i = 0; i < 4; i++) {
        wp_mp_pack_cstr (pk, counts [i]);
        msgpack_pack_uint32 (pk, (uint32_t) i);
    }
    wp_mp_pack_cstr (pk, "workers"); msgpack_pack_map (pk, 0);
    wp_mp_pack_cstr (pk, "counters"); msgpack_pack_map (pk, 0);
}

//  A Get reply from a broker before scheduling: no priority, run_at, unique_key
static void
s_item_without_scheduling (msgpack_packer *pk)
{
    msgpack_pack_map (pk, 1);
    wp_mp_pack_cstr (pk, "item");
    msgpack_pack_map (pk, 7);
    wp_mp_pack_cstr (pk, "id"); wp_mp_pack_cstr (pk, "job-1");
    wp_mp_pack_cstr (pk, "pool"); wp_mp_pack_cstr (pk, "jobs");
    wp_mp_pack_cstr (pk, "data"); wp_mp_pack_bin (pk, (const uint8_t *) "\x01", 1);
    wp_mp_pack_cstr (pk, "status"); wp_mp_pack_cstr (pk, "pending");
    wp_mp_pack_cstr (pk, "attempts"); msgpack_pack_uint32 (pk, 0);
    wp_mp_pack_cstr (pk, "max_retries"); msgpack_pack_uint32 (pk, 3);
    wp_mp_pack_cstr (pk, "created_at"); wp_mp_pack_cstr (pk, "2026-11-26T05:39:00.123456Z");
}

static void
s_set_backoff_defaults (msgpack_packer *pk)
{
    msgpack_pack_map (pk, 3);
    wp_mp_pack_cstr (pk, "pool"); wp_mp_pack_cstr (pk, "jobs");
    wp_mp_pack_cstr (pk, "base_seconds"); msgpack_pack_uint32 (pk, 5);
    wp_mp_pack_cstr (pk, "jitter"); msgpack_pack_uint32 (pk, 1);
}

int
main (int argc, char *argv [])
{
    const char *source = getenv ("WP_SOURCE_DIR");
    if (argc != 2 || !source) {
        fprintf (stderr, "usage: WP_SOURCE_DIR=... fuzz_seeds OUTDIR\n");
        return 2;
    }
    if (mkdir (argv [1], 0755) && errno != EEXIST) {
        perror (argv [1]);
        return 1;
    }
    DIR *dir = opendir (argv [1]);
    struct dirent *entry;
    while (dir && (entry = readdir (dir))) {
        if (entry->d_name [0] == '.')
            continue;
        char path [4400];
        snprintf (path, sizeof path, "%.4000s/%.255s", argv [1], entry->d_name);
        unlink (path);
    }
    if (dir)
        closedir (dir);
    char vectors_dir [4096];
    snprintf (vectors_dir, sizeof vectors_dir, "%s/proto/vectors", source);
    pt_vector_t *vectors;
    int count = pt_vectors_load (vectors_dir, &vectors);
    if (count <= 0) {
        fprintf (stderr, "fuzz_seeds: no vectors in %s\n", vectors_dir);
        return 1;
    }
    for (int i = 0; i < count; i++) {
        pt_vector_t *v = &vectors [i];
        if (!v->header || !v->body || !v->method || v->header_size > 0xffff)
            continue;
        wp_method m = wp_method_from_name (v->method, strlen (v->method));
        char path [4400];
        snprintf (path, sizeof path, "%.4000s/%.255s", argv [1], v->name);
        FILE *file = fopen (path, "wb");
        if (!file) {
            perror (path);
            return 1;
        }
        uint8_t prefix [3] = { (uint8_t) (m ? m - 1: 0), (uint8_t) (v->header_size & 0xff),
                               (uint8_t) (v->header_size >> 8) };
        fwrite (prefix, 1, 3, file);
        fwrite (v->header, 1, v->header_size, file);
        fwrite (v->body, 1, v->body_size, file);
        fclose (file);
    }
    if (s_extra (argv [1], "list-one-status", WP_METHOD_LIST_ITEMS, true, s_list_one_status)
    ||  s_extra (argv [1], "purge-one-status", WP_METHOD_PURGE, true, s_purge_one_status)
    ||  s_extra (argv [1], "retry-all-false", WP_METHOD_RETRY, true, s_retry_id_all_false)
    ||  s_extra (argv [1], "stats-without-paused", WP_METHOD_STATS, false,
                 s_stats_without_paused)
    ||  s_extra (argv [1], "item-without-scheduling", WP_METHOD_GET, false,
                 s_item_without_scheduling)
    ||  s_extra (argv [1], "set-backoff-defaults", WP_METHOD_SET_BACKOFF, true,
                 s_set_backoff_defaults)) {
        perror (argv [1]);
        return 1;
    }
    printf ("fuzz_seeds: %d seeds in %s\n", count + 6, argv [1]);
    pt_vectors_free (vectors, count);
    return 0;
}
