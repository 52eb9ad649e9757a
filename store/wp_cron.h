/*  wp_cron: cron expressions, for the periodic pushes of wp_store_schedule_*.

    Standard five fields, minute hour day-of-month month day-of-week, or six
    with a seconds field first (as node-cron and robfig/cron take it), all in
    UTC. Each field is "*", a number, a range "a-b", any of those with a step
    "/n", or a comma list of them; months and days of the week may be named
    (JAN..DEC, SUN..SAT); day of week 0 and 7 are Sunday. As in Vixie cron,
    when both day fields are restricted a day matching either one fires.
    An expression no date matches (30 2 *: February 30th) is refused.  */
#ifndef WP_CRON_H_INCLUDED
#define WP_CRON_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  A parsed expression: one bit per value each field allows.
typedef struct {
    uint64_t seconds;           //  bits 0..59
    uint64_t minutes;           //  bits 0..59
    uint32_t hours;             //  bits 0..23
    uint32_t days;              //  bits 1..31
    uint16_t months;            //  bits 1..12
    uint8_t weekdays;           //  bits 0..6, Sunday 0
    bool days_any;              //  the day-of-month field was "*"
    bool weekdays_any;          //  the day-of-week field was "*"
} wp_cron_t;

//  Parses text into *cron. Returns 0, or -1 with a message naming the bad
//  field in errbuf (nothing else written).
int wp_cron_parse (const char *text, wp_cron_t *cron, char *errbuf, size_t errlen);

//  The first tick strictly after t (microseconds since the epoch, UTC), on
//  a whole second; 0 if none within the next 5 years.
int64_t wp_cron_next (const wp_cron_t *cron, int64_t t);

#endif
