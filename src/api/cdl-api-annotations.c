/* cdl-api-annotations.c: batches, the annotation queue and annotations
 *
 *   GET  /api/tasks/{id}/batches?cursor=…&limit=…   annotator
 *        {"batches": [{batch_id, prompt, seeds, batch_indexes, image_ids,
 *          checksums, thumbnails, fullres}], "next_cursor": string|null}
 *        Complete batches only, in the order of their first stored image.
 *   GET  /api/tasks/{id}/next-batch                 annotator
 *        {"batch": {... "shown_order"}|null, "lease_seconds",
 *         "prefetch": [{batch_id, prompt, seeds, batch_indexes, image_ids,
 *         thumbnails, fullres, shown_order}]}; "batch" is null (with
 *        status 200) when nothing is left for this annotator.
 *   POST /api/annotations                           annotator
 *        201 for a new annotation, 200 when a re-submit updated it.
 *   GET  /api/tasks/{id}/annotation-stats           operator
 *
 * For the annotator's phone:
 *   GET  /api/annotate/tasks                        annotator
 *        {"tasks": [{id, name, status, batches_ready, batches_labelled,
 *          my_labels, seeds_per_prompt}]}
 *   GET  /api/tasks/{id}/annotation-progress        annotator
 *        {batches_ready, batches_total, batches_labelled, my_labels}
 *   next-batch takes ?prefetch=0..50 (default 20) and ?ab_test=NAME:
 *   when the caller is assigned to that test, its variant's
 *   media_base_url starts every media link of the answer. With the
 *   task's repeat rate, the answer is now and then a batch the caller
 *   labelled before, with "is_repeat": true (no lease, no prefetch); its
 *   answer goes to POST /api/annotations with "is_repeat": true and never
 *   replaces the label.
 *   PUT  /api/tasks/{id}/repeat-rate                operator
 *        {"repeat_rate": 0..0.2} -> {task_id, repeat_rate}
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-api"

#include "config.h"

#include "api/cdl-api-server.h"
#include "services/cdl-abtest-service.h"
#include "services/cdl-service-error.h"

static CdlAnnotationService *
annotations_of (CdlApiRequest *request)
{
  return cdl_instance_get_annotation_service (cdl_api_request_get_instance (request));
}

static void
node_done (CdlApiRequest *request,
           JsonNode      *node,
           GError        *error)
{
  if (node == NULL)
    cdl_api_request_reply_gerror (request, error);
  else
    cdl_api_request_reply_data (request, 200, node);
}

static void
list_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(CdlApiRequest) request = user_data;
  g_autoptr(GError) error = NULL;
  JsonNode *node;

  node = cdl_annotation_service_list_batches_finish (annotations_of (request), result,
                                                     &error);
  node_done (request, node, error);
}

static void
handle_list (CdlApiRequest *request)
{
  const char *limit_text = cdl_api_request_get_query (request, "limit");
  guint64 limit = 0;

  if (limit_text != NULL
      && !g_ascii_string_to_unsigned (limit_text, 10, 1, CDL_BATCHES_PAGE_MAX, &limit, NULL))
    {
      g_autofree char *message =
        g_strdup_printf ("limit must be a number from 1 to %d", CDL_BATCHES_PAGE_MAX);

      cdl_api_request_reply_error (request, 400, message);
      return;
    }

  cdl_annotation_service_list_batches_async (annotations_of (request),
                                             cdl_api_request_get_param (request, "id"),
                                             cdl_api_request_get_query (request, "cursor"),
                                             (guint)limit,
                                             cdl_api_request_get_cancellable (request),
                                             list_done_cb, cdl_api_request_ref (request));
}

/* handle_next() is further down, with the phone's routes. */

static void
submit_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(CdlApiRequest) request = user_data;
  g_autoptr(GError) error = NULL;
  gboolean created = FALSE;
  JsonNode *node;

  node = cdl_annotation_service_submit_finish (annotations_of (request), result,
                                               &created, &error);
  if (node == NULL)
    cdl_api_request_reply_gerror (request, error);
  else
    cdl_api_request_reply_data (request, created ? 201 : 200, node);
}

static void
handle_submit (CdlApiRequest *request)
{
  /* The annotator is whoever the token belongs to; a user_id in the body
   * is ignored. */
  cdl_annotation_service_submit_async (annotations_of (request),
                                       cdl_api_request_get_user (request)->id,
                                       cdl_api_request_get_body (request),
                                       cdl_api_request_get_cancellable (request),
                                       submit_done_cb, cdl_api_request_ref (request));
}

static void
stats_done_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(CdlApiRequest) request = user_data;
  g_autoptr(GError) error = NULL;
  JsonNode *node;

  node = cdl_annotation_service_stats_finish (annotations_of (request), result, &error);
  node_done (request, node, error);
}

static void
handle_stats (CdlApiRequest *request)
{
  cdl_annotation_service_stats_async (annotations_of (request),
                                      cdl_api_request_get_param (request, "id"),
                                      cdl_api_request_get_cancellable (request),
                                      stats_done_cb, cdl_api_request_ref (request));
}

/* The annotator's phone ---------------------------------------------------- */

static void
tasks_done_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(CdlApiRequest) request = user_data;
  g_autoptr(GError) error = NULL;
  JsonNode *node;

  node = cdl_annotation_service_annotator_tasks_finish (annotations_of (request), result,
                                                        &error);
  node_done (request, node, error);
}

static void
progress_done_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(CdlApiRequest) request = user_data;
  g_autoptr(GError) error = NULL;
  JsonNode *node;

  node = cdl_annotation_service_progress_finish (annotations_of (request), result, &error);
  node_done (request, node, error);
}

static void
handle_annotator_tasks (CdlApiRequest *request)
{
  cdl_annotation_service_annotator_tasks_async (annotations_of (request),
                                                cdl_api_request_get_user (request)->id,
                                                cdl_api_request_get_cancellable (request),
                                                tasks_done_cb, cdl_api_request_ref (request));
}

static void
handle_progress (CdlApiRequest *request)
{
  cdl_annotation_service_progress_async (annotations_of (request),
                                         cdl_api_request_get_param (request, "id"),
                                         cdl_api_request_get_user (request)->id,
                                         cdl_api_request_get_cancellable (request),
                                         progress_done_cb, cdl_api_request_ref (request));
}

typedef struct
{
  CdlApiRequest *request;
  guint          prefetch;
} NextData;

static void
next_data_free (NextData *d)
{
  cdl_api_request_unref (d->request);
  g_free (d);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NextData, next_data_free)

static void
next_for_done_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(CdlApiRequest) request = user_data;
  g_autoptr(GError) error = NULL;
  JsonNode *node;

  node = cdl_annotation_service_next_batch_for_finish (annotations_of (request), result,
                                                       &error);
  node_done (request, node, error);
}

static void
next_with_base (NextData   *d,
                const char *media_base)
{
  CdlApiRequest *request = d->request;

  cdl_annotation_service_next_batch_for_async (annotations_of (request),
                                               cdl_api_request_get_param (request, "id"),
                                               cdl_api_request_get_user (request)->id,
                                               d->prefetch, media_base,
                                               cdl_api_request_get_cancellable (request),
                                               next_for_done_cb, cdl_api_request_ref (request));
}

static void
variant_done_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(NextData) d = user_data;
  g_autoptr(CdlAbAssignment) assignment = NULL;
  g_autoptr(GError) error = NULL;

  assignment = cdl_abtest_service_lookup_finish (
    cdl_instance_get_abtest_service (cdl_api_request_get_instance (d->request)), result, &error);
  if (error != NULL)
    {
      cdl_api_request_reply_gerror (d->request, error);
      return;
    }

  next_with_base (d, assignment != NULL ? assignment->variant->media_base_url : NULL);
}

static void
handle_next (CdlApiRequest *request)
{
  const char *prefetch_text = cdl_api_request_get_query (request, "prefetch");
  const char *ab_test = cdl_api_request_get_query (request, "ab_test");
  g_autoptr(NextData) d = NULL;
  guint64 prefetch = CDL_PREFETCH_BATCHES;

  if (prefetch_text != NULL
      && !g_ascii_string_to_unsigned (prefetch_text, 10, 0, CDL_PREFETCH_MAX, &prefetch, NULL))
    {
      g_autofree char *message =
        g_strdup_printf ("prefetch must be a number from 0 to %d", CDL_PREFETCH_MAX);

      cdl_api_request_reply_error (request, 400, message);
      return;
    }

  d = g_new0 (NextData, 1);
  d->request = cdl_api_request_ref (request);
  d->prefetch = (guint)prefetch;

  if (ab_test == NULL || *ab_test == '\0')
    {
      next_with_base (d, NULL);
      return;
    }

  cdl_abtest_service_lookup_async (
    cdl_instance_get_abtest_service (cdl_api_request_get_instance (request)), ab_test,
    cdl_api_request_get_user (request)->id, cdl_api_request_get_cancellable (request),
    variant_done_cb, g_steal_pointer (&d));
}

static void
repeat_rate_done_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(CdlApiRequest) request = user_data;
  g_autoptr(GError) error = NULL;
  JsonNode *node;

  node = cdl_annotation_service_set_repeat_rate_finish (annotations_of (request), result,
                                                        &error);
  node_done (request, node, error);
}

static void
handle_repeat_rate (CdlApiRequest *request)
{
  JsonNode *body = cdl_api_request_get_body (request);
  JsonNode *rate = NULL;

  if (body != NULL && JSON_NODE_HOLDS_OBJECT (body))
    rate = json_object_get_member (json_node_get_object (body), "repeat_rate");
  if (rate == NULL || !JSON_NODE_HOLDS_VALUE (rate)
      || (json_node_get_value_type (rate) != G_TYPE_DOUBLE
          && json_node_get_value_type (rate) != G_TYPE_INT64))
    {
      cdl_api_request_reply_error (request, 400,
                                   "The body must be {\"repeat_rate\": a number from 0 to 0.2}");
      return;
    }

  cdl_annotation_service_set_repeat_rate_async (annotations_of (request),
                                                cdl_api_request_get_param (request, "id"),
                                                json_node_get_double (rate),
                                                cdl_api_request_get_cancellable (request),
                                                repeat_rate_done_cb,
                                                cdl_api_request_ref (request));
}

void
cdl_api_annotations_register (CdlApiServer *self)
{
  cdl_api_server_add_route (self, "GET", "/api/tasks/{id}/batches", CDL_ROLE_ANNOTATOR,
                            handle_list);
  cdl_api_server_add_route (self, "GET", "/api/tasks/{id}/next-batch", CDL_ROLE_ANNOTATOR,
                            handle_next);
  cdl_api_server_add_route (self, "POST", "/api/annotations", CDL_ROLE_ANNOTATOR,
                            handle_submit);
  cdl_api_server_add_route (self, "GET", "/api/tasks/{id}/annotation-stats", CDL_ROLE_OPERATOR,
                            handle_stats);
  cdl_api_server_add_route (self, "GET", "/api/annotate/tasks", CDL_ROLE_ANNOTATOR,
                            handle_annotator_tasks);
  cdl_api_server_add_route (self, "GET", "/api/tasks/{id}/annotation-progress",
                            CDL_ROLE_ANNOTATOR, handle_progress);
  cdl_api_server_add_route (self, "PUT", "/api/tasks/{id}/repeat-rate", CDL_ROLE_OPERATOR,
                            handle_repeat_rate);
}
