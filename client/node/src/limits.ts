/*  limits: the bounds and defaults of proto/wp_limits.h that a client
    checks or fills in, under the same names. test/limits.test.mjs reads
    the C header and fails if a value here drifts from it.  */

export const Limits = {
  WP_NAME_MAX: 255,
  WP_BATCH_MAX: 1000,
  WP_CREDIT_MAX: 1000,
  WP_LIST_MAX: 1000,
  WP_LIST_DEFAULT: 100,
  WP_CURSOR_MAX: 64,
  WP_WAIT_MAX: 3600.0,
  WP_LEASE_MAX: 604800.0,
  WP_HEARTBEAT_MAX: 86400.0,
  WP_DEFAULT_MAX_RETRIES: 3,
  WP_DEFAULT_LEASE_S: 300.0,
  WP_DEFAULT_HEARTBEAT_S: 10.0,
  WP_MAX_RETRIES_MAX: 2147483647,
  WP_ERROR_MAX: 65536,
  WP_STATUSES_MAX: 16,
  WP_DELAY_MAX: 31622400.0,
  WP_SCHEDULE_NAME_MAX: 200,
  WP_CRON_MAX: 255,
} as const;
