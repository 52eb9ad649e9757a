/*  fuzz_seeds: turns the golden vectors into fuzz_decode's seed corpus:
    one file per vector, in fuzz_decode's input format (method byte, header
    length, header, body). fuzz_seeds OUTDIR; reads $WP_SOURCE_DIR/proto/vectors.
    OUTDIR is emptied first, so each run starts from the vectors alone.  */
#include "proto_test.h"
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
    printf ("fuzz_seeds: %d seeds in %s\n", count, argv [1]);
    pt_vectors_free (vectors, count);
    return 0;
}
