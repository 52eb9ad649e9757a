/*  bench_util: clock, latency samples, child processes, ports and temporary
    folders for the benchmark programs (see bench_util.h).  */
#include "bench_util.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double
wp_bench_now (void)
{
    struct timespec t;
    clock_gettime (CLOCK_MONOTONIC, &t);
    return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

int64_t
wp_bench_now_ns (void)
{
    struct timespec t;
    clock_gettime (CLOCK_MONOTONIC, &t);
    return (int64_t) t.tv_sec * 1000000000 + t.tv_nsec;
}

void
wp_bench_die (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fprintf (stderr, "%s: ", program_invocation_short_name);
    vfprintf (stderr, format, args);
    fprintf (stderr, "\n");
    va_end (args);
    exit (1);
}

void
wp_bench_samples_init (wp_bench_samples_t *self, size_t capacity)
{
    self->values = malloc ((capacity? capacity: 1) * sizeof (double));
    if (!self->values)
        abort ();
    self->count = 0;
    self->capacity = capacity;
}

void
wp_bench_samples_add (wp_bench_samples_t *self, double usec)
{
    if (self->count < self->capacity)
        self->values [self->count++] = usec;
}

void
wp_bench_samples_merge (wp_bench_samples_t *self, const wp_bench_samples_t *from)
{
    for (size_t i = 0; i < from->count; i++)
        wp_bench_samples_add (self, from->values [i]);
}

static int
s_compare_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

double
wp_bench_samples_quantile (wp_bench_samples_t *self, double q)
{
    if (self->count == 0)
        return 0;
    qsort (self->values, self->count, sizeof (double), s_compare_double);
    size_t rank = (size_t) (q * (double) self->count);
    if (rank >= self->count)
        rank = self->count - 1;
    return self->values [rank];
}

void
wp_bench_samples_free (wp_bench_samples_t *self)
{
    free (self->values);
    self->values = NULL;
    self->count = self->capacity = 0;
}

pid_t
wp_bench_spawn (char *const argv [], const char *log)
{
    pid_t pid = fork ();
    if (pid < 0)
        wp_bench_die ("fork: %s", strerror (errno));
    if (pid == 0) {
        if (log) {
            int fd = open (log, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                dup2 (fd, STDOUT_FILENO);
                dup2 (fd, STDERR_FILENO);
                close (fd);
            }
        }
        execv (argv [0], argv);
        fprintf (stderr, "workpool-bench: cannot run %s: %s\n", argv [0], strerror (errno));
        _exit (127);
    }
    return pid;
}

int
wp_bench_stop (pid_t pid)
{
    int status = 0;
    if (kill (pid, SIGTERM) && errno == ESRCH) {
        //  Already gone: reap it if it is still our zombie
        return waitpid (pid, &status, WNOHANG) == pid? status: -1;
    }
    for (int tick = 0; tick < 1000; tick++) {
        if (waitpid (pid, &status, WNOHANG) == pid)
            return status;
        usleep (10000);
    }
    kill (pid, SIGKILL);
    waitpid (pid, &status, 0);
    return -1;
}

int
wp_bench_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET };
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd < 0
    ||  bind (fd, (struct sockaddr *) &addr, sizeof addr)
    ||  getsockname (fd, (struct sockaddr *) &addr, &len))
        wp_bench_die ("cannot find a free port: %s", strerror (errno));
    close (fd);
    return ntohs (addr.sin_port);
}

char *
wp_bench_tempdir (void)
{
    const char *base = getenv ("TMPDIR");
    char *path;
    if (asprintf (&path, "%s/workpool-bench-XXXXXX", base && *base? base: "/tmp") < 0)
        abort ();
    if (!mkdtemp (path))
        wp_bench_die ("mkdtemp %s: %s", path, strerror (errno));
    return path;
}

static int
s_remove_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    remove (path);
    return 0;
}

void
wp_bench_rmtree (const char *path)
{
    if (path)
        nftw (path, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static long
s_status_field (pid_t pid, const char *field)
{
    char path [64], line [256];
    snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return -1;
    long value = -1;
    size_t len = strlen (field);
    while (fgets (line, sizeof line, file))
        if (strncmp (line, field, len) == 0 && line [len] == ':') {
            value = atol (line + len + 1);
            break;
        }
    fclose (file);
    return value;
}

long
wp_bench_peak_rss_kb (pid_t pid)
{
    return s_status_field (pid, "VmHWM");
}

long
wp_bench_rss_kb (pid_t pid)
{
    return s_status_field (pid, "VmRSS");
}

double
wp_bench_cpu_seconds (pid_t pid)
{
    char path [64], line [1024];
    snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return -1;
    bool read = fgets (line, sizeof line, file) != NULL;
    fclose (file);
    //  utime and stime are fields 14 and 15; the command name (field 2)
    //  may hold spaces and parentheses, so count from its closing one
    char *rest = read ? strrchr (line, ')') : NULL;
    unsigned long long utime, stime;
    if (!rest || sscanf (rest + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                         &utime, &stime) != 2)
        return -1;
    return (double) (utime + stime) / (double) sysconf (_SC_CLK_TCK);
}
