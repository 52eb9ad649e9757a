/*  conformance: the behaviour contract (docs/SEMANTICS.md and store/wp_store.h)
    as one suite of cases, written once and run unchanged against every
    backend: the memory store, the SQLite store, and the remote store that
    talks to a broker. Cases use the public wp_store.h API only.

    A runner describes its backend with a factory and says what the backend
    can do; cases that need more than that are reported as skipped.  */
#ifndef WP_CONFORMANCE_H_INCLUDED
#define WP_CONFORMANCE_H_INCLUDED

#include <stdbool.h>
#include "wp_store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *name;                   //  backend name, for the output
    //  Returns a fresh, empty store with the default configuration (lease
    //  300 s, heartbeat 10 s), or NULL if it cannot. Called once per case.
    wp_store_t *(*open) (void *ctx);
    //  Destroys *store (nulling it) and whatever open made for it.
    void (*close) (wp_store_t **store, void *ctx);
    void *ctx;                          //  passed to open and close
    bool can_group;                     //  begin/commit/rollback work
    bool can_set_clock;                 //  wp_store_set_clock drives the store's time
    bool can_housekeep;                 //  reap, next_due and purge work (the
                                        //  wire has no methods for them)
} wp_conformance_backend_t;

//  Runs every case (only == NULL), the case named only, or, if only ends in
//  '*', every case whose name starts with what precedes it. Prints one line
//  per case, "ok - name", "ok - name # skip: why" or "not ok - name: why",
//  then "N passed, M failed (K skipped)". Returns the number of failures
//  (1 if only names no case).
int wp_conformance_run (const wp_conformance_backend_t *backend, const char *only);

#ifdef __cplusplus
}
#endif
#endif
