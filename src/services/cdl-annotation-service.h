/* cdl-annotation-service.h: batches, the annotation queue, media and export
 *
 * Shared by the REST handlers and the desktop gallery. A batch is the
 * images of one prompt (batch_id = prompt id); indexes always refer to the
 * stored order of its images (seed position, then batch index), whatever
 * order an annotator was shown.
 *
 * Media links are signed with a secret of the installation (see
 * cdl-media-sign.h): CDL_MEDIA_KEY when set, else a random key kept in
 * {data_dir}/media.key (0600), created on first use. It never goes into
 * PostgreSQL. Instances behind one CDN or load balancer must share it
 * (set CDL_MEDIA_KEY to the same value on each). CDL_MEDIA_BASE_URL
 * replaces the "/media/" prefix of the links, e.g. with a CDN's URL.
 *
 * Results are delivered on the thread-default main context of the caller.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "db/cdl-db.h"
#include "storage/cdl-object-store.h"

G_BEGIN_DECLS

/* How long a handed-out batch stays reserved for its annotator. */
#define CDL_BATCH_LEASE_S 300
/* Batches per page, by default and at most. */
#define CDL_BATCHES_PAGE_DEFAULT 20
#define CDL_BATCHES_PAGE_MAX 100
/* Batches whose thumbnails come with a handed-out batch, for prefetching. */
#define CDL_PREFETCH_BATCHES 20

#define CDL_TYPE_ANNOTATION_SERVICE (cdl_annotation_service_get_type ())

G_DECLARE_FINAL_TYPE (CdlAnnotationService, cdl_annotation_service, CDL, ANNOTATION_SERVICE,
                      GObject)

/* Blocking: the media secret from CDL_MEDIA_KEY or {data_dir}/media.key. */
GBytes   *cdl_annotation_service_load_media_secret (const char  *data_dir,
                                                   GError     **error);

CdlAnnotationService *cdl_annotation_service_new  (CdlDb          *db,
                                                   CdlObjectStore *store,
                                                   GBytes         *media_secret);

/* "/media/" unless CDL_MEDIA_BASE_URL was set. */
const char *cdl_annotation_service_get_media_base (CdlAnnotationService *self);

/* A signed link for an object key, valid for one to two hours. */
char     *cdl_annotation_service_sign_media       (CdlAnnotationService *self,
                                                   const char           *key);

/* Checks the exp and sig of a media request: CDL_SERVICE_ERROR_FORBIDDEN
 * for a forged, expired or unsigned link. */
gboolean  cdl_annotation_service_verify_media     (CdlAnnotationService *self,
                                                   const char           *key,
                                                   const char           *exp,
                                                   const char           *sig,
                                                   GError              **error);

/* One page: {"batches": [...], "next_cursor": string or null}. @cursor
 * NULL starts at the first batch. */
void      cdl_annotation_service_list_batches_async  (CdlAnnotationService *self,
                                                      const char           *task_id,
                                                      const char           *cursor,
                                                      guint                 limit,
                                                      GCancellable         *cancellable,
                                                      GAsyncReadyCallback   callback,
                                                      gpointer              user_data);
JsonNode *cdl_annotation_service_list_batches_finish (CdlAnnotationService *self,
                                                      GAsyncResult         *result,
                                                      GError              **error);

/* Leases the next batch to @user_id: {"batch": {... "shown_order"},
 * "lease_seconds", "prefetch": [...]}, or {"batch": null, "prefetch": []}
 * when nothing is left for this user. A prefetch entry is one of the
 * batches that follow in this user's queue, with what a page needs to show
 * it before leasing it: the members of "batch" (its "shown_order" the
 * one a lease would give) but its checksums. */
void      cdl_annotation_service_next_batch_async    (CdlAnnotationService *self,
                                                      const char           *task_id,
                                                      const char           *user_id,
                                                      GCancellable         *cancellable,
                                                      GAsyncReadyCallback   callback,
                                                      gpointer              user_data);
JsonNode *cdl_annotation_service_next_batch_finish   (CdlAnnotationService *self,
                                                      GAsyncResult         *result,
                                                      GError              **error);

/* Validates and stores an annotation body (spec 5.3) for @user_id; a
 * re-submit updates the row. *@created says whether it was new. */
void      cdl_annotation_service_submit_async        (CdlAnnotationService *self,
                                                      const char           *user_id,
                                                      JsonNode             *body,
                                                      GCancellable         *cancellable,
                                                      GAsyncReadyCallback   callback,
                                                      gpointer              user_data);
JsonNode *cdl_annotation_service_submit_finish       (CdlAnnotationService *self,
                                                      GAsyncResult         *result,
                                                      gboolean             *created,
                                                      GError              **error);
/* The same; *@previous (when not NULL) is the row the label replaced (its
 * chosen_index, rejected_index, spam, shown_order, decision_ms), NULL when
 * it was new or a repeat, to restore it on undo. */
JsonNode *cdl_annotation_service_submit_finish_full  (CdlAnnotationService *self,
                                                      GAsyncResult         *result,
                                                      gboolean             *created,
                                                      JsonNode            **previous,
                                                      GError              **error);

void      cdl_annotation_service_stats_async         (CdlAnnotationService *self,
                                                      const char           *task_id,
                                                      GCancellable         *cancellable,
                                                      GAsyncReadyCallback   callback,
                                                      gpointer              user_data);
JsonNode *cdl_annotation_service_stats_finish        (CdlAnnotationService *self,
                                                      GAsyncResult         *result,
                                                      GError              **error);

/* The annotator's phone ---------------------------------------------------- */

/* {"tasks": [{id, name, status, batches_ready, batches_labelled,
 * my_labels, seeds_per_prompt}]}: tasks with at least one batch whose
 * images are all stored (see cdl-annotator-repo.h). */
void      cdl_annotation_service_annotator_tasks_async  (CdlAnnotationService *self,
                                                         const char           *user_id,
                                                         GCancellable         *cancellable,
                                                         GAsyncReadyCallback   callback,
                                                         gpointer              user_data);
JsonNode *cdl_annotation_service_annotator_tasks_finish (CdlAnnotationService *self,
                                                         GAsyncResult         *result,
                                                         GError              **error);

/* {batches_ready, batches_total, batches_labelled, my_labels}. */
void      cdl_annotation_service_progress_async         (CdlAnnotationService *self,
                                                         const char           *task_id,
                                                         const char           *user_id,
                                                         GCancellable         *cancellable,
                                                         GAsyncReadyCallback   callback,
                                                         gpointer              user_data);
JsonNode *cdl_annotation_service_progress_finish        (CdlAnnotationService *self,
                                                         GAsyncResult         *result,
                                                         GError              **error);

/* Like cdl_annotation_service_next_batch_async() with @prefetch following
 * batches (0 to CDL_PREFETCH_MAX) and, unless @media_base is NULL, every
 * media link starting with @media_base instead of the service's base (an
 * A/B variant's CDN). */
#define CDL_PREFETCH_MAX 50
void      cdl_annotation_service_next_batch_for_async   (CdlAnnotationService *self,
                                                         const char           *task_id,
                                                         const char           *user_id,
                                                         guint                 prefetch,
                                                         const char           *media_base,
                                                         GCancellable         *cancellable,
                                                         GAsyncReadyCallback   callback,
                                                         gpointer              user_data);
JsonNode *cdl_annotation_service_next_batch_for_finish  (CdlAnnotationService *self,
                                                         GAsyncResult         *result,
                                                         GError              **error);

/* Repeats: with the task's repeat rate (0 to CDL_REPEAT_RATE_MAX, 0 by
 * default), next-batch (the _for variant) now and then hands out a batch
 * the annotator labelled before, flagged "is_repeat": true; the page sends
 * "is_repeat": true with the answer, which is kept apart from the label.
 * The annotation stats give each annotator's self_consistency. */
#define CDL_REPEAT_RATE_MAX 0.2
void      cdl_annotation_service_set_repeat_rate_async  (CdlAnnotationService *self,
                                                         const char           *task_id,
                                                         double                rate,
                                                         GCancellable         *cancellable,
                                                         GAsyncReadyCallback   callback,
                                                         gpointer              user_data);
/* {task_id, repeat_rate} */
JsonNode *cdl_annotation_service_set_repeat_rate_finish (CdlAnnotationService *self,
                                                         GAsyncResult         *result,
                                                         GError              **error);

/* Media reads -------------------------------------------------------------- */

typedef struct
{
  goffset  size;          /* of the whole object */
  char    *sha256;        /* lower-case hex */
  goffset  offset;        /* of @bytes in the object */
  GBytes  *bytes;         /* what to send; NULL for an unsatisfiable range */
  gboolean partial;       /* a range was asked and is satisfiable */
} CdlMediaRead;

void cdl_media_read_free (CdlMediaRead *read);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlMediaRead, cdl_media_read_free)

/* Reads an object, or bytes [@first, @last] of it (@first -1: no range;
 * @last -1: to the end; @suffix > 0: the last @suffix bytes). Missing
 * objects are CDL_SERVICE_ERROR_NOT_FOUND. */
void          cdl_annotation_service_read_media_async  (CdlAnnotationService *self,
                                                        const char           *key,
                                                        gint64                first,
                                                        gint64                last,
                                                        gint64                suffix,
                                                        GCancellable         *cancellable,
                                                        GAsyncReadyCallback   callback,
                                                        gpointer              user_data);
CdlMediaRead *cdl_annotation_service_read_media_finish (CdlAnnotationService *self,
                                                        GAsyncResult         *result,
                                                        GError              **error);

/* Export ------------------------------------------------------------------- */

/* A DPO export in progress: it holds one database connection with a
 * server-side cursor until freed. Use from one thread, one call at a time. */
typedef struct _CdlDpoExport CdlDpoExport;

void          cdl_dpo_export_free (CdlDpoExport *export);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlDpoExport, cdl_dpo_export_free)

/* CDL_SERVICE_ERROR_NOT_FOUND for an unknown task. Each export holds a
 * database connection until freed, so an instance runs two at a time;
 * a third is CDL_SERVICE_ERROR_RATE_LIMITED (429). The lines' uri is the
 * storage key, prefixed with CDL_EXPORT_URI_BASE when that is set. */
typedef enum
{
  CDL_EXPORT_DPO,     /* one DPO line per annotation (spec 5.4) */
  CDL_EXPORT_PAIRS,   /* one line per pair, Pick-a-Pic layout (cdl_dpo_pairs_build()) */
  CDL_EXPORT_VERIFY,  /* re-hash the stored images an export includes:
                       * {image_id, uri, problem: "missing" | "mismatch" |
                       * "unreadable", expected, actual, message} per bad
                       * image, then {summary: true, checked, missing,
                       * mismatched, unreadable} */
} CdlExportFormat;

void          cdl_annotation_service_export_open_async  (CdlAnnotationService *self,
                                                         const char           *task_id,
                                                         CdlExportFormat       format,
                                                         GCancellable         *cancellable,
                                                         GAsyncReadyCallback   callback,
                                                         gpointer              user_data);
CdlDpoExport *cdl_annotation_service_export_open_finish (CdlAnnotationService *self,
                                                         GAsyncResult         *result,
                                                         GError              **error);

/* Blocking, for the command line: writes the whole export to @stream
 * (not closed). Returns the number of lines, or -1 with @error set. */
gint64        cdl_annotation_service_export_to_stream (CdlAnnotationService *self,
                                                       const char           *task_id,
                                                       CdlExportFormat       format,
                                                       GOutputStream        *stream,
                                                       GCancellable         *cancellable,
                                                       GError              **error);

/* The next lines of JSONL; an empty GBytes at the end. */
void          cdl_dpo_export_next_async  (CdlDpoExport         *export,
                                          GCancellable         *cancellable,
                                          GAsyncReadyCallback   callback,
                                          gpointer              user_data);
GBytes       *cdl_dpo_export_next_finish (CdlDpoExport         *export,
                                          GAsyncResult         *result,
                                          GError              **error);

/* Desktop gallery ---------------------------------------------------------- */

/* The tasks that have complete batches to label: [{task_id, name, batches,
 * labelled (batches with a label), mine (labels of @user_id, which may be
 * NULL)}]. */
void      cdl_annotation_service_list_tasks_async  (CdlAnnotationService *self,
                                                    const char           *user_id,
                                                    GCancellable         *cancellable,
                                                    GAsyncReadyCallback   callback,
                                                    gpointer              user_data);
JsonNode *cdl_annotation_service_list_tasks_finish (CdlAnnotationService *self,
                                                    GAsyncResult         *result,
                                                    GError              **error);

/* Removes @user_id's label of a batch, to undo it; the batch goes back in
 * the queue. CDL_SERVICE_ERROR_NOT_FOUND when there is none. */
void      cdl_annotation_service_delete_async      (CdlAnnotationService *self,
                                                    const char           *task_id,
                                                    const char           *batch_id,
                                                    const char           *user_id,
                                                    GCancellable         *cancellable,
                                                    GAsyncReadyCallback   callback,
                                                    gpointer              user_data);
gboolean  cdl_annotation_service_delete_finish     (CdlAnnotationService *self,
                                                    GAsyncResult         *result,
                                                    GError              **error);

/* The object key of a link made by cdl_annotation_service_sign_media(),
 * for a front end in the same process; NULL for any other link. */
char     *cdl_annotation_service_media_key         (CdlAnnotationService *self,
                                                    const char           *url);

G_END_DECLS
