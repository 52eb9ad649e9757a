/*  wp_time: the clock, RFC 3339 text for times (microseconds since the
    epoch), and UUID v7 ids.

    Formatting always gives the canonical wire form, UTC with exactly six
    fraction digits ("2026-11-26T05:39:00.123456Z"). Parsing accepts any
    RFC 3339 date-time (T or t, Z or z or a numeric offset, 0 to 9 fraction
    digits: beyond six are truncated toward the past), years 0001 to 9999,
    no leap second (60), and refuses everything else, reading only the
    bytes given.  */
#include "wp_records.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define S_US_PER_S   INT64_C (1000000)
#define S_US_PER_DAY (INT64_C (86400) * S_US_PER_S)

//  Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
//  days_from_civil); exact for every year we accept.
static int64_t
s_days_from_civil (int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y: y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3: 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

//  The inverse: the date of a day number.
static void
s_civil_from_days (int64_t z, int *year, int *month, int *day)
{
    z += 719468;
    int64_t era = (z >= 0 ? z: z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *day = (int) (doy - (153 * mp + 2) / 5 + 1);
    *month = (int) (mp < 10 ? mp + 3: mp - 9);
    *year = (int) (yoe + era * 400 + (*month <= 2));
}

//  The range a four-digit year can show.
#define S_TIME_MIN (s_days_from_civil (1, 1, 1) * S_US_PER_DAY)
#define S_TIME_MAX (s_days_from_civil (10000, 1, 1) * S_US_PER_DAY - 1)

int64_t
wp_time_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * S_US_PER_S + ts.tv_nsec / 1000;
}

//  Writes value as exactly n decimal digits; returns the end.
static char *
s_put_digits (char *out, int64_t value, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        out [i] = (char) ('0' + value % 10);
        value /= 10;
    }
    return out + n;
}

char *
wp_time_format (int64_t t, char *buf)
{
    //  Outside years 0001..9999 the text could not be RFC 3339: clamp
    if (t < S_TIME_MIN)
        t = S_TIME_MIN;
    if (t > S_TIME_MAX)
        t = S_TIME_MAX;
    int64_t days = t / S_US_PER_DAY;
    int64_t in_day = t % S_US_PER_DAY;
    if (in_day < 0) {
        in_day += S_US_PER_DAY;
        days--;
    }
    int year, month, day;
    s_civil_from_days (days, &year, &month, &day);
    int64_t secs = in_day / S_US_PER_S;
    //  Written digit by digit: every field is bounded, so the text is always
    //  27 characters and the compiler can see it fits
    char *out = buf;
    out = s_put_digits (out, year, 4);
    *out++ = '-';
    out = s_put_digits (out, month, 2);
    *out++ = '-';
    out = s_put_digits (out, day, 2);
    *out++ = 'T';
    out = s_put_digits (out, secs / 3600, 2);
    *out++ = ':';
    out = s_put_digits (out, secs / 60 % 60, 2);
    *out++ = ':';
    out = s_put_digits (out, secs % 60, 2);
    *out++ = '.';
    out = s_put_digits (out, in_day % S_US_PER_S, 6);
    *out++ = 'Z';
    *out = 0;
    return buf;
}

//  Reads exactly n digits at text + *pos into *value.
static int
s_digits (const char *text, size_t len, size_t *pos, int n, int *value)
{
    if (len - *pos < (size_t) n)
        return -1;
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = text [*pos + i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *pos += n;
    *value = v;
    return 0;
}

//  Reads the character c (either case if it is a letter).
static int
s_char (const char *text, size_t len, size_t *pos, char c)
{
    if (*pos >= len)
        return -1;
    char got = text [*pos];
    if (got != c && !(c >= 'A' && c <= 'Z' && got == c - 'A' + 'a'))
        return -1;
    (*pos)++;
    return 0;
}

static bool
s_leap (int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int
wp_time_parse (const char *text, size_t len, int64_t *t)
{
    if (!text || !t)
        return -1;
    size_t pos = 0;
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;   //  set for GCC -O2, which cannot see s_digits always writes them on success
    if (s_digits (text, len, &pos, 4, &year) || s_char (text, len, &pos, '-')
    ||  s_digits (text, len, &pos, 2, &month) || s_char (text, len, &pos, '-')
    ||  s_digits (text, len, &pos, 2, &day) || s_char (text, len, &pos, 'T')
    ||  s_digits (text, len, &pos, 2, &hour) || s_char (text, len, &pos, ':')
    ||  s_digits (text, len, &pos, 2, &minute) || s_char (text, len, &pos, ':')
    ||  s_digits (text, len, &pos, 2, &second))
        return -1;
    static const int month_days [12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (year < 1 || month < 1 || month > 12 || day < 1
    ||  day > month_days [month - 1] + (month == 2 && s_leap (year))
    ||  hour > 23 || minute > 59 || second > 59)
        return -1;

    int64_t fraction_us = 0;
    if (pos < len && text [pos] == '.') {
        pos++;
        int digits = 0;
        int64_t scale = 100000;
        while (pos < len && text [pos] >= '0' && text [pos] <= '9') {
            if (++digits > 9)
                return -1;
            fraction_us += (text [pos] - '0') * scale;
            scale /= 10;
            pos++;
        }
        if (digits == 0)
            return -1;
    }
    int64_t offset_s = 0;
    if (s_char (text, len, &pos, 'Z') != 0) {
        if (pos >= len || (text [pos] != '+' && text [pos] != '-'))
            return -1;
        int sign = text [pos++] == '-' ? -1: 1;
        int off_hour = 0, off_minute = 0;
        if (s_digits (text, len, &pos, 2, &off_hour) || s_char (text, len, &pos, ':')
        ||  s_digits (text, len, &pos, 2, &off_minute) || off_hour > 23 || off_minute > 59)
            return -1;
        offset_s = sign * (off_hour * 3600 + off_minute * 60);
    }
    if (pos != len)
        return -1;
    int64_t secs = s_days_from_civil (year, month, day) * 86400
                 + hour * 3600 + minute * 60 + second - offset_s;
    int64_t value = secs * S_US_PER_S + fraction_us;
    if (value < S_TIME_MIN || value > S_TIME_MAX)
        return -1;
    *t = value;
    return 0;
}

//  UUID v7 (RFC 9562): 48 bits of Unix milliseconds, then 12 bits that
//  count up within a millisecond (method 3: ids a thread makes are in
//  order even within one), then 62 random bits. Time-ordered ids append to
//  an index instead of landing at random pages of it (the SQLite store's
//  items index), and they sort by push time as text. The random bits come
//  from a per-thread generator seeded by getrandom, so an id costs no
//  system call; a child after fork seeds again, lest it repeat its
//  parent's ids. Ids are names, not secrets: nothing relies on them being
//  unguessable.
static unsigned s_fork_generation;
static pthread_once_t s_atfork_once = PTHREAD_ONCE_INIT;

static void
s_after_fork (void)
{
    __atomic_add_fetch (&s_fork_generation, 1, __ATOMIC_RELAXED);
}

static void
s_atfork_register (void)
{
    pthread_atfork (NULL, NULL, s_after_fork);
}

typedef struct {
    uint64_t state [2];         //  xoroshiro128+
    unsigned generation;        //  s_fork_generation when seeded
    bool seeded;
    uint64_t last_ms;
    uint32_t sequence;          //  the 12 counting bits (and a carry)
} s_uuid_state_t;

static __thread s_uuid_state_t s_uuid;

static void
s_random_fill (uint8_t *bytes, size_t size)
{
    size_t got = 0;
    while (got < size) {
        ssize_t rc = getrandom (bytes + got, size - got, 0);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            //  No entropy source at all: nothing sensible to return
            perror ("wp_uuid_new: getrandom");
            abort ();
        }
        got += (size_t) rc;
    }
}

static uint64_t
s_rotl (uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t
s_next_random (s_uuid_state_t *self)
{
    uint64_t s0 = self->state [0], s1 = self->state [1];
    uint64_t result = s0 + s1;
    s1 ^= s0;
    self->state [0] = s_rotl (s0, 24) ^ s1 ^ (s1 << 16);
    self->state [1] = s_rotl (s1, 37);
    return result;
}

void
wp_uuid_new (char *buf)
{
    s_uuid_state_t *self = &s_uuid;
    pthread_once (&s_atfork_once, s_atfork_register);
    unsigned generation = __atomic_load_n (&s_fork_generation, __ATOMIC_RELAXED);
    if (!self->seeded || self->generation != generation) {
        do
            s_random_fill ((uint8_t *) self->state, sizeof self->state);
        while (self->state [0] == 0 && self->state [1] == 0);
        self->generation = generation;
        self->seeded = true;
        self->last_ms = 0;
    }
    uint64_t ms = (uint64_t) (wp_time_now () / 1000);
    if (ms > self->last_ms) {
        self->last_ms = ms;
        //  Start low in the millisecond's range, so that it has room to count
        self->sequence = (uint32_t) (s_next_random (self) & 0x1ff);
    }
    else
    if (++self->sequence > 0xfff) {
        //  4096 ids in one millisecond (or the clock stepped back): borrow
        //  the next millisecond, keeping the order
        self->last_ms++;
        self->sequence = 0;
    }
    uint64_t random = s_next_random (self);
    uint8_t bytes [16];
    for (int i = 0; i < 6; i++)
        bytes [i] = (uint8_t) (self->last_ms >> (40 - 8 * i));
    bytes [6] = (uint8_t) (0x70 | (self->sequence >> 8));      //  version 7
    bytes [7] = (uint8_t) self->sequence;
    bytes [8] = (uint8_t) (0x80 | ((random >> 56) & 0x3f));    //  RFC 9562 variant
    for (int i = 9; i < 16; i++)
        bytes [i] = (uint8_t) (random >> (8 * (15 - i)));
    static const char hex [] = "0123456789abcdef";
    char *out = buf;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *out++ = '-';
        *out++ = hex [bytes [i] >> 4];
        *out++ = hex [bytes [i] & 0x0f];
    }
    *out = 0;
}
