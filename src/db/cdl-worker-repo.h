/* cdl-worker-repo.h: the workers table
 *
 * Plain blocking functions, to be called from a cdl_db_run_async() function
 * with the connection it was given.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <libpq-fe.h>

#include "core/cdl-worker.h"
#include "core/cdl-worker-input.h"

G_BEGIN_DECLS

/* All workers, by priority (highest first) then name. Elements are
 * CdlWorker, owned by the array. */
GPtrArray *cdl_worker_repo_list          (PGconn                *conn,
                                          GError               **error);
/* CDL_DB_ERROR_NOT_FOUND when no such id (a malformed uuid included). */
CdlWorker *cdl_worker_repo_get           (PGconn                *conn,
                                          const char            *id,
                                          GError               **error);
/* Fields not set in @input take the schema defaults. api_key is ignored:
 * keys never reach the database. CDL_DB_ERROR_UNIQUE on a duplicate name. */
CdlWorker *cdl_worker_repo_insert        (PGconn                *conn,
                                          const CdlWorkerInput  *input,
                                          GError               **error);
/* Updates only the fields set in @input (api_key ignored). */
CdlWorker *cdl_worker_repo_update        (PGconn                *conn,
                                          const char            *id,
                                          const CdlWorkerInput  *input,
                                          GError               **error);

/* Claims the enabled workers due for a health check: never checked, or
 * last checked at least @interval_ms ago, and not claimed by another
 * instance in the last @claim_ms. A disabled worker is left alone; the
 * Test action still probes it on demand. Uses FOR UPDATE SKIP LOCKED so
 * that instances share the work without checking a worker twice. */
GPtrArray *cdl_worker_repo_claim_due     (PGconn                *conn,
                                          guint                  interval_ms,
                                          guint                  claim_ms,
                                          GError               **error);

/* Records one probe: applies the flap rule of cdl-health-policy.h to the
 * row (locked for the update), sets last_checked_at, current_queue_len
 * (when @probe_ok) and last_error, clears the claim. Returns the updated
 * worker; *@status_changed tells whether the status flipped. */
CdlWorker *cdl_worker_repo_record_probe  (PGconn                *conn,
                                          const char            *id,
                                          gboolean               probe_ok,
                                          int                    queue_len,
                                          const char            *error_text,
                                          gboolean              *status_changed,
                                          GError               **error);

/* Number of enabled, HEALTHY workers. */
int        cdl_worker_repo_count_healthy (PGconn                *conn,
                                          GError               **error);

/* Whether the worker's node types were never read or are older than
 * @max_age_s seconds. FALSE for an unknown id. */
gboolean   cdl_worker_repo_node_types_due (PGconn             *conn,
                                           const char         *id,
                                           guint               max_age_s,
                                           GError            **error);

/* Stores the class names of the worker's GET /object_info, those of them
 * it marks as partner API nodes (@api_node_types, may be NULL), and the
 * time. */
gboolean   cdl_worker_repo_set_node_types (PGconn             *conn,
                                           const char         *id,
                                           const char * const *node_types,
                                           const char * const *api_node_types,
                                           GError            **error);

/* The node types of every enabled HEALTHY worker whose types are known:
 * worker id (char *) → set of class names (GHashTable of char *). */
GHashTable *cdl_worker_repo_healthy_node_types (PGconn        *conn,
                                                GError       **error);

/* The partner API node classes any enabled HEALTHY worker reports: a set
 * of class names (GHashTable of char *). */
GHashTable *cdl_worker_repo_healthy_api_node_types (PGconn    *conn,
                                                    GError   **error);

G_END_DECLS
