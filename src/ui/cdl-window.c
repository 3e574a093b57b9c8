/* cdl-window.c: the main window
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-ui"

#include "config.h"

#include <glib/gi18n.h>

#include "ui/cdl-annotate-page.h"
#include "ui/cdl-export-page.h"
#include "ui/cdl-pools-page.h"
#include "ui/cdl-alerts-page.h"
#include "ui/cdl-quality-page.h"
#include "ui/cdl-tasks-page.h"
#include "ui/cdl-window.h"
#include "ui/cdl-workflows-page.h"

struct _CdlWindow
{
  AdwApplicationWindow  parent_instance;

  GSettings            *settings;

  /* template */
  AdwToastOverlay      *toast_overlay;
  GtkStack             *main_stack;
  AdwStatusPage        *starting_page;
  AdwStatusPage        *failed_page;
  AdwLeaflet           *leaflet;
  GtkWidget            *sidebar;
  GtkListBox           *sidebar_list;
  GtkLabel             *database_label;
  GtkWidget            *content;
  AdwWindowTitle       *content_title;
  GtkWidget            *add_worker_button;
  GtkWidget            *reload_button;
  GtkWidget            *upload_button;
  GtkWidget            *new_pool_button;
  GtkWidget            *new_task_button;
  GtkStack             *page_stack;
  CdlWorkersPage       *workers_page;
  CdlWorkflowsPage     *workflows_page;
  CdlPoolsPage         *pools_page;
  CdlTasksPage         *tasks_page;
  CdlAnnotatePage      *annotate_page;
  CdlExportPage        *export_page;
  CdlQualityPage       *quality_page;
  CdlAlertsPage        *alerts_page;

  /* A task to select once the Tasks page lists it: the one open last,
   * or the demo's. */
  char                 *pending_task;
  GCancellable         *demo_cancellable;
  gboolean              demo_starting;
};

G_DEFINE_FINAL_TYPE (CdlWindow, cdl_window, ADW_TYPE_APPLICATION_WINDOW)

/* The sidebar's order; Alt+1 … Alt+7 follow it. */
static const char * const page_names[] = {
  "workers", "workflows", "pools", "tasks", "annotate", "export", "quality", "alerts",
};

static CdlApplication *
cdl_window_get_cdl_application (CdlWindow *self)
{
  GtkApplication *app = gtk_window_get_application (GTK_WINDOW (self));

  return CDL_IS_APPLICATION (app) ? CDL_APPLICATION (app) : NULL;
}

static void
cdl_window_update_actions (CdlWindow *self)
{
  CdlApplication *app = cdl_window_get_cdl_application (self);
  gboolean ready = app != NULL && cdl_application_get_state (app) == CDL_APPLICATION_STATE_READY;
  const char *page = gtk_stack_get_visible_child_name (self->page_stack);
  gboolean on_workers = g_strcmp0 (page, "workers") == 0;
  gboolean on_workflows = g_strcmp0 (page, "workflows") == 0;
  gboolean on_pools = g_strcmp0 (page, "pools") == 0;
  gboolean on_tasks = g_strcmp0 (page, "tasks") == 0;
  gboolean reloads = on_workers || on_workflows || on_pools || on_tasks;

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.add-worker", ready);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.upload-workflow", ready);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.new-pool", ready);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.new-task", ready);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.reload", ready && reloads);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.start-demo",
                                 ready && !self->demo_starting);
  gtk_widget_set_visible (self->add_worker_button, on_workers);
  gtk_widget_set_visible (self->upload_button, on_workflows);
  gtk_widget_set_visible (self->new_pool_button, on_pools);
  gtk_widget_set_visible (self->new_task_button, on_tasks);
  gtk_widget_set_visible (self->reload_button, reloads);
}

static void cdl_window_tasks_changed_cb (CdlWindow  *self,
                                         guint       position,
                                         guint       removed,
                                         guint       added,
                                         GListModel *model);

static void
cdl_window_sync_state (CdlWindow *self)
{
  CdlApplication *app = cdl_window_get_cdl_application (self);
  const char *label;

  if (app == NULL)
    return;

  label = cdl_application_get_database_label (app);
  gtk_label_set_label (self->database_label, label);
  adw_status_page_set_description (self->starting_page, label);

  if (cdl_application_uses_embedded_database (app))
    adw_status_page_set_title (self->starting_page, _("Starting the database…"));
  else
    adw_status_page_set_title (self->starting_page, _("Connecting to the database…"));

  switch (cdl_application_get_state (app))
    {
    case CDL_APPLICATION_STATE_STARTING:
      gtk_stack_set_visible_child_name (self->main_stack, "starting");
      break;

    case CDL_APPLICATION_STATE_FAILED:
      {
        const GError *error = cdl_application_get_start_error (app);
        g_autofree char *description = NULL;

        description = g_markup_printf_escaped ("%s\n\n%s",
                                               error != NULL ? error->message : "",
                                               label != NULL ? label : "");
        adw_status_page_set_description (self->failed_page, description);
        gtk_stack_set_visible_child_name (self->main_stack, "failed");
      }
      break;

    case CDL_APPLICATION_STATE_READY:
      {
        CdlInstance *instance = cdl_application_get_instance (app);

        cdl_workers_page_set_service (self->workers_page,
                                      cdl_instance_get_worker_service (instance));
        cdl_workflows_page_set_services (self->workflows_page,
                                         cdl_instance_get_workflow_service (instance),
                                         cdl_instance_get_worker_service (instance));
        cdl_pools_page_set_service (self->pools_page,
                                    cdl_instance_get_pool_service (instance));
        cdl_tasks_page_set_services (self->tasks_page,
                                     cdl_instance_get_task_service (instance),
                                     cdl_instance_get_workflow_service (instance),
                                     cdl_instance_get_pool_service (instance),
                                     cdl_instance_get_settings_service (instance));
        cdl_tasks_page_set_run_services (self->tasks_page,
                                         cdl_instance_get_run_service (instance),
                                         cdl_instance_get_worker_service (instance));
        cdl_tasks_page_set_pilot_services (self->tasks_page,
                                           cdl_instance_get_pilot_service (instance),
                                           cdl_instance_get_worker_service (instance),
                                           cdl_instance_get_object_store (instance));
        cdl_annotate_page_set_services (self->annotate_page,
                                        cdl_instance_get_annotation_service (instance),
                                        cdl_instance_get_auth_service (instance),
                                        cdl_instance_get_object_store (instance));
        cdl_export_page_set_service (self->export_page,
                                     cdl_instance_get_annotation_service (instance));
        cdl_quality_page_set_service (self->quality_page,
                                      cdl_instance_get_annotation_service (instance));
        cdl_alerts_page_set_service (self->alerts_page,
                                     cdl_instance_get_alert_service (instance));
        gtk_stack_set_visible_child_name (self->main_stack, "ready");
        if (self->pending_task == NULL && self->settings != NULL)
          {
            self->pending_task = g_settings_get_string (self->settings, "last-task");
            if (*self->pending_task == '\0')
              g_clear_pointer (&self->pending_task, g_free);
          }
        cdl_window_tasks_changed_cb (self, 0, 0, 0,
                                     cdl_tasks_page_get_model (self->tasks_page));
      }
      break;

    default:
      g_assert_not_reached ();
    }

  cdl_window_update_actions (self);
}

static void
cdl_window_select_row_for_page (CdlWindow  *self,
                                const char *name)
{
  for (GtkWidget *child = gtk_widget_get_first_child (GTK_WIDGET (self->sidebar_list));
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      if (GTK_IS_LIST_BOX_ROW (child) &&
          g_strcmp0 (gtk_widget_get_name (child), name) == 0)
        {
          gtk_list_box_select_row (self->sidebar_list, GTK_LIST_BOX_ROW (child));
          return;
        }
    }
}

static void
cdl_window_row_selected_cb (CdlWindow     *self,
                            GtkListBoxRow *row,
                            GtkListBox    *list)
{
  const char *name;

  if (row == NULL)
    return;

  name = gtk_widget_get_name (GTK_WIDGET (row));
  gtk_stack_set_visible_child_name (self->page_stack, name);
}

static void
cdl_window_row_activated_cb (CdlWindow     *self,
                             GtkListBoxRow *row,
                             GtkListBox    *list)
{
  adw_leaflet_set_visible_child (self->leaflet, self->content);
}

static void
cdl_window_back_cb (CdlWindow *self,
                    GtkButton *button)
{
  adw_leaflet_set_visible_child (self->leaflet, self->sidebar);
}

static void
cdl_window_folded_cb (CdlWindow  *self,
                      GParamSpec *pspec,
                      AdwLeaflet *leaflet)
{
  /* A folded sidebar is a plain list to pick from, not a selection. */
  if (adw_leaflet_get_folded (leaflet))
    gtk_list_box_set_selection_mode (self->sidebar_list, GTK_SELECTION_NONE);
  else
    {
      gtk_list_box_set_selection_mode (self->sidebar_list, GTK_SELECTION_BROWSE);
      cdl_window_select_row_for_page (self, gtk_stack_get_visible_child_name (self->page_stack));
    }
}

static void
cdl_window_update_subtitle (CdlWindow *self)
{
  const char *page = gtk_stack_get_visible_child_name (self->page_stack);
  g_autofree char *summary = NULL;

  if (g_strcmp0 (page, "workers") == 0)
    g_object_get (self->workers_page, "summary", &summary, NULL);
  else if (g_strcmp0 (page, "workflows") == 0)
    g_object_get (self->workflows_page, "summary", &summary, NULL);
  else if (g_strcmp0 (page, "pools") == 0)
    g_object_get (self->pools_page, "summary", &summary, NULL);
  else if (g_strcmp0 (page, "tasks") == 0)
    g_object_get (self->tasks_page, "summary", &summary, NULL);
  else if (g_strcmp0 (page, "annotate") == 0)
    g_object_get (self->annotate_page, "summary", &summary, NULL);

  adw_window_title_set_subtitle (self->content_title, summary);
}

static void
cdl_window_page_changed_cb (CdlWindow  *self,
                            GParamSpec *pspec,
                            GtkStack   *stack)
{
  GtkWidget *child = gtk_stack_get_visible_child (stack);
  const char *name = gtk_stack_get_visible_child_name (stack);

  if (child == NULL)
    return;

  adw_window_title_set_title (self->content_title,
                              gtk_stack_page_get_title (gtk_stack_get_page (stack, child)));
  cdl_window_update_subtitle (self);

  if (self->settings != NULL && name != NULL)
    g_settings_set_string (self->settings, "last-page", name);

  cdl_window_update_actions (self);
}

static void
cdl_window_add_worker_action (GtkWidget  *widget,
                              const char *action_name,
                              GVariant   *parameter)
{
  CdlWindow *self = CDL_WINDOW (widget);

  cdl_window_set_visible_page (self, "workers");
  cdl_workers_page_add_worker (self->workers_page);
}

static void
cdl_window_upload_workflow_action (GtkWidget  *widget,
                                   const char *action_name,
                                   GVariant   *parameter)
{
  CdlWindow *self = CDL_WINDOW (widget);

  cdl_window_set_visible_page (self, "workflows");
  cdl_workflows_page_upload (self->workflows_page);
}

static void
cdl_window_new_pool_action (GtkWidget  *widget,
                            const char *action_name,
                            GVariant   *parameter)
{
  CdlWindow *self = CDL_WINDOW (widget);

  cdl_window_set_visible_page (self, "pools");
  cdl_pools_page_new_pool (self->pools_page);
}

static void
cdl_window_new_task_action (GtkWidget  *widget,
                            const char *action_name,
                            GVariant   *parameter)
{
  CdlWindow *self = CDL_WINDOW (widget);

  cdl_window_set_visible_page (self, "tasks");
  cdl_tasks_page_new_task (self->tasks_page);
}

static void
cdl_window_reload_action (GtkWidget  *widget,
                          const char *action_name,
                          GVariant   *parameter)
{
  CdlWindow *self = CDL_WINDOW (widget);
  const char *page = gtk_stack_get_visible_child_name (self->page_stack);

  if (g_strcmp0 (page, "workflows") == 0)
    cdl_workflows_page_reload (self->workflows_page);
  else if (g_strcmp0 (page, "pools") == 0)
    cdl_pools_page_reload (self->pools_page);
  else if (g_strcmp0 (page, "tasks") == 0)
    cdl_tasks_page_reload (self->tasks_page);
  else
    cdl_workers_page_reload (self->workers_page);
}

/* Selects the pending task as soon as the Tasks page lists it. */
static void
cdl_window_tasks_changed_cb (CdlWindow  *self,
                             guint       position,
                             guint       removed,
                             guint       added,
                             GListModel *model)
{
  guint n = g_list_model_get_n_items (model);

  if (self->pending_task == NULL)
    return;

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(CdlTask) task = g_list_model_get_item (model, i);

      if (g_strcmp0 (cdl_task_get_id (task), self->pending_task) == 0)
        {
          g_autofree char *id = g_steal_pointer (&self->pending_task);

          cdl_tasks_page_select_task (self->tasks_page, id);
          return;
        }
    }
}

static void
cdl_window_demo_started_cb (GObject      *object,
                            GAsyncResult *result,
                            gpointer      user_data)
{
  g_autoptr(CdlWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *task_id = NULL;

  task_id = cdl_demo_service_start_finish (CDL_DEMO_SERVICE (object), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  self->demo_starting = FALSE;
  cdl_window_update_actions (self);

  if (task_id == NULL)
    {
      cdl_window_add_toast (self, adw_toast_new (error->message));
      return;
    }

  cdl_window_add_toast (self, adw_toast_new (_("The demo worker runs; a demo task is ready "
                                               "to freeze and run")));
  g_free (self->pending_task);
  self->pending_task = g_steal_pointer (&task_id);
  cdl_window_set_visible_page (self, "tasks");
  cdl_tasks_page_reload (self->tasks_page);
  cdl_window_tasks_changed_cb (self, 0, 0, 0, cdl_tasks_page_get_model (self->tasks_page));
}

static void
cdl_window_start_demo_action (GtkWidget  *widget,
                              const char *action_name,
                              GVariant   *parameter)
{
  CdlWindow *self = CDL_WINDOW (widget);
  CdlApplication *app = cdl_window_get_cdl_application (self);
  CdlDemoService *demo = app != NULL ? cdl_application_get_demo_service (app) : NULL;

  if (demo == NULL || self->demo_starting)
    return;

  self->demo_starting = TRUE;
  cdl_window_update_actions (self);
  cdl_window_add_toast (self, adw_toast_new (_("Starting the demo worker…")));
  cdl_demo_service_start_async (demo, self->demo_cancellable, cdl_window_demo_started_cb,
                                g_object_ref (self));
}

static void
cdl_window_show_page_action (GtkWidget  *widget,
                             const char *action_name,
                             GVariant   *parameter)
{
  CdlWindow *self = CDL_WINDOW (widget);
  int index = g_variant_get_int32 (parameter);

  if (index < 0 || index >= (int) G_N_ELEMENTS (page_names))
    return;

  cdl_window_set_visible_page (self, page_names[index]);
  adw_leaflet_set_visible_child (self->leaflet, self->content);
}

/* The application arrives after construction, as a plain property. */
static void
cdl_window_application_cb (CdlWindow  *self,
                           GParamSpec *pspec,
                           gpointer    user_data)
{
  CdlApplication *app = cdl_window_get_cdl_application (self);
  g_autofree char *last_page = NULL;

  if (app == NULL || self->settings != NULL)
    return;

  self->settings = g_object_ref (cdl_application_get_settings (app));

  g_settings_bind (self->settings, "window-width", self, "default-width",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "window-height", self, "default-height",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "window-maximized", self, "maximized",
                   G_SETTINGS_BIND_DEFAULT);

  g_signal_connect_object (self->workers_page, "notify::summary",
                           G_CALLBACK (cdl_window_update_subtitle), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->workflows_page, "notify::summary",
                           G_CALLBACK (cdl_window_update_subtitle), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->pools_page, "notify::summary",
                           G_CALLBACK (cdl_window_update_subtitle), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->tasks_page, "notify::summary",
                           G_CALLBACK (cdl_window_update_subtitle), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->annotate_page, "notify::summary",
                           G_CALLBACK (cdl_window_update_subtitle), self,
                           G_CONNECT_SWAPPED);

  g_signal_connect_object (cdl_tasks_page_get_model (self->tasks_page), "items-changed",
                           G_CALLBACK (cdl_window_tasks_changed_cb), self,
                           G_CONNECT_SWAPPED);

  last_page = g_settings_get_string (self->settings, "last-page");
  if (gtk_stack_get_child_by_name (self->page_stack, last_page) != NULL)
    cdl_window_set_visible_page (self, last_page);
  else
    cdl_window_set_visible_page (self, "workers");
  cdl_window_page_changed_cb (self, NULL, self->page_stack);

  g_signal_connect_object (app, "notify::state",
                           G_CALLBACK (cdl_window_sync_state), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (app, "notify::database-label",
                           G_CALLBACK (cdl_window_sync_state), self,
                           G_CONNECT_SWAPPED);

  cdl_window_sync_state (self);
}

static void
cdl_window_dispose (GObject *object)
{
  CdlWindow *self = CDL_WINDOW (object);

  g_cancellable_cancel (self->demo_cancellable);

  /* The task open last comes back with the next window. */
  if (self->settings != NULL && self->tasks_page != NULL &&
      cdl_tasks_page_get_shown (self->tasks_page) != NULL)
    g_settings_set_string (self->settings, "last-task",
                           cdl_task_get_id (cdl_tasks_page_get_shown (self->tasks_page)));

  gtk_widget_dispose_template (GTK_WIDGET (self), CDL_TYPE_WINDOW);
  g_clear_object (&self->settings);
  g_clear_object (&self->demo_cancellable);
  g_clear_pointer (&self->pending_task, g_free);

  G_OBJECT_CLASS (cdl_window_parent_class)->dispose (object);
}

static void
cdl_window_class_init (CdlWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = cdl_window_dispose;

  g_type_ensure (CDL_TYPE_WORKERS_PAGE);
  g_type_ensure (CDL_TYPE_WORKFLOWS_PAGE);
  g_type_ensure (CDL_TYPE_POOLS_PAGE);
  g_type_ensure (CDL_TYPE_TASKS_PAGE);
  g_type_ensure (CDL_TYPE_ANNOTATE_PAGE);
  g_type_ensure (CDL_TYPE_EXPORT_PAGE);
  g_type_ensure (CDL_TYPE_QUALITY_PAGE);
  g_type_ensure (CDL_TYPE_ALERTS_PAGE);

  gtk_widget_class_set_template_from_resource (widget_class, RESOURCE_BASE "/ui/cdl-window.ui");
  gtk_widget_class_bind_template_child (widget_class, CdlWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, CdlWindow, main_stack);
  gtk_widget_class_bind_template_child (widget_class, CdlWindow, starting_page);
  gtk_widget_class_bind_template_child (widget_class, CdlWindow, failed_page);
  gtk_widget_class_bind_template_child (widget_class, CdlWindow, leaflet);
  gtk_widget_class_bind_template_child (widget_class, CdlWindow, sidebar);
  gtk_widget_class_bind_template_child (widget_class, CdlWindow, sidebar_list);
  gtk_widget_class_bind_template_child (widget_class, CdlWindow, database_label);
  gtk_widget_class_bind_template_child (widget_class, CdlWindow, content);
  gtk_widget_class_bind_template_child (widget_class, CdlWindow, content_title);
  gtk_widget_class_bind_template_child (widget_class, CdlWindow, add_worker_button);
  gtk_widget_class_bind_template_child (widget_class, CdlWindow, reload_button);
  gtk_widget_class_bind_template_child (widget_class, CdlWindow, page_stack);
  gtk_widget_class_bind_template_child (widget_class, CdlWindow, upload_button);
  gtk_widget_class_bind_template_child (widget_class, CdlWindow, new_pool_button);
  gtk_widget_class_bind_template_child (widget_class, CdlWindow, new_task_button);
  gtk_widget_class_bind_template_child (widget_class, CdlWindow, workers_page);
  gtk_widget_class_bind_template_child (widget_class, CdlWindow, workflows_page);
  gtk_widget_class_bind_template_child (widget_class, CdlWindow, pools_page);
  gtk_widget_class_bind_template_child (widget_class, CdlWindow, tasks_page);
  gtk_widget_class_bind_template_child (widget_class, CdlWindow, annotate_page);
  gtk_widget_class_bind_template_child (widget_class, CdlWindow, export_page);
  gtk_widget_class_bind_template_child (widget_class, CdlWindow, quality_page);
  gtk_widget_class_bind_template_child (widget_class, CdlWindow, alerts_page);
  gtk_widget_class_bind_template_callback (widget_class, cdl_window_row_selected_cb);
  gtk_widget_class_bind_template_callback (widget_class, cdl_window_row_activated_cb);
  gtk_widget_class_bind_template_callback (widget_class, cdl_window_back_cb);
  gtk_widget_class_bind_template_callback (widget_class, cdl_window_folded_cb);
  gtk_widget_class_bind_template_callback (widget_class, cdl_window_page_changed_cb);

  gtk_widget_class_install_action (widget_class, "win.add-worker", NULL,
                                   cdl_window_add_worker_action);
  gtk_widget_class_install_action (widget_class, "win.upload-workflow", NULL,
                                   cdl_window_upload_workflow_action);
  gtk_widget_class_install_action (widget_class, "win.new-pool", NULL,
                                   cdl_window_new_pool_action);
  gtk_widget_class_install_action (widget_class, "win.new-task", NULL,
                                   cdl_window_new_task_action);
  gtk_widget_class_install_action (widget_class, "win.reload", NULL,
                                   cdl_window_reload_action);
  gtk_widget_class_install_action (widget_class, "win.start-demo", NULL,
                                   cdl_window_start_demo_action);
  gtk_widget_class_install_action (widget_class, "win.show-page", "i",
                                   cdl_window_show_page_action);
}

static void
cdl_window_init (CdlWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->demo_cancellable = g_cancellable_new ();

  g_signal_connect (self, "notify::application",
                    G_CALLBACK (cdl_window_application_cb), NULL);
}

CdlWindow *
cdl_window_new (CdlApplication *application)
{
  g_return_val_if_fail (CDL_IS_APPLICATION (application), NULL);

  return g_object_new (CDL_TYPE_WINDOW,
                       "application", application,
                       NULL);
}

void
cdl_window_add_toast (CdlWindow *self,
                      AdwToast  *toast)
{
  g_return_if_fail (CDL_IS_WINDOW (self));
  g_return_if_fail (ADW_IS_TOAST (toast));

  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

const char *
cdl_window_get_visible_page (CdlWindow *self)
{
  g_return_val_if_fail (CDL_IS_WINDOW (self), NULL);

  return gtk_stack_get_visible_child_name (self->page_stack);
}

void
cdl_window_set_visible_page (CdlWindow  *self,
                             const char *name)
{
  g_return_if_fail (CDL_IS_WINDOW (self));
  g_return_if_fail (name != NULL);

  if (gtk_stack_get_child_by_name (self->page_stack, name) == NULL)
    return;

  gtk_stack_set_visible_child_name (self->page_stack, name);
  if (!adw_leaflet_get_folded (self->leaflet))
    cdl_window_select_row_for_page (self, name);
}

CdlWorkersPage *
cdl_window_get_workers_page (CdlWindow *self)
{
  g_return_val_if_fail (CDL_IS_WINDOW (self), NULL);

  return self->workers_page;
}

CdlWorkflowsPage *
cdl_window_get_workflows_page (CdlWindow *self)
{
  g_return_val_if_fail (CDL_IS_WINDOW (self), NULL);

  return self->workflows_page;
}

CdlPoolsPage *
cdl_window_get_pools_page (CdlWindow *self)
{
  g_return_val_if_fail (CDL_IS_WINDOW (self), NULL);

  return self->pools_page;
}

CdlTasksPage *
cdl_window_get_tasks_page (CdlWindow *self)
{
  g_return_val_if_fail (CDL_IS_WINDOW (self), NULL);

  return self->tasks_page;
}
