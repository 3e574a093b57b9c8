/* cdl-workers-page.c: the worker registry, live
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-ui"

#include "config.h"

#include <glib/gi18n.h>

#include "ui/cdl-worker-dialog.h"
#include "ui/cdl-worker-row.h"
#include "ui/cdl-workers-page.h"

struct _CdlWorkersPage
{
  GtkWidget          parent_instance;

  CdlWorkerService  *service;
  GListStore        *store;
  GtkSortListModel  *sorted;
  GCancellable      *cancellable;
  GtkWindow         *dialog;
  char              *summary;
  gboolean           loaded;

  /* template */
  GtkStack          *stack;
  GtkSpinner        *spinner;
  AdwStatusPage     *error_page;
  GtkListView       *list_view;
};

G_DEFINE_FINAL_TYPE (CdlWorkersPage, cdl_workers_page, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_SUMMARY,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
cdl_workers_page_toast (CdlWorkersPage *self,
                        const char     *text)
{
  GtkWidget *overlay = gtk_widget_get_ancestor (GTK_WIDGET (self), ADW_TYPE_TOAST_OVERLAY);

  if (overlay == NULL)
    {
      g_message ("%s", text);
      return;
    }

  adw_toast_overlay_add_toast (ADW_TOAST_OVERLAY (overlay), adw_toast_new (text));
}

static void
cdl_workers_page_update_summary (CdlWorkersPage *self)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->store));
  guint healthy = 0;
  g_autofree char *summary = NULL;

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(CdlWorker) worker = g_list_model_get_item (G_LIST_MODEL (self->store), i);

      if (cdl_worker_get_enabled (worker) &&
          cdl_worker_get_last_checked_at (worker) != NULL &&
          cdl_worker_get_status (worker) == CDL_WORKER_STATUS_HEALTHY)
        healthy++;
    }

  if (n > 0)
    {
      g_autofree char *count = NULL;

      count = g_strdup_printf (ngettext ("%u worker", "%u workers", n), n);
      /* TRANSLATORS: the first %s is "N workers"; then how many are healthy */
      summary = g_strdup_printf (_("%s · %u healthy"), count, healthy);
    }

  if (g_strcmp0 (summary, self->summary) != 0)
    {
      g_free (self->summary);
      self->summary = g_steal_pointer (&summary);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SUMMARY]);
    }
}

static void
cdl_workers_page_update_view (CdlWorkersPage *self)
{
  const char *current = gtk_stack_get_visible_child_name (self->stack);

  if (g_list_model_get_n_items (G_LIST_MODEL (self->store)) > 0)
    gtk_stack_set_visible_child_name (self->stack, "list");
  else if (self->loaded)
    gtk_stack_set_visible_child_name (self->stack, "empty");
  else if (g_strcmp0 (current, "error") != 0)
    gtk_stack_set_visible_child_name (self->stack, "loading");

  gtk_spinner_set_spinning (self->spinner,
                            g_strcmp0 (gtk_stack_get_visible_child_name (self->stack),
                                       "loading") == 0);
}

static void
cdl_workers_page_items_changed_cb (CdlWorkersPage *self,
                                   guint           position,
                                   guint           removed,
                                   guint           added,
                                   GListModel     *model)
{
  cdl_workers_page_update_view (self);
  cdl_workers_page_update_summary (self);
}

static gboolean
cdl_workers_page_find (CdlWorkersPage *self,
                       const char     *id,
                       guint          *position)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->store));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(CdlWorker) worker = g_list_model_get_item (G_LIST_MODEL (self->store), i);

      if (g_strcmp0 (cdl_worker_get_id (worker), id) == 0)
        {
          *position = i;
          return TRUE;
        }
    }

  return FALSE;
}

/* Puts @worker in place of the item with its id, or adds it. */
static void
cdl_workers_page_take_worker (CdlWorkersPage *self,
                              CdlWorker      *worker)
{
  guint position;

  g_assert (CDL_IS_WORKERS_PAGE (self));
  g_assert (CDL_IS_WORKER (worker));

  if (cdl_workers_page_find (self, cdl_worker_get_id (worker), &position))
    {
      g_autoptr(CdlWorker) current = g_list_model_get_item (G_LIST_MODEL (self->store), position);

      if (current != worker)
        g_list_store_splice (self->store, position, 1, (gpointer *) &worker, 1);
    }
  else
    {
      g_list_store_append (self->store, worker);
    }
}

static void
cdl_workers_page_worker_changed_cb (CdlWorkersPage   *self,
                                    CdlWorker        *worker,
                                    CdlWorkerService *service)
{
  /* Before the first list arrives, the list itself brings the worker. */
  if (!self->loaded)
    return;

  cdl_workers_page_take_worker (self, worker);
}

static void
cdl_workers_page_list_cb (GObject      *object,
                          GAsyncResult *result,
                          gpointer      user_data)
{
  g_autoptr(CdlWorkersPage) self = user_data;
  g_autoptr(GPtrArray) workers = NULL;
  g_autoptr(GError) error = NULL;

  workers = cdl_worker_service_list_finish (CDL_WORKER_SERVICE (object), result, &error);

  if (workers == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;

      g_warning ("Could not list the workers: %s", error->message);

      if (g_list_model_get_n_items (G_LIST_MODEL (self->store)) == 0)
        {
          adw_status_page_set_description (self->error_page, error->message);
          gtk_stack_set_visible_child_name (self->stack, "error");
          cdl_workers_page_update_view (self);
        }
      else
        {
          g_autofree char *text = NULL;

          /* TRANSLATORS: %s is the reason */
          text = g_strdup_printf (_("Could not reload the workers: %s"), error->message);
          cdl_workers_page_toast (self, text);
        }
      return;
    }

  self->loaded = TRUE;
  g_list_store_splice (self->store, 0,
                       g_list_model_get_n_items (G_LIST_MODEL (self->store)),
                       workers->pdata, workers->len);
  cdl_workers_page_update_view (self);
}

static void
cdl_workers_page_row_updated_cb (CdlWorkersPage *self,
                                 CdlWorker      *worker,
                                 CdlWorkerRow   *row)
{
  cdl_workers_page_take_worker (self, worker);
}

static void
cdl_workers_page_setup_cb (CdlWorkersPage           *self,
                           GtkListItem              *item,
                           GtkSignalListItemFactory *factory)
{
  CdlWorkerRow *row = cdl_worker_row_new (self->service);

  g_signal_connect_object (row, "worker-updated",
                           G_CALLBACK (cdl_workers_page_row_updated_cb), self,
                           G_CONNECT_SWAPPED);
  gtk_list_item_set_activatable (item, FALSE);
  gtk_list_item_set_selectable (item, FALSE);
  gtk_list_item_set_child (item, GTK_WIDGET (row));
}

static void
cdl_workers_page_bind_cb (CdlWorkersPage           *self,
                          GtkListItem              *item,
                          GtkSignalListItemFactory *factory)
{
  CdlWorkerRow *row = CDL_WORKER_ROW (gtk_list_item_get_child (item));

  cdl_worker_row_set_worker (row, gtk_list_item_get_item (item));
}

static void
cdl_workers_page_unbind_cb (CdlWorkersPage           *self,
                            GtkListItem              *item,
                            GtkSignalListItemFactory *factory)
{
  CdlWorkerRow *row = CDL_WORKER_ROW (gtk_list_item_get_child (item));

  cdl_worker_row_set_worker (row, NULL);
}

static int
cdl_workers_page_compare (gconstpointer a,
                          gconstpointer b,
                          gpointer      user_data)
{
  g_autofree char *key_a = g_utf8_casefold (cdl_worker_get_name ((CdlWorker *) a), -1);
  g_autofree char *key_b = g_utf8_casefold (cdl_worker_get_name ((CdlWorker *) b), -1);
  int cmp = g_utf8_collate (key_a, key_b);

  if (cmp != 0)
    return cmp < 0 ? GTK_ORDERING_SMALLER : GTK_ORDERING_LARGER;

  cmp = g_strcmp0 (cdl_worker_get_id ((CdlWorker *) a), cdl_worker_get_id ((CdlWorker *) b));

  return cmp < 0 ? GTK_ORDERING_SMALLER : cmp > 0 ? GTK_ORDERING_LARGER : GTK_ORDERING_EQUAL;
}

static void
cdl_workers_page_dialog_saved_cb (CdlWorkersPage  *self,
                                  CdlWorker       *worker,
                                  gboolean         created,
                                  CdlWorkerDialog *dialog)
{
  g_autofree char *text = NULL;

  self->loaded = TRUE;
  cdl_workers_page_take_worker (self, worker);

  if (created)
    /* TRANSLATORS: %s is a worker name */
    text = g_strdup_printf (_("Added %s; checking it now"), cdl_worker_get_name (worker));
  else
    /* TRANSLATORS: %s is a worker name */
    text = g_strdup_printf (_("Saved %s"), cdl_worker_get_name (worker));

  cdl_workers_page_toast (self, text);
}

static void
cdl_workers_page_open_dialog (CdlWorkersPage *self,
                              CdlWorker      *worker)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  CdlWorkerDialog *dialog;

  if (self->service == NULL)
    return;

  if (self->dialog != NULL)
    {
      gtk_window_present (self->dialog);
      return;
    }

  dialog = cdl_worker_dialog_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                  self->service, worker);
  g_signal_connect_object (dialog, "saved",
                           G_CALLBACK (cdl_workers_page_dialog_saved_cb), self,
                           G_CONNECT_SWAPPED);

  self->dialog = GTK_WINDOW (dialog);
  g_object_add_weak_pointer (G_OBJECT (dialog), (gpointer *) &self->dialog);

  gtk_window_present (GTK_WINDOW (dialog));
}

static void
cdl_workers_page_add_action (GtkWidget  *widget,
                             const char *action_name,
                             GVariant   *parameter)
{
  cdl_workers_page_add_worker (CDL_WORKERS_PAGE (widget));
}

static void
cdl_workers_page_edit_action (GtkWidget  *widget,
                              const char *action_name,
                              GVariant   *parameter)
{
  CdlWorkersPage *self = CDL_WORKERS_PAGE (widget);
  const char *id = g_variant_get_string (parameter, NULL);
  g_autoptr(CdlWorker) worker = NULL;
  guint position;

  if (!cdl_workers_page_find (self, id, &position))
    return;

  worker = g_list_model_get_item (G_LIST_MODEL (self->store), position);
  cdl_workers_page_edit_worker (self, worker);
}

static void
cdl_workers_page_reload_action (GtkWidget  *widget,
                                const char *action_name,
                                GVariant   *parameter)
{
  cdl_workers_page_reload (CDL_WORKERS_PAGE (widget));
}

static void
cdl_workers_page_dispose (GObject *object)
{
  CdlWorkersPage *self = CDL_WORKERS_PAGE (object);

  g_cancellable_cancel (self->cancellable);

  if (self->dialog != NULL)
    {
      g_object_remove_weak_pointer (G_OBJECT (self->dialog), (gpointer *) &self->dialog);
      gtk_window_destroy (self->dialog);
      self->dialog = NULL;
    }

  gtk_widget_dispose_template (GTK_WIDGET (self), CDL_TYPE_WORKERS_PAGE);

  g_clear_object (&self->service);
  g_clear_object (&self->sorted);
  g_clear_object (&self->store);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (cdl_workers_page_parent_class)->dispose (object);
}

static void
cdl_workers_page_finalize (GObject *object)
{
  CdlWorkersPage *self = CDL_WORKERS_PAGE (object);

  g_clear_pointer (&self->summary, g_free);

  G_OBJECT_CLASS (cdl_workers_page_parent_class)->finalize (object);
}

static void
cdl_workers_page_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  CdlWorkersPage *self = CDL_WORKERS_PAGE (object);

  switch (prop_id)
    {
    case PROP_SUMMARY:
      g_value_set_string (value, self->summary);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdl_workers_page_class_init (CdlWorkersPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = cdl_workers_page_dispose;
  object_class->finalize = cdl_workers_page_finalize;
  object_class->get_property = cdl_workers_page_get_property;

  /**
   * CdlWorkersPage:summary:
   *
   * "3 workers · 2 healthy", or %NULL while there are none.
   */
  properties[PROP_SUMMARY] =
    g_param_spec_string ("summary", NULL, NULL,
                         NULL,
                         (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               RESOURCE_BASE "/ui/cdl-workers-page.ui");
  gtk_widget_class_bind_template_child (widget_class, CdlWorkersPage, stack);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkersPage, spinner);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkersPage, error_page);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkersPage, list_view);

  gtk_widget_class_install_action (widget_class, "workers.add", NULL,
                                   cdl_workers_page_add_action);
  gtk_widget_class_install_action (widget_class, "workers.edit", "s",
                                   cdl_workers_page_edit_action);
  gtk_widget_class_install_action (widget_class, "workers.reload", NULL,
                                   cdl_workers_page_reload_action);
}

static void
cdl_workers_page_init (CdlWorkersPage *self)
{
  g_autoptr(GtkListItemFactory) factory = NULL;
  g_autoptr(GtkSelectionModel) selection = NULL;
  GtkCustomSorter *sorter;

  gtk_widget_init_template (GTK_WIDGET (self));

  self->cancellable = g_cancellable_new ();
  self->store = g_list_store_new (CDL_TYPE_WORKER);
  g_signal_connect_object (self->store, "items-changed",
                           G_CALLBACK (cdl_workers_page_items_changed_cb), self,
                           G_CONNECT_SWAPPED);

  sorter = gtk_custom_sorter_new (cdl_workers_page_compare, NULL, NULL);
  self->sorted = gtk_sort_list_model_new (G_LIST_MODEL (g_object_ref (self->store)),
                                          GTK_SORTER (sorter));
  selection = GTK_SELECTION_MODEL (
    gtk_no_selection_new (G_LIST_MODEL (g_object_ref (self->sorted))));

  factory = gtk_signal_list_item_factory_new ();
  g_signal_connect_object (factory, "setup",
                           G_CALLBACK (cdl_workers_page_setup_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (factory, "bind",
                           G_CALLBACK (cdl_workers_page_bind_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (factory, "unbind",
                           G_CALLBACK (cdl_workers_page_unbind_cb), self,
                           G_CONNECT_SWAPPED);

  gtk_list_view_set_factory (self->list_view, factory);
  gtk_list_view_set_model (self->list_view, selection);

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "workers.add", FALSE);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "workers.reload", FALSE);

  cdl_workers_page_update_view (self);
}

CdlWorkersPage *
cdl_workers_page_new (void)
{
  return g_object_new (CDL_TYPE_WORKERS_PAGE, NULL);
}

void
cdl_workers_page_set_service (CdlWorkersPage   *self,
                              CdlWorkerService *service)
{
  g_return_if_fail (CDL_IS_WORKERS_PAGE (self));
  g_return_if_fail (service == NULL || CDL_IS_WORKER_SERVICE (service));

  if (self->service == service)
    return;

  if (self->service != NULL)
    g_signal_handlers_disconnect_by_func (self->service,
                                          cdl_workers_page_worker_changed_cb,
                                          self);

  g_set_object (&self->service, service);
  self->loaded = FALSE;
  g_list_store_remove_all (self->store);

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "workers.add", service != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "workers.reload", service != NULL);

  if (service == NULL)
    return;

  g_signal_connect_object (service, "worker-changed",
                           G_CALLBACK (cdl_workers_page_worker_changed_cb), self,
                           G_CONNECT_SWAPPED);

  cdl_workers_page_reload (self);
}

CdlWorkerService *
cdl_workers_page_get_service (CdlWorkersPage *self)
{
  g_return_val_if_fail (CDL_IS_WORKERS_PAGE (self), NULL);

  return self->service;
}

GListModel *
cdl_workers_page_get_model (CdlWorkersPage *self)
{
  g_return_val_if_fail (CDL_IS_WORKERS_PAGE (self), NULL);

  return G_LIST_MODEL (self->sorted);
}

void
cdl_workers_page_reload (CdlWorkersPage *self)
{
  g_return_if_fail (CDL_IS_WORKERS_PAGE (self));

  if (self->service == NULL)
    return;

  if (g_list_model_get_n_items (G_LIST_MODEL (self->store)) == 0)
    {
      self->loaded = FALSE;
      gtk_stack_set_visible_child_name (self->stack, "loading");
      cdl_workers_page_update_view (self);
    }

  cdl_worker_service_list_async (self->service,
                                 self->cancellable,
                                 cdl_workers_page_list_cb,
                                 g_object_ref (self));
}

void
cdl_workers_page_add_worker (CdlWorkersPage *self)
{
  g_return_if_fail (CDL_IS_WORKERS_PAGE (self));

  cdl_workers_page_open_dialog (self, NULL);
}

void
cdl_workers_page_edit_worker (CdlWorkersPage *self,
                              CdlWorker      *worker)
{
  g_return_if_fail (CDL_IS_WORKERS_PAGE (self));
  g_return_if_fail (CDL_IS_WORKER (worker));

  cdl_workers_page_open_dialog (self, worker);
}
