/* cdl-annotation-repo.h: batches, leases and annotations
 *
 * Plain blocking functions, to be called from a cdl_db_run_async()
 * function with the connection it was given. A batch is the images of one
 * prompt (batch_id is the prompt's id), in stored order: by seed position,
 * then batch index. The annotation_batches table (0007) keeps one row per
 * batch with images, so paging and the queue never scan generations.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <json-glib/json-glib.h>
#include <libpq-fe.h>

G_BEGIN_DECLS

typedef struct
{
  char    *batch_id;       /* the prompt's id */
  char    *prompt;
  gint64   first_at_us;    /* creation of its first image, µs since the epoch */
  guint    n;              /* images */
  char   **image_ids;
  char   **image_keys;
  char   **thumb_keys;     /* entries may be "" when a thumbnail is missing */
  char   **checksums;
  gint64  *seeds;
  int     *batch_indexes;
} CdlBatch;

void       cdl_batch_free                     (CdlBatch *batch);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlBatch, cdl_batch_free)

/* Checks that the task exists (else CDL_DB_ERROR_NOT_FOUND) and has stored
 * images (else CDL_DB_ERROR_FAILED with @no_images TRUE); *@overlap gets
 * the task's overlap setting (default 1). */
gboolean   cdl_annotation_repo_check_task     (PGconn        *conn,
                                               const char    *task_id,
                                               gboolean      *no_images,
                                               int           *overlap,
                                               GError       **error);

/* Up to @limit complete batches after (@after_us, @after_id) in page order
 * (@after_id NULL: from the start), images filled in. */
GPtrArray *cdl_annotation_repo_list_batches   (PGconn        *conn,
                                               const char    *task_id,
                                               gint64         after_us,
                                               const char    *after_id,
                                               guint          limit,
                                               GError       **error);

/* Leases to @user_id for @lease_s seconds a complete batch the user has
 * not labelled, that has fewer than @overlap labels and live leases of
 * others; the user's own live lease comes back first. NULL without an
 * error when none is left. Serialised per task. */
CdlBatch  *cdl_annotation_repo_lease_next     (PGconn        *conn,
                                               const char    *task_id,
                                               const char    *user_id,
                                               int            overlap,
                                               guint          lease_s,
                                               GError       **error);

/* The batches the queue would offer @user_id after @batch_id (not
 * leased), for prefetching; images filled in. */
GPtrArray *cdl_annotation_repo_peek_queue     (PGconn        *conn,
                                               const char    *task_id,
                                               const char    *user_id,
                                               const char    *batch_id,
                                               int            overlap,
                                               guint          limit,
                                               GError       **error);

typedef struct
{
  const char   *task_id;
  const char   *batch_id;
  const char   *user_id;
  int           chosen_index;    /* -1: none (spam only) */
  int           rejected_index;  /* -1: none */
  gboolean      spam;
  const gint64 *shown_order;     /* NULL: not sent */
  guint         n_shown;
  int           decision_ms;     /* -1: not sent */
  const char   *variant_key;     /* the A/B variant the page ran; NULL: none */
} CdlAnnotationInput;

/* Number of images of a batch of @task_id; 0 with CDL_DB_ERROR_NOT_FOUND
 * when the task has no such batch. */
guint      cdl_annotation_repo_batch_size     (PGconn        *conn,
                                               const char    *task_id,
                                               const char    *batch_id,
                                               gboolean      *complete,
                                               GError       **error);

/* Inserts or updates the user's annotation of the batch and drops the
 * user's lease on it. Returns the row as JSON; *@created says which. */
JsonNode  *cdl_annotation_repo_upsert         (PGconn                   *conn,
                                               const CdlAnnotationInput *input,
                                               gboolean                 *created,
                                               GError                  **error);
/* The same; *@previous (when not NULL) is the row as it was before, or
 * NULL when the annotation is new. */
JsonNode  *cdl_annotation_repo_upsert_full    (PGconn                   *conn,
                                               const CdlAnnotationInput *input,
                                               gboolean                 *created,
                                               JsonNode                **previous,
                                               GError                  **error);

/* Quality control figures of a task, as JSON. */
JsonNode  *cdl_annotation_repo_stats          (PGconn        *conn,
                                               const char    *task_id,
                                               GError       **error);

/* Export: opens a read-only snapshot and a server-side cursor over the
 * labelled non-spam annotations of @task_id. The transaction stays open
 * on @conn until cdl_annotation_repo_export_close(). */
gboolean   cdl_annotation_repo_export_open    (PGconn        *conn,
                                               const char    *task_id,
                                               GError       **error);
/* Reads up to @rows annotations and appends their lines (with newlines)
 * to @out: one DPO line each, or with @pairs one line per (chosen,
 * rejected) pair. Returns the number of annotations read, 0 at the end,
 * -1 on error. */
int        cdl_annotation_repo_export_fetch   (PGconn        *conn,
                                               int            rows,
                                               const char    *uri_base,
                                               gboolean       pairs,
                                               GString       *out,
                                               GError       **error);
void       cdl_annotation_repo_export_close   (PGconn        *conn);

/* Checksum verification: like export_open, a cursor over the stored
 * images of the batches an export includes (labelled, not spam), each
 * once. Fetch returns up to @rows {id, key, sha256} vectors (GStrv); an
 * empty array at the end. Close with cdl_annotation_repo_export_close(). */
gboolean   cdl_annotation_repo_verify_open    (PGconn        *conn,
                                               const char    *task_id,
                                               GError       **error);
GPtrArray *cdl_annotation_repo_verify_fetch   (PGconn        *conn,
                                               int            rows,
                                               GError       **error);

/* Desktop gallery ---------------------------------------------------------- */

/* The tasks with complete batches: [{task_id, name, batches, labelled
 * (batches with a label), mine (labels of @user_id; 0 when NULL)}], newest
 * first. */
JsonNode  *cdl_annotation_repo_list_tasks     (PGconn        *conn,
                                               const char    *user_id,
                                               GError       **error);

/* Removes the user's annotation of a batch; *@deleted says whether there
 * was one. */
gboolean   cdl_annotation_repo_delete         (PGconn        *conn,
                                               const char    *task_id,
                                               const char    *batch_id,
                                               const char    *user_id,
                                               gboolean      *deleted,
                                               GError       **error);

/* Repeats ------------------------------------------------------------------- */

/* A batch @user_id labelled (not as spam) and never repeated, other than
 * the user's latest label, picked at random; NULL without an error when
 * there is none. Images filled in. */
CdlBatch  *cdl_annotation_repo_pick_repeat    (PGconn                   *conn,
                                               const char               *task_id,
                                               const char               *user_id,
                                               GError                  **error);

/* Stores the answer to a repeat of the user's label of the batch in
 * annotation_repeats (the label itself stays as it is); a replay updates
 * it. CDL_DB_ERROR_NOT_FOUND when the user has no label of the batch.
 * Returns the row as JSON: {id, annotation_id, chosen_index, spam,
 * decision_ms, same}. */
JsonNode  *cdl_annotation_repo_add_repeat     (PGconn                   *conn,
                                               const CdlAnnotationInput *input,
                                               gboolean                 *created,
                                               GError                  **error);

G_END_DECLS
