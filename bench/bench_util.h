/*  bench_util: what every benchmark program of bench/ shares: a monotonic
    clock, latency samples and their percentiles, child processes started
    and stopped by pid, free loopback ports and temporary folders.

    Benchmark code, not library code: failures print a message and exit,
    since a half-run benchmark has no figure worth reporting.  */
#ifndef WP_BENCH_UTIL_H_INCLUDED
#define WP_BENCH_UTIL_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

//  Seconds on CLOCK_MONOTONIC (comparable across processes of one machine).
double wp_bench_now (void);
//  Nanoseconds on CLOCK_MONOTONIC, for timestamps carried in payloads.
int64_t wp_bench_now_ns (void);

//  Prints "<program>: <message>" to stderr and exits 1.
void wp_bench_die (const char *format, ...) __attribute__ ((format (printf, 1, 2), noreturn));

//  Latency samples in microseconds. A fixed capacity, chosen up front, so
//  recording in the timed loop never allocates; samples past it are counted
//  but not kept.
typedef struct {
    double *values;             //  capacity slots
    size_t count;               //  samples kept
    size_t capacity;
} wp_bench_samples_t;

//  Allocates room for capacity samples (aborts on out of memory).
void wp_bench_samples_init (wp_bench_samples_t *self, size_t capacity);
void wp_bench_samples_add (wp_bench_samples_t *self, double usec);
//  Appends every sample of from (as far as room allows).
void wp_bench_samples_merge (wp_bench_samples_t *self, const wp_bench_samples_t *from);
//  The q-quantile (0..1) of the samples, nearest rank; 0 when empty. Sorts.
double wp_bench_samples_quantile (wp_bench_samples_t *self, double q);
void wp_bench_samples_free (wp_bench_samples_t *self);

//  Starts argv[0] (a path) with argv as a child process; stdout and stderr
//  go to the log file if not NULL. Returns its pid; exits on failure.
pid_t wp_bench_spawn (char *const argv [], const char *log);
//  Sends SIGTERM, waits up to 10 s, then SIGKILL. Returns the child's exit
//  status as waitpid gives it, or -1 if it had to be killed.
int wp_bench_stop (pid_t pid);

//  A TCP port on 127.0.0.1 free at the time of the call.
int wp_bench_free_port (void);
//  Creates a fresh temporary folder (caller frees the string).
char *wp_bench_tempdir (void);
//  Removes the folder and everything in it (best effort).
void wp_bench_rmtree (const char *path);

//  The peak resident set (VmHWM) of process pid in KiB, or -1.
long wp_bench_peak_rss_kb (pid_t pid);
//  The current resident set (VmRSS) of process pid in KiB, or -1.
long wp_bench_rss_kb (pid_t pid);
//  The CPU time (user + system, every thread) process pid has used, in
//  seconds, or -1.
double wp_bench_cpu_seconds (pid_t pid);

#endif
