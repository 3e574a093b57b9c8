/* cdl-alert-repo.h: the alerts table and the queries that decide them
 *
 * An alert is a condition about a subject (a worker, a task, a storage
 * root, a table) that fires and later clears. The unique partial index
 * alerts_firing_idx allows one firing row per (kind, subject), so when
 * several instances evaluate the same condition at once exactly one
 * statement inserts (or clears) the row, and only that instance delivers
 * the change. Plain blocking functions for cdl_db_run_async().
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <libpq-fe.h>
#include <glib.h>

G_BEGIN_DECLS

/* The NOTIFY channel of resources/sql/0010_alert_notify.sql; the payload
 * is the alert id. */
#define CDL_ALERTS_CHANNEL "cdl_alerts"

#define CDL_ALERT_WORKER_UNHEALTHY "worker_unhealthy"
#define CDL_ALERT_WORKER_FAILING   "worker_failing"
#define CDL_ALERT_TASK_STALLED     "task_stalled"
#define CDL_ALERT_STORAGE_LOW      "storage_low"
#define CDL_ALERT_DEFAULT_PARTITION "default_partition_rows"

typedef struct
{
  gint64     id;
  char      *kind;
  char      *subject;
  char      *state;      /* "firing" or "cleared" */
  char      *message;
  GDateTime *created_at;
  GDateTime *cleared_at; /* NULL while firing */
} CdlAlert;

void       cdl_alert_free                (CdlAlert    *alert);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlAlert, cdl_alert_free)

/* A condition as evaluated now: the subjects for which it holds, each
 * with its message. */
typedef struct
{
  GPtrArray *subjects;   /* char * */
  GPtrArray *messages;   /* char * */
} CdlAlertSet;

CdlAlertSet *cdl_alert_set_new           (void);
void         cdl_alert_set_add           (CdlAlertSet *set,
                                          const char  *subject,
                                          const char  *message);
void         cdl_alert_set_free          (CdlAlertSet *set);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlAlertSet, cdl_alert_set_free)

/* Fires @kind for every subject of @firing that is not firing yet, and
 * clears every firing alert of @kind whose subject is not in @firing
 * (limited to the subjects of @scope unless it is NULL: a condition that
 * one instance only sees part of, such as its storage root). Returns the
 * alerts this statement changed, as CdlAlert, in one transaction. */
GPtrArray *cdl_alert_repo_apply          (PGconn             *conn,
                                          const char         *kind,
                                          const CdlAlertSet  *firing,
                                          const char * const *scope,
                                          GError            **error);

/* The newest alerts first, at most @limit; only firing ones with
 * @firing_only. */
GPtrArray *cdl_alert_repo_list           (PGconn             *conn,
                                          guint               limit,
                                          gboolean            firing_only,
                                          GError            **error);
CdlAlert  *cdl_alert_repo_get            (PGconn             *conn,
                                          gint64              id,
                                          GError            **error);

/* Conditions ---------------------------------------------------------------- */

/* Enabled workers whose status is UNHEALTHY. */
CdlAlertSet *cdl_alert_repo_unhealthy_workers (PGconn        *conn,
                                               GError       **error);
/* Workers with at least @min_failures jobs that failed on them in the
 * last @window_s seconds while a job of the same prompt was done on
 * another worker, and more such failures than jobs done themselves in
 * the window. */
CdlAlertSet *cdl_alert_repo_failing_workers   (PGconn        *conn,
                                               guint          window_s,
                                               guint          min_failures,
                                               GError       **error);
/* RUNNING tasks with queued or in-flight jobs where no job has finished
 * (nor been created) for @stall_s seconds. */
CdlAlertSet *cdl_alert_repo_stalled_tasks     (PGconn        *conn,
                                               guint          stall_s,
                                               GError       **error);
/* The default partition of generations when it holds any row. */
CdlAlertSet *cdl_alert_repo_default_partition (PGconn        *conn,
                                               GError       **error);

/* Partition upkeep: under pg_try_advisory_lock, creates the monthly
 * partitions of generations from this month to @months_ahead ahead.
 * Returns how many were created, 0 when another session held the lock
 * (*@locked FALSE then), -1 on error. */
int          cdl_alert_repo_ensure_partitions (PGconn        *conn,
                                               int            months_ahead,
                                               gboolean      *locked,
                                               GError       **error);

G_END_DECLS
