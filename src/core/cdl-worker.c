/* cdl-worker.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "core/cdl-json.h"
#include "core/cdl-worker.h"

struct _CdlWorker
{
  GObject        parent_instance;
  CdlWorkerData  data;
  gboolean       has_api_key;
};

G_DEFINE_FINAL_TYPE (CdlWorker, cdl_worker, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ID,
  PROP_NAME,
  PROP_BASE_URL,
  PROP_STATUS,
  PROP_HEALTHY,
  PROP_ENABLED,
  PROP_PRIORITY,
  PROP_MAX_CONCURRENT_JOBS,
  PROP_CURRENT_QUEUE_LEN,
  PROP_LAST_ERROR,
  PROP_LAST_CHECKED_AT,
  PROP_HAS_API_KEY,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

const char *
cdl_worker_status_to_string (CdlWorkerStatus status)
{
  return status == CDL_WORKER_STATUS_HEALTHY ? "HEALTHY" : "UNHEALTHY";
}

gboolean
cdl_worker_status_from_string (const char      *str,
                               CdlWorkerStatus *status)
{
  if (g_strcmp0 (str, "HEALTHY") == 0)
    *status = CDL_WORKER_STATUS_HEALTHY;
  else if (g_strcmp0 (str, "UNHEALTHY") == 0)
    *status = CDL_WORKER_STATUS_UNHEALTHY;
  else
    return FALSE;

  return TRUE;
}

void
cdl_worker_data_clear (CdlWorkerData *data)
{
  g_clear_pointer (&data->id, g_free);
  g_clear_pointer (&data->name, g_free);
  g_clear_pointer (&data->base_url, g_free);
  g_clear_pointer (&data->tags, g_strfreev);
  g_clear_pointer (&data->last_error, g_free);
  g_clear_pointer (&data->last_checked_at, g_date_time_unref);
  g_clear_pointer (&data->created_at, g_date_time_unref);
  g_clear_pointer (&data->updated_at, g_date_time_unref);
}

static void
cdl_worker_finalize (GObject *object)
{
  CdlWorker *self = (CdlWorker *)object;

  cdl_worker_data_clear (&self->data);

  G_OBJECT_CLASS (cdl_worker_parent_class)->finalize (object);
}

static void
cdl_worker_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  CdlWorker *self = CDL_WORKER (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_string (value, self->data.id);
      break;
    case PROP_NAME:
      g_value_set_string (value, self->data.name);
      break;
    case PROP_BASE_URL:
      g_value_set_string (value, self->data.base_url);
      break;
    case PROP_STATUS:
      g_value_set_string (value, cdl_worker_status_to_string (self->data.status));
      break;
    case PROP_HEALTHY:
      g_value_set_boolean (value, self->data.status == CDL_WORKER_STATUS_HEALTHY);
      break;
    case PROP_ENABLED:
      g_value_set_boolean (value, self->data.enabled);
      break;
    case PROP_PRIORITY:
      g_value_set_int (value, self->data.priority);
      break;
    case PROP_MAX_CONCURRENT_JOBS:
      g_value_set_int (value, self->data.max_concurrent_jobs);
      break;
    case PROP_CURRENT_QUEUE_LEN:
      g_value_set_int (value, self->data.current_queue_len);
      break;
    case PROP_LAST_ERROR:
      g_value_set_string (value, self->data.last_error);
      break;
    case PROP_LAST_CHECKED_AT:
      g_value_set_boxed (value, self->data.last_checked_at);
      break;
    case PROP_HAS_API_KEY:
      g_value_set_boolean (value, self->has_api_key);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdl_worker_class_init (CdlWorkerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  object_class->finalize = cdl_worker_finalize;
  object_class->get_property = cdl_worker_get_property;

  /* Workers are values: a change yields a new object from the repository,
   * so every property is read-only. */
  properties[PROP_ID] = g_param_spec_string ("id", NULL, NULL, NULL, flags);
  properties[PROP_NAME] = g_param_spec_string ("name", NULL, NULL, NULL, flags);
  properties[PROP_BASE_URL] = g_param_spec_string ("base-url", NULL, NULL, NULL, flags);
  properties[PROP_STATUS] = g_param_spec_string ("status", NULL, NULL, NULL, flags);
  properties[PROP_HEALTHY] = g_param_spec_boolean ("healthy", NULL, NULL, FALSE, flags);
  properties[PROP_ENABLED] = g_param_spec_boolean ("enabled", NULL, NULL, TRUE, flags);
  properties[PROP_PRIORITY] =
    g_param_spec_int ("priority", NULL, NULL, G_MININT, G_MAXINT, 0, flags);
  properties[PROP_MAX_CONCURRENT_JOBS] =
    g_param_spec_int ("max-concurrent-jobs", NULL, NULL, 0, G_MAXINT, 1, flags);
  properties[PROP_CURRENT_QUEUE_LEN] =
    g_param_spec_int ("current-queue-len", NULL, NULL, 0, G_MAXINT, 0, flags);
  properties[PROP_LAST_ERROR] = g_param_spec_string ("last-error", NULL, NULL, NULL, flags);
  properties[PROP_LAST_CHECKED_AT] =
    g_param_spec_boxed ("last-checked-at", NULL, NULL, G_TYPE_DATE_TIME, flags);
  properties[PROP_HAS_API_KEY] =
    g_param_spec_boolean ("has-api-key", NULL, NULL, FALSE, flags);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
cdl_worker_init (CdlWorker *self)
{
}

CdlWorker *
cdl_worker_new (CdlWorkerData *data)
{
  CdlWorker *self;

  g_return_val_if_fail (data != NULL, NULL);

  self = g_object_new (CDL_TYPE_WORKER, NULL);
  self->data = *data;
  memset (data, 0, sizeof *data);

  if (self->data.tags == NULL)
    self->data.tags = g_new0 (char *, 1);

  return self;
}

const CdlWorkerData *
cdl_worker_get_data (CdlWorker *self)
{
  g_return_val_if_fail (CDL_IS_WORKER (self), NULL);

  return &self->data;
}

const char *
cdl_worker_get_id (CdlWorker *self)
{
  g_return_val_if_fail (CDL_IS_WORKER (self), NULL);

  return self->data.id;
}

const char *
cdl_worker_get_name (CdlWorker *self)
{
  g_return_val_if_fail (CDL_IS_WORKER (self), NULL);

  return self->data.name;
}

const char *
cdl_worker_get_base_url (CdlWorker *self)
{
  g_return_val_if_fail (CDL_IS_WORKER (self), NULL);

  return self->data.base_url;
}

const char * const *
cdl_worker_get_tags (CdlWorker *self)
{
  g_return_val_if_fail (CDL_IS_WORKER (self), NULL);

  return (const char * const *)self->data.tags;
}

CdlWorkerStatus
cdl_worker_get_status (CdlWorker *self)
{
  g_return_val_if_fail (CDL_IS_WORKER (self), CDL_WORKER_STATUS_UNHEALTHY);

  return self->data.status;
}

gboolean
cdl_worker_get_enabled (CdlWorker *self)
{
  g_return_val_if_fail (CDL_IS_WORKER (self), FALSE);

  return self->data.enabled;
}

int
cdl_worker_get_priority (CdlWorker *self)
{
  g_return_val_if_fail (CDL_IS_WORKER (self), 0);

  return self->data.priority;
}

int
cdl_worker_get_max_concurrent_jobs (CdlWorker *self)
{
  g_return_val_if_fail (CDL_IS_WORKER (self), 0);

  return self->data.max_concurrent_jobs;
}

int
cdl_worker_get_current_queue_len (CdlWorker *self)
{
  g_return_val_if_fail (CDL_IS_WORKER (self), 0);

  return self->data.current_queue_len;
}

const char *
cdl_worker_get_last_error (CdlWorker *self)
{
  g_return_val_if_fail (CDL_IS_WORKER (self), NULL);

  return self->data.last_error;
}

GDateTime *
cdl_worker_get_last_checked_at (CdlWorker *self)
{
  g_return_val_if_fail (CDL_IS_WORKER (self), NULL);

  return self->data.last_checked_at;
}

gboolean
cdl_worker_get_has_api_key (CdlWorker *self)
{
  g_return_val_if_fail (CDL_IS_WORKER (self), FALSE);

  return self->has_api_key;
}

void
cdl_worker_set_has_api_key (CdlWorker *self,
                            gboolean   has_api_key)
{
  g_return_if_fail (CDL_IS_WORKER (self));

  has_api_key = !!has_api_key;
  if (self->has_api_key == has_api_key)
    return;

  self->has_api_key = has_api_key;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HAS_API_KEY]);
}

JsonNode *
cdl_worker_to_json (CdlWorker *self)
{
  g_autoptr(JsonBuilder) b = json_builder_new_immutable ();
  const CdlWorkerData *d;

  g_return_val_if_fail (CDL_IS_WORKER (self), NULL);

  d = &self->data;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, d->id);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, d->name);
  json_builder_set_member_name (b, "base_url");
  json_builder_add_string_value (b, d->base_url);
  cdl_json_add_strv (b, "tags", (const char * const *)d->tags);
  json_builder_set_member_name (b, "status");
  json_builder_add_string_value (b, cdl_worker_status_to_string (d->status));
  json_builder_set_member_name (b, "enabled");
  json_builder_add_boolean_value (b, d->enabled);
  json_builder_set_member_name (b, "priority");
  json_builder_add_int_value (b, d->priority);
  json_builder_set_member_name (b, "max_concurrent_jobs");
  json_builder_add_int_value (b, d->max_concurrent_jobs);
  json_builder_set_member_name (b, "current_queue_len");
  json_builder_add_int_value (b, d->current_queue_len);
  cdl_json_add_datetime (b, "last_checked_at", d->last_checked_at);
  json_builder_set_member_name (b, "consecutive_failures");
  json_builder_add_int_value (b, d->consecutive_failures);
  cdl_json_add_string_or_null (b, "last_error", d->last_error);
  json_builder_set_member_name (b, "has_api_key");
  json_builder_add_boolean_value (b, self->has_api_key);
  cdl_json_add_datetime (b, "created_at", d->created_at);
  cdl_json_add_datetime (b, "updated_at", d->updated_at);
  json_builder_end_object (b);

  return json_builder_get_root (b);
}
