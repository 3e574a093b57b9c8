/* cdl-health-monitor.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-health"

#include "config.h"

#include "services/cdl-health-monitor.h"

struct _CdlHealthMonitor
{
  GObject           parent_instance;
  CdlWorkerService *workers;
  GCancellable     *cancellable;
  guint             interval_ms;
  guint             tick_id;
  gboolean          pass_running;
  gboolean          failing;
};

G_DEFINE_FINAL_TYPE (CdlHealthMonitor, cdl_health_monitor, G_TYPE_OBJECT)

static void
cdl_health_monitor_dispose (GObject *object)
{
  CdlHealthMonitor *self = (CdlHealthMonitor *)object;

  cdl_health_monitor_stop (self);
  g_clear_object (&self->workers);

  G_OBJECT_CLASS (cdl_health_monitor_parent_class)->dispose (object);
}

static void
cdl_health_monitor_class_init (CdlHealthMonitorClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = cdl_health_monitor_dispose;
}

static void
cdl_health_monitor_init (CdlHealthMonitor *self)
{
}

CdlHealthMonitor *
cdl_health_monitor_new (CdlWorkerService *workers,
                        guint             interval_ms)
{
  CdlHealthMonitor *self;

  g_return_val_if_fail (CDL_IS_WORKER_SERVICE (workers), NULL);

  self = g_object_new (CDL_TYPE_HEALTH_MONITOR, NULL);
  self->workers = g_object_ref (workers);
  self->interval_ms = interval_ms ? interval_ms : CDL_HEALTH_DEFAULT_INTERVAL_MS;

  return self;
}

static void
pass_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(CdlHealthMonitor) self = user_data;
  g_autoptr(GError) error = NULL;

  self->pass_running = FALSE;

  if (cdl_worker_service_health_pass_finish (CDL_WORKER_SERVICE (source), result, &error))
    {
      if (self->failing)
        g_message ("Health checks run again");
      self->failing = FALSE;
    }
  else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && !self->failing)
    {
      /* Once per outage, not once per tick. */
      g_warning ("Health checks cannot run: %s", error->message);
      self->failing = TRUE;
    }
}

static gboolean
tick_cb (gpointer user_data)
{
  CdlHealthMonitor *self = user_data;

  /* A pass still waiting on slow workers is not doubled up. */
  if (self->pass_running)
    return G_SOURCE_CONTINUE;

  self->pass_running = TRUE;
  cdl_worker_service_health_pass_async (self->workers, self->interval_ms,
                                        self->cancellable, pass_done_cb,
                                        g_object_ref (self));

  return G_SOURCE_CONTINUE;
}

void
cdl_health_monitor_start (CdlHealthMonitor *self)
{
  guint tick_ms;

  g_return_if_fail (CDL_IS_HEALTH_MONITOR (self));

  if (self->tick_id != 0)
    return;

  /* The pass only probes workers whose last check is an interval old (in
   * any instance), so ticking four times per interval keeps checks close
   * to the interval without probing more often. */
  tick_ms = MAX (self->interval_ms / 4, 100);
  self->cancellable = g_cancellable_new ();
  self->tick_id = g_timeout_add (tick_ms, tick_cb, self);
  tick_cb (self);
}

void
cdl_health_monitor_stop (CdlHealthMonitor *self)
{
  g_return_if_fail (CDL_IS_HEALTH_MONITOR (self));

  g_clear_handle_id (&self->tick_id, g_source_remove);
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
}
