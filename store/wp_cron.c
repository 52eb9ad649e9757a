/*  wp_cron: parsing cron expressions and finding their next tick (wp_cron.h).  */
#include "wp_cron.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

typedef struct {
    const char *what;           //  for messages
    int low, high;              //  values the field takes
    const char *const *names;   //  names of low, low + 1, ... or NULL
} s_field_t;

static const char *const s_months [] = {
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec", NULL
};
static const char *const s_weekdays [] = {
    "sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL
};

static const s_field_t s_fields [6] = {
    { "second", 0, 59, NULL },
    { "minute", 0, 59, NULL },
    { "hour", 0, 23, NULL },
    { "day of month", 1, 31, NULL },
    { "month", 1, 12, s_months },
    { "day of week", 0, 7, s_weekdays },
};

//  Reads a decimal number at *p (stopping past 999, which no field takes);
//  -1 if there is none.
static int
s_number (const char **p)
{
    const char *s = *p;
    if (!isdigit ((unsigned char) *s))
        return -1;
    int value = 0;
    while (isdigit ((unsigned char) *s) && value < 1000)
        value = value * 10 + (*s++ - '0');
    *p = s;
    return value;
}

//  Reads a number or a name at *p; -1 if there is neither.
static int
s_value (const s_field_t *field, const char **p)
{
    const char *s = *p;
    if (isdigit ((unsigned char) *s))
        return s_number (p);
    if (field->names && isalpha ((unsigned char) s [0]) && isalpha ((unsigned char) s [1])
    &&  isalpha ((unsigned char) s [2]))
        for (int i = 0; field->names [i]; i++)
            if (strncasecmp (s, field->names [i], 3) == 0) {
                *p = s + 3;
                return field->low + i;
            }
    return -1;
}

//  Parses one field (text of len bytes) into *bits. Returns 0 or -1.
static int
s_parse_field (const s_field_t *field, const char *text, size_t len, uint64_t *bits,
               char *errbuf, size_t errlen)
{
    char buf [256];
    if (len >= sizeof buf) {
        snprintf (errbuf, errlen, "the %s field is too long", field->what);
        return -1;
    }
    memcpy (buf, text, len);
    buf [len] = 0;
    *bits = 0;
    for (char *item = buf, *next; item; item = next) {
        next = strchr (item, ',');
        if (next)
            *next++ = 0;
        const char *p = item;
        int low, high, step = 1;
        if (*p == '*') {
            low = field->low;
            high = field->high;
            p++;
        }
        else {
            low = high = s_value (field, &p);
            if (low < 0)
                goto bad;
            if (*p == '-') {
                p++;
                high = s_value (field, &p);
                if (high < 0)
                    goto bad;
            }
            else
            if (*p == '/')
                high = field->high;     //  "a/n": from a to the end, as most crons take it
        }
        if (*p == '/') {
            p++;
            step = s_number (&p);
            if (step < 1)
                goto bad;
        }
        if (*p || low < field->low || high > field->high || low > high) {
bad:
            snprintf (errbuf, errlen, "the %s field: '%s' is not a value, range or step"
                      " within %d-%d", field->what, item, field->low, field->high);
            return -1;
        }
        for (int value = low; value <= high; value += step)
            *bits |= 1ull << value;
    }
    return 0;
}

int
wp_cron_parse (const char *text, wp_cron_t *cron, char *errbuf, size_t errlen)
{
    const char *starts [7];
    size_t lens [7];
    int count = 0;
    for (const char *p = text; *p; ) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        if (count == 7)
            break;
        starts [count] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        lens [count] = (size_t) (p - starts [count]);
        count++;
    }
    if (count != 5 && count != 6) {
        snprintf (errbuf, errlen, "'%s' needs 5 fields (minute hour day month weekday),"
                  " or 6 with seconds first", text);
        return -1;
    }
    uint64_t bits [6];
    int first = count == 5 ? 1 : 0;
    bits [0] = 1;                       //  five fields: at second 0
    for (int i = 0; i < count; i++)
        if (s_parse_field (&s_fields [first + i], starts [i], lens [i], &bits [first + i],
                           errbuf, errlen))
            return -1;
    const char *days = starts [count - 3];
    const char *weekdays = starts [count - 1];
    cron->seconds = bits [0];
    cron->minutes = bits [1];
    cron->hours = (uint32_t) bits [2];
    cron->days = (uint32_t) bits [3];
    cron->months = (uint16_t) bits [4];
    //  7 is Sunday too
    cron->weekdays = (uint8_t) ((bits [5] | (bits [5] >> 7)) & 0x7F);
    cron->days_any = *days == '*';
    cron->weekdays_any = *weekdays == '*';
    return 0;
}

static bool
s_day_matches (const wp_cron_t *cron, const struct tm *tm)
{
    bool day = (cron->days >> tm->tm_mday) & 1;
    bool weekday = (cron->weekdays >> tm->tm_wday) & 1;
    if (cron->days_any || cron->weekdays_any)
        return day && weekday;          //  the '*' one matches every day anyway
    return day || weekday;
}

int64_t
wp_cron_next (const wp_cron_t *cron, int64_t t)
{
    //  The first whole second after t
    time_t now = (time_t) (t >= 0 ? t / 1000000 : (t - 999999) / 1000000) + 1;
    time_t limit = now + (time_t) 5 * 366 * 86400;
    struct tm tm;
    //  Each step either matches a field or moves to the start of its next
    //  unit, so the walk takes at most a few thousand steps over 5 years
    while (now < limit) {
        gmtime_r (&now, &tm);
        if (!((cron->months >> (tm.tm_mon + 1)) & 1)) {
            tm.tm_mon++;
            tm.tm_mday = 1;
            tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
        }
        else
        if (!s_day_matches (cron, &tm)) {
            tm.tm_mday++;
            tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
        }
        else
        if (!((cron->hours >> tm.tm_hour) & 1)) {
            tm.tm_hour++;
            tm.tm_min = tm.tm_sec = 0;
        }
        else
        if (!((cron->minutes >> tm.tm_min) & 1)) {
            tm.tm_min++;
            tm.tm_sec = 0;
        }
        else
        if (!((cron->seconds >> tm.tm_sec) & 1))
            tm.tm_sec++;
        else
            return (int64_t) now * 1000000;
        now = timegm (&tm);
    }
    return 0;
}
