/*  test_cron: cron expressions (store/wp_cron.h): what parses, what is
    refused and why, and the next tick across the calendar's edges (month
    ends, leap days, the year's end, both day fields restricted).  */
#include "wp_cron.h"
#include "wp_records.h"
#include "wp_test.h"

//  The next tick after `after` (RFC 3339) as RFC 3339 text, or "none"
static const char *
s_next (const char *expr, const char *after)
{
    static char buf [WP_TIME_BUFSIZE];
    wp_cron_t cron;
    char why [200];
    if (wp_cron_parse (expr, &cron, why, sizeof why)) {
        fprintf (stderr, "'%s' did not parse: %s\n", expr, why);
        abort ();
    }
    int64_t t;
    CHECK (wp_time_parse (after, strlen (after), &t) == 0);
    int64_t next = wp_cron_next (&cron, t);
    return next ? wp_time_format (next, buf) : "none";
}

static void
s_refused (const char *expr, const char *words)
{
    wp_cron_t cron;
    char why [200] = "";
    if (wp_cron_parse (expr, &cron, why, sizeof why) == 0) {
        fprintf (stderr, "'%s' parsed\n", expr);
        abort ();
    }
    if (!strstr (why, words)) {
        fprintf (stderr, "'%s': message '%s' lacks '%s'\n", expr, why, words);
        abort ();
    }
}

int
main (void)
{
    //  Five fields: on whole minutes, strictly after the time given
    CHECK_STR (s_next ("* * * * *", "2026-11-26T05:39:00Z"), "2026-11-26T05:40:00.000000Z");
    CHECK_STR (s_next ("* * * * *", "2026-11-26T05:39:59.999999Z"), "2026-11-26T05:40:00.000000Z");
    CHECK_STR (s_next ("*/5 * * * *", "2026-11-26T05:39:00Z"), "2026-11-26T05:40:00.000000Z");
    CHECK_STR (s_next ("*/5 * * * *", "2026-11-26T05:40:00Z"), "2026-11-26T05:45:00.000000Z");
    CHECK_STR (s_next ("0 3 * * *", "2026-11-26T05:39:00Z"), "2026-11-27T03:00:00.000000Z");
    CHECK_STR (s_next ("15,45 9-10 * * *", "2026-11-26T10:45:00Z"), "2026-11-27T09:15:00.000000Z");
    CHECK_STR (s_next ("0 0 1 * *", "2026-12-15T00:00:00Z"), "2027-01-01T00:00:00.000000Z");
    //  Months and weekdays by name; 7 is Sunday; 2026-11-26 is a Thursday
    CHECK_STR (s_next ("0 12 * * MON", "2026-11-26T00:00:00Z"), "2026-11-30T12:00:00.000000Z");
    CHECK_STR (s_next ("0 12 * * 7", "2026-11-26T00:00:00Z"), "2026-11-29T12:00:00.000000Z");
    CHECK_STR (s_next ("0 12 * * sun", "2026-11-26T00:00:00Z"), "2026-11-29T12:00:00.000000Z");
    CHECK_STR (s_next ("0 0 1 feb *", "2026-11-26T00:00:00Z"), "2027-02-01T00:00:00.000000Z");
    //  Both day fields restricted: either one fires (the 1st, or a Friday)
    CHECK_STR (s_next ("0 0 1 * 5", "2026-11-26T00:00:00Z"), "2026-11-27T00:00:00.000000Z");
    CHECK_STR (s_next ("0 0 1 * 5", "2026-11-27T00:00:00Z"), "2026-12-01T00:00:00.000000Z");
    //  One of them '*': the other decides
    CHECK_STR (s_next ("0 0 13 * *", "2026-11-26T00:00:00Z"), "2026-12-13T00:00:00.000000Z");
    //  Leap day: the next February 29th is in 2028
    CHECK_STR (s_next ("0 0 29 2 *", "2026-11-26T00:00:00Z"), "2028-02-29T00:00:00.000000Z");
    //  The 31st skips the months without one
    CHECK_STR (s_next ("0 0 31 * *", "2026-12-31T00:00:00Z"), "2027-01-31T00:00:00.000000Z");
    CHECK_STR (s_next ("0 0 31 * *", "2027-01-31T00:00:00Z"), "2027-03-31T00:00:00.000000Z");
    //  Steps over ranges, and a/n meaning a to the end
    CHECK_STR (s_next ("10-20/5 * * * *", "2026-11-26T05:16:00Z"), "2026-11-26T05:20:00.000000Z");
    CHECK_STR (s_next ("50/5 * * * *", "2026-11-26T05:56:00Z"), "2026-11-26T06:50:00.000000Z");
    //  Six fields: seconds first
    CHECK_STR (s_next ("* * * * * *", "2026-11-26T05:39:00.5Z"), "2026-11-26T05:39:01.000000Z");
    CHECK_STR (s_next ("*/10 * * * * *", "2026-11-26T05:39:00Z"), "2026-11-26T05:39:10.000000Z");
    CHECK_STR (s_next ("30 0 0 1 1 *", "2026-11-26T00:00:00Z"), "2027-01-01T00:00:30.000000Z");
    //  No date matches: none within 5 years
    CHECK_STR (s_next ("0 0 30 2 *", "2026-11-26T00:00:00Z"), "none");
    CHECK_STR (s_next ("0 0 31 4 *", "2026-11-26T00:00:00Z"), "none");
    //  Whitespace between fields is any run of spaces and tabs
    CHECK_STR (s_next ("  0\t3  * * *  ", "2026-11-26T05:39:00Z"), "2026-11-27T03:00:00.000000Z");

    s_refused ("", "needs 5 fields");
    s_refused ("* * * *", "needs 5 fields");
    s_refused ("* * * * * * *", "needs 5 fields");
    s_refused ("60 * * * *", "the minute field: '60'");
    s_refused ("* 24 * * *", "the hour field: '24'");
    s_refused ("* * 0 * *", "the day of month field: '0'");
    s_refused ("* * 32 * *", "the day of month field");
    s_refused ("* * * 0 *", "the month field: '0'");
    s_refused ("* * * 13 *", "the month field");
    s_refused ("* * * * 8", "the day of week field");
    s_refused ("*/0 * * * *", "the minute field: '*/0'");
    s_refused ("5-1 * * * *", "the minute field: '5-1'");
    s_refused ("1,,2 * * * *", "the minute field");
    s_refused ("1- * * * *", "the minute field");
    s_refused ("* * * * funday", "the day of week field");
    s_refused ("* * * jan-x *", "the month field");
    s_refused ("99999999999 * * * *", "the minute field");
    s_refused ("60 * * * * *", "the second field: '60'");
    printf ("test_cron: ok\n");
    return 0;
}
