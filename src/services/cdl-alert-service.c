/* cdl-alert-service.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-alerts"

#include "config.h"

#include <errno.h>
#include <libsoup/soup.h>
#include <string.h>
#include <sys/statvfs.h>

#include "services/cdl-alert-service.h"

#define WEBHOOK_ATTEMPTS 4

struct _CdlAlertService
{
  GObject          parent_instance;
  CdlDb           *db;
  CdlAlertOptions  options;
  SoupSession     *http;
  GCancellable    *cancellable;
  guint            tick_id;
  guint            maintenance_id;
  gboolean         evaluating;
  gboolean         failing;
};

G_DEFINE_FINAL_TYPE (CdlAlertService, cdl_alert_service, G_TYPE_OBJECT)

enum {
  ALERT,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
cdl_alert_service_dispose (GObject *object)
{
  CdlAlertService *self = (CdlAlertService *)object;

  cdl_alert_service_stop (self);
  g_clear_object (&self->http);
  g_clear_object (&self->db);

  G_OBJECT_CLASS (cdl_alert_service_parent_class)->dispose (object);
}

static void
cdl_alert_service_finalize (GObject *object)
{
  CdlAlertService *self = (CdlAlertService *)object;

  g_free (self->options.storage_dir);
  g_free (self->options.webhook_url);

  G_OBJECT_CLASS (cdl_alert_service_parent_class)->finalize (object);
}

static void
cdl_alert_service_class_init (CdlAlertServiceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = cdl_alert_service_dispose;
  object_class->finalize = cdl_alert_service_finalize;

  signals[ALERT] = g_signal_new ("alert", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                 0, NULL, NULL, NULL, G_TYPE_NONE, 4, G_TYPE_STRING,
                                 G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
}

static void
cdl_alert_service_init (CdlAlertService *self)
{
}

CdlAlertService *
cdl_alert_service_new (CdlDb                 *db,
                       const CdlAlertOptions *options)
{
  static const CdlAlertOptions defaults = { 0 };
  CdlAlertService *self;

  g_return_val_if_fail (CDL_IS_DB (db), NULL);

  if (options == NULL)
    options = &defaults;

  self = g_object_new (CDL_TYPE_ALERT_SERVICE, NULL);
  self->db = g_object_ref (db);
  self->options = *options;
  self->options.interval_ms = options->interval_ms ? options->interval_ms : 30000;
  self->options.maintenance_s = options->maintenance_s ? options->maintenance_s : 3600;
  self->options.partition_months = options->partition_months > 0
                                   ? options->partition_months : 3;
  self->options.storage_dir = g_strdup (options->storage_dir);
  self->options.storage_min_free = options->storage_min_free
                                   ? options->storage_min_free : 1024 * 1024 * 1024;
  self->options.stall_s = options->stall_s ? options->stall_s : 600;
  self->options.failing_window_s = options->failing_window_s
                                   ? options->failing_window_s : 900;
  self->options.failing_min_jobs = options->failing_min_jobs
                                   ? options->failing_min_jobs : 3;
  self->options.webhook_url = options->webhook_url && *options->webhook_url
                              ? g_strdup (options->webhook_url) : NULL;
  self->options.webhook_timeout_s = options->webhook_timeout_s
                                    ? options->webhook_timeout_s : 10;
  self->http = soup_session_new_with_options ("timeout", self->options.webhook_timeout_s,
                                              "user-agent",
                                              "comfy-datalabel/" PACKAGE_VERSION, NULL);

  return self;
}

JsonNode *
cdl_alert_to_json (const CdlAlert *alert)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autofree char *created = NULL;
  g_autofree char *cleared = NULL;

  if (alert->created_at != NULL)
    created = g_date_time_format_iso8601 (alert->created_at);
  if (alert->cleared_at != NULL)
    cleared = g_date_time_format_iso8601 (alert->cleared_at);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "id");
  json_builder_add_int_value (builder, alert->id);
  json_builder_set_member_name (builder, "kind");
  json_builder_add_string_value (builder, alert->kind);
  json_builder_set_member_name (builder, "subject");
  json_builder_add_string_value (builder, alert->subject);
  json_builder_set_member_name (builder, "state");
  json_builder_add_string_value (builder, alert->state);
  json_builder_set_member_name (builder, "message");
  json_builder_add_string_value (builder, alert->message);
  json_builder_set_member_name (builder, "created_at");
  json_builder_add_string_value (builder, created);
  json_builder_set_member_name (builder, "cleared_at");
  if (cleared != NULL)
    json_builder_add_string_value (builder, cleared);
  else
    json_builder_add_null_value (builder);
  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}

/* Webhook ------------------------------------------------------------------- */

/* The URL for logs: user info and query may carry credentials. */
static char *
redacted_url (const char *url)
{
  g_autoptr(GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);

  if (uri == NULL)
    return g_strdup ("(an invalid URL)");

  return g_uri_to_string_partial (uri, G_URI_HIDE_USERINFO | G_URI_HIDE_QUERY
                                       | G_URI_HIDE_FRAGMENT);
}

typedef struct
{
  CdlAlertService *self;
  SoupMessage     *msg;
  GBytes          *body;
  char            *delivery;
  guint            attempt;
} Post;

static void
post_free (Post *post)
{
  g_clear_object (&post->self);
  g_clear_object (&post->msg);
  g_bytes_unref (post->body);
  g_free (post->delivery);
  g_free (post);
}

static void post_send (Post *post);

static gboolean
post_retry_cb (gpointer user_data)
{
  post_send (user_data);

  return G_SOURCE_REMOVE;
}

static void
post_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Post *post = user_data;
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *shown = NULL;
  guint status;

  reply = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  status = soup_message_get_status (post->msg);

  if (reply != NULL && SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      post_free (post);
      return;
    }

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      post_free (post);
      return;
    }

  /* A 4xx other than 429 will not get better by asking again. */
  if (post->attempt < WEBHOOK_ATTEMPTS
      && (reply == NULL || status >= 500 || status == 429))
    {
      g_debug ("Webhook attempt %u failed; retrying", post->attempt);
      g_timeout_add_seconds (1u << (post->attempt - 1), post_retry_cb, post);
      return;
    }

  shown = redacted_url (post->self->options.webhook_url);
  if (reply == NULL)
    g_warning ("Cannot deliver alert %s to the webhook %s: %s", post->delivery, shown,
               error->message);
  else
    g_warning ("The webhook %s answered alert %s with HTTP %u", shown, post->delivery, status);
  post_free (post);
}

static void
post_send (Post *post)
{
  g_clear_object (&post->msg);
  post->msg = soup_message_new ("POST", post->self->options.webhook_url);
  if (post->msg == NULL)
    {
      g_autofree char *shown = redacted_url (post->self->options.webhook_url);

      g_warning ("The webhook URL %s is not valid", shown);
      post_free (post);
      return;
    }

  post->attempt++;
  soup_message_set_request_body_from_bytes (post->msg, "application/json", post->body);
  /* Lets a receiver drop a repeat after a lost answer. */
  soup_message_headers_replace (soup_message_get_request_headers (post->msg),
                                "X-Cdl-Alert-Delivery", post->delivery);
  soup_session_send_and_read_async (post->self->http, post->msg, G_PRIORITY_DEFAULT,
                                    post->self->cancellable, post_done_cb, post);
}

static void
deliver (CdlAlertService *self,
         const CdlAlert  *alert)
{
  g_autoptr(JsonNode) node = NULL;
  Post *post;
  char *text;

  g_log (G_LOG_DOMAIN, self->options.log_warnings ? G_LOG_LEVEL_WARNING : G_LOG_LEVEL_MESSAGE,
         "Alert %s %s: %s", alert->kind, alert->state, alert->message);

  if (self->options.webhook_url == NULL)
    return;

  node = cdl_alert_to_json (alert);
  text = json_to_string (node, FALSE);

  post = g_new0 (Post, 1);
  post->self = g_object_ref (self);
  post->body = g_bytes_new_take (text, strlen (text));
  post->delivery = g_strdup_printf ("%" G_GINT64_FORMAT "-%s", alert->id, alert->state);
  post_send (post);
}

/* Evaluation ---------------------------------------------------------------- */

static CdlAlertSet *
storage_set (const CdlAlertOptions *options)
{
  CdlAlertSet *set = cdl_alert_set_new ();
  struct statvfs st;
  guint64 free_bytes;

  if (statvfs (options->storage_dir, &st) != 0)
    {
      g_autofree char *message =
        g_strdup_printf ("The storage root %s cannot be read: %s", options->storage_dir,
                         g_strerror (errno));

      cdl_alert_set_add (set, options->storage_dir, message);
      return set;
    }

  free_bytes = (guint64)st.f_bavail * st.f_frsize;
  if (free_bytes < options->storage_min_free)
    {
      g_autofree char *have = g_format_size (free_bytes);
      g_autofree char *want = g_format_size (options->storage_min_free);
      g_autofree char *message =
        g_strdup_printf ("The storage root %s has %s free, below the %s threshold",
                         options->storage_dir, have, want);

      cdl_alert_set_add (set, options->storage_dir, message);
    }

  return set;
}

typedef struct
{
  GPtrArray *changes;   /* CdlAlert */
  GString   *errors;    /* what could not be evaluated, or empty */
} Evaluation;

static void
evaluation_free (Evaluation *e)
{
  g_ptr_array_unref (e->changes);
  g_string_free (e->errors, TRUE);
  g_free (e);
}

/* Each condition stands alone: one that fails to evaluate does not hold
 * back the changes the others already made (each statement commits by
 * itself, and what it changed must still be delivered). */
/* FIXME: a change committed just before the connection breaks stays in
 * the table (and reaches the desktop apps through NOTIFY) but is never
 * logged nor posted to the webhook; a delivery outbox in the table would
 * close that gap. */
static void
apply (Evaluation   *e,
       PGconn       *conn,
       const char   *kind,
       CdlAlertSet  *set,
       GError       *set_error,
       const char  **scope)
{
  g_autoptr(CdlAlertSet) owned = set;
  g_autoptr(GPtrArray) changed = NULL;
  g_autoptr(GError) error = set_error;

  if (set != NULL)
    changed = cdl_alert_repo_apply (conn, kind, set, scope, &error);

  if (changed == NULL)
    {
      g_string_append_printf (e->errors, "%s%s: %s", e->errors->len ? "; " : "", kind,
                              error ? error->message : "unknown error");
      return;
    }

  g_ptr_array_extend_and_steal (e->changes, g_steal_pointer (&changed));
}

static gpointer
evaluate_func (PGconn        *conn,
               gpointer       data,
               GCancellable  *cancellable,
               GError       **error)
{
  const CdlAlertOptions *o = data;
  Evaluation *e = g_new0 (Evaluation, 1);
  CdlAlertSet *set;
  GError *local = NULL;

  e->changes = g_ptr_array_new_with_free_func ((GDestroyNotify)cdl_alert_free);
  e->errors = g_string_new (NULL);

  set = cdl_alert_repo_unhealthy_workers (conn, &local);
  apply (e, conn, CDL_ALERT_WORKER_UNHEALTHY, set, g_steal_pointer (&local), NULL);
  set = cdl_alert_repo_failing_workers (conn, o->failing_window_s, o->failing_min_jobs,
                                        &local);
  apply (e, conn, CDL_ALERT_WORKER_FAILING, set, g_steal_pointer (&local), NULL);
  set = cdl_alert_repo_stalled_tasks (conn, o->stall_s, &local);
  apply (e, conn, CDL_ALERT_TASK_STALLED, set, g_steal_pointer (&local), NULL);
  set = cdl_alert_repo_default_partition (conn, &local);
  apply (e, conn, CDL_ALERT_DEFAULT_PARTITION, set, g_steal_pointer (&local), NULL);

  if (o->storage_dir != NULL)
    {
      const char *scope[2] = { o->storage_dir, NULL };

      apply (e, conn, CDL_ALERT_STORAGE_LOW, storage_set (o), NULL, scope);
    }

  return e;
}

static void
evaluate_done_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(CdlAlertService) self = user_data;
  g_autoptr(GError) error = NULL;
  Evaluation *e;
  const char *failure;

  self->evaluating = FALSE;
  e = cdl_db_run_finish (CDL_DB (source), result, &error);
  if (e == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  failure = e == NULL ? error->message : e->errors->len > 0 ? e->errors->str : NULL;
  /* Once per outage, not once per tick. */
  if (failure != NULL && !self->failing)
    g_warning ("Alert conditions cannot be evaluated: %s", failure);
  else if (failure == NULL && self->failing)
    g_message ("Alert conditions are evaluated again");
  self->failing = failure != NULL;

  for (guint i = 0; e != NULL && i < e->changes->len; i++)
    deliver (self, g_ptr_array_index (e->changes, i));

  g_clear_pointer (&e, evaluation_free);
}

static gboolean
tick_cb (gpointer user_data)
{
  CdlAlertService *self = user_data;

  if (self->evaluating)
    return G_SOURCE_CONTINUE;

  self->evaluating = TRUE;
  cdl_db_run_async (self->db, evaluate_func, &self->options, NULL,
                    (GDestroyNotify)evaluation_free, self->cancellable,
                    evaluate_done_cb, g_object_ref (self));

  return G_SOURCE_CONTINUE;
}

static gpointer
maintenance_func (PGconn        *conn,
                  gpointer       data,
                  GCancellable  *cancellable,
                  GError       **error)
{
  const CdlAlertOptions *o = data;
  gboolean locked = FALSE;
  int created;

  created = cdl_alert_repo_ensure_partitions (conn, o->partition_months, &locked, error);
  if (created < 0)
    return NULL;

  if (created > 0)
    g_message ("Created %d monthly partitions of generations", created);
  else if (!locked)
    g_debug ("Another instance runs the maintenance tick");

  return GINT_TO_POINTER (TRUE);
}

static void
maintenance_done_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (cdl_db_run_finish (CDL_DB (source), result, &error) == NULL
      && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_warning ("The maintenance tick failed: %s", error->message);
}

static gboolean
maintenance_cb (gpointer user_data)
{
  CdlAlertService *self = user_data;

  cdl_db_run_async (self->db, maintenance_func, &self->options, NULL, NULL,
                    self->cancellable, maintenance_done_cb, NULL);

  return G_SOURCE_CONTINUE;
}

void
cdl_alert_service_start (CdlAlertService *self)
{
  g_return_if_fail (CDL_IS_ALERT_SERVICE (self));

  if (self->tick_id != 0)
    return;

  self->cancellable = g_cancellable_new ();
  self->tick_id = g_timeout_add (self->options.interval_ms, tick_cb, self);
  self->maintenance_id = g_timeout_add_seconds (self->options.maintenance_s,
                                                maintenance_cb, self);
  maintenance_cb (self);
  tick_cb (self);
}

void
cdl_alert_service_stop (CdlAlertService *self)
{
  g_return_if_fail (CDL_IS_ALERT_SERVICE (self));

  g_clear_handle_id (&self->tick_id, g_source_remove);
  g_clear_handle_id (&self->maintenance_id, g_source_remove);
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
}

/* Hearing alerts ------------------------------------------------------------ */

static gpointer
get_func (PGconn        *conn,
          gpointer       data,
          GCancellable  *cancellable,
          GError       **error)
{
  return cdl_alert_repo_get (conn, *(gint64 *)data, error);
}

static void
get_done_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(CdlAlertService) self = user_data;
  g_autoptr(CdlAlert) alert = NULL;
  g_autoptr(GError) error = NULL;

  alert = cdl_db_run_finish (CDL_DB (source), result, &error);
  if (alert == NULL)
    {
      g_debug ("Cannot read a notified alert: %s", error->message);
      return;
    }

  g_signal_emit (self, signals[ALERT], 0, alert->kind, alert->subject, alert->state,
                 alert->message);
}

static void
notification_cb (CdlDbListener   *listener,
                 const char      *channel,
                 const char      *payload,
                 CdlAlertService *self)
{
  gint64 id;

  if (g_strcmp0 (channel, CDL_ALERTS_CHANNEL) != 0)
    return;

  if (!g_ascii_string_to_signed (payload, 10, 1, G_MAXINT64, &id, NULL))
    return;

  cdl_db_run_async (self->db, get_func, g_memdup2 (&id, sizeof id), g_free,
                    (GDestroyNotify)cdl_alert_free, NULL, get_done_cb, g_object_ref (self));
}

void
cdl_alert_service_watch (CdlAlertService *self,
                         CdlDbListener   *listener)
{
  g_return_if_fail (CDL_IS_ALERT_SERVICE (self));
  g_return_if_fail (CDL_IS_DB_LISTENER (listener));

  g_signal_connect_object (listener, "notification", G_CALLBACK (notification_cb), self, 0);
}

/* Listing ------------------------------------------------------------------- */

typedef struct
{
  guint    limit;
  gboolean firing_only;
} ListData;

static gpointer
list_func (PGconn        *conn,
           gpointer       data,
           GCancellable  *cancellable,
           GError       **error)
{
  ListData *d = data;
  g_autoptr(GPtrArray) alerts = cdl_alert_repo_list (conn, d->limit, d->firing_only, error);
  g_autoptr(JsonArray) array = NULL;

  if (alerts == NULL)
    return NULL;

  array = json_array_sized_new (alerts->len);
  for (guint i = 0; i < alerts->len; i++)
    json_array_add_element (array, cdl_alert_to_json (g_ptr_array_index (alerts, i)));

  return json_node_init_array (json_node_alloc (), array);
}

void
cdl_alert_service_list_async (CdlAlertService     *self,
                              guint                limit,
                              gboolean             firing_only,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  ListData *d;

  g_return_if_fail (CDL_IS_ALERT_SERVICE (self));

  d = g_new0 (ListData, 1);
  d->limit = limit;
  d->firing_only = firing_only;
  cdl_db_run_async (self->db, list_func, d, g_free, (GDestroyNotify)json_node_unref,
                    cancellable, callback, user_data);
}

JsonNode *
cdl_alert_service_list_finish (CdlAlertService  *self,
                               GAsyncResult     *result,
                               GError          **error)
{
  g_return_val_if_fail (CDL_IS_ALERT_SERVICE (self), NULL);

  return cdl_db_run_finish (self->db, result, error);
}
