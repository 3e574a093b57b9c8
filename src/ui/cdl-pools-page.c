/* cdl-pools-page.c: the variable pools
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-ui"

#include "config.h"

#include <glib/gi18n.h>

#include "ui/cdl-pool-dialog.h"
#include "ui/cdl-pools-page.h"

/* The items shown under the sample; the dialog shows them all. */
#define ITEMS_SHOWN 200

struct _CdlPoolsPage
{
  GtkWidget         parent_instance;

  CdlPoolService   *service;
  GListStore       *store;
  GtkSortListModel *sorted;
  GCancellable     *cancellable;
  GCancellable     *sample_cancellable;
  GtkWindow        *dialog;
  char             *selected_id;
  char             *summary;
  gboolean          loaded;

  /* template */
  GtkStack         *stack;
  GtkSpinner       *spinner;
  AdwStatusPage    *error_page;
  GtkListBox       *list_box;
  GtkLabel         *title_label;
  GtkLabel         *version_badge;
  GtkLabel         *subtitle_label;
  GtkSpinButton    *sample_spin;
  GtkWidget        *sample_button;
  GtkListBox       *sample_list;
  GtkLabel         *items_label;
};

G_DEFINE_FINAL_TYPE (CdlPoolsPage, cdl_pools_page, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_SUMMARY,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void cdl_pools_page_draw (CdlPoolsPage *self,
                                 CdlPool      *pool);

static void
cdl_pools_page_toast (CdlPoolsPage *self,
                      const char   *text)
{
  GtkWidget *overlay = gtk_widget_get_ancestor (GTK_WIDGET (self), ADW_TYPE_TOAST_OVERLAY);

  if (overlay == NULL)
    {
      g_message ("%s", text);
      return;
    }

  adw_toast_overlay_add_toast (ADW_TOAST_OVERLAY (overlay), adw_toast_new (text));
}

static const char *
cdl_pool_mode_title (CdlPoolMode mode)
{
  return mode == CDL_POOL_MODE_PERMUTATION ? _("Permutation") : _("Without replacement");
}

static void
cdl_clear_list_box (GtkListBox *list)
{
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (list))) != NULL)
    gtk_list_box_remove (list, child);
}

static GtkWidget *
cdl_pools_page_create_row (gpointer item,
                           gpointer user_data)
{
  CdlPool *pool = item;
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *badge = gtk_label_new (NULL);
  g_autofree char *subtitle = NULL;
  g_autofree char *version = NULL;
  guint n = cdl_pool_get_n_items (pool);

  /* TRANSLATORS: the sampling mode of a pool, then how many items it has */
  subtitle = g_strdup_printf (ngettext ("%s · %u item", "%s · %u items", n),
                              cdl_pool_mode_title (cdl_pool_get_mode (pool)), n);
  /* TRANSLATORS: a short version number, as in "v2" */
  version = g_strdup_printf (_("v%d"), cdl_pool_get_version (pool));

  gtk_widget_set_name (row, "pool-row");
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), cdl_pool_get_name (pool));
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);

  gtk_label_set_label (GTK_LABEL (badge), version);
  gtk_widget_set_valign (badge, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (badge, "health-badge");
  gtk_widget_add_css_class (badge, "version");
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), badge);

  g_object_set_data_full (G_OBJECT (row), "pool", g_object_ref (pool), g_object_unref);

  return row;
}

static CdlPool *
cdl_row_get_pool (GtkListBoxRow *row)
{
  return row != NULL ? g_object_get_data (G_OBJECT (row), "pool") : NULL;
}

static void
cdl_pools_page_show_pool (CdlPoolsPage *self,
                          CdlPool      *pool)
{
  const CdlPoolData *data = cdl_pool_get_data (pool);
  g_autofree char *version = NULL;
  g_autofree char *subtitle = NULL;
  g_autofree char *date = NULL;
  g_autoptr(GDateTime) local = NULL;
  GString *items = g_string_new (NULL);
  guint n = cdl_pool_get_n_items (pool);

  gtk_label_set_label (self->title_label, data->name);

  /* TRANSLATORS: %d is a version number */
  version = g_strdup_printf (_("Version %d"), data->version);
  gtk_label_set_label (self->version_badge, version);

  if (data->version_created_at != NULL)
    {
      local = g_date_time_to_local (data->version_created_at);
      date = g_date_time_format (local, "%x %H:%M");
    }
  /* TRANSLATORS: the sampling mode, the item count and the date of the version */
  subtitle = g_strdup_printf (ngettext ("%s · %u item · saved %s",
                                        "%s · %u items · saved %s", n),
                              cdl_pool_mode_title (data->mode), n, date != NULL ? date : "");
  gtk_label_set_label (self->subtitle_label, subtitle);

  for (guint i = 0; i < n && i < ITEMS_SHOWN; i++)
    {
      if (i > 0)
        g_string_append_c (items, '\n');
      g_string_append (items, data->items[i]);
    }
  if (n > ITEMS_SHOWN)
    {
      g_string_append (items, "\n");
      /* TRANSLATORS: %u is how many more items the pool has */
      g_string_append_printf (items, ngettext ("… and %u more", "… and %u more",
                                               n - ITEMS_SHOWN),
                              n - ITEMS_SHOWN);
    }
  gtk_label_set_label (self->items_label, items->str);
  g_string_free (items, TRUE);

  g_cancellable_cancel (self->sample_cancellable);
  cdl_clear_list_box (self->sample_list);
  gtk_spin_button_set_range (self->sample_spin, 1, MAX (n, 1));

  /* A first draw, so that the preview is never an empty box. */
  cdl_pools_page_draw (self, pool);
}

static void
cdl_pools_page_row_selected_cb (CdlPoolsPage  *self,
                                GtkListBoxRow *row,
                                GtkListBox    *list)
{
  CdlPool *pool = cdl_row_get_pool (row);

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "pools.edit", pool != NULL);

  if (pool == NULL)
    return;

  g_free (self->selected_id);
  self->selected_id = g_strdup (cdl_pool_get_id (pool));
  cdl_pools_page_show_pool (self, pool);
}

static void
cdl_pools_page_select_id (CdlPoolsPage *self,
                          const char   *id)
{
  GtkListBoxRow *first = gtk_list_box_get_row_at_index (self->list_box, 0);

  for (int i = 0;; i++)
    {
      GtkListBoxRow *row = gtk_list_box_get_row_at_index (self->list_box, i);

      if (row == NULL)
        break;

      if (g_strcmp0 (cdl_pool_get_id (cdl_row_get_pool (row)), id) == 0)
        {
          gtk_list_box_select_row (self->list_box, row);
          return;
        }
    }

  if (first != NULL)
    gtk_list_box_select_row (self->list_box, first);
}

static void
cdl_pools_page_update_summary (CdlPoolsPage *self)
{
  GListModel *model = G_LIST_MODEL (self->store);
  guint n = g_list_model_get_n_items (model);
  g_autofree char *summary = NULL;

  if (n > 0)
    summary = g_strdup_printf (ngettext ("%u pool", "%u pools", n), n);

  if (g_strcmp0 (summary, self->summary) != 0)
    {
      g_free (self->summary);
      self->summary = g_steal_pointer (&summary);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SUMMARY]);
    }
}

static void
cdl_pools_page_items_changed_cb (CdlPoolsPage *self,
                                 guint       position,
                                 guint       removed,
                                 guint       added,
                                 GListModel *model)
{
  cdl_pools_page_update_summary (self);
}

static void
cdl_pools_page_update_view (CdlPoolsPage *self)
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

/* Puts @pool in place of the item with its id, or adds it. */
static void
cdl_pools_page_take (CdlPoolsPage *self,
                     CdlPool      *pool)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->store));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(CdlPool) item = g_list_model_get_item (G_LIST_MODEL (self->store), i);

      if (g_strcmp0 (cdl_pool_get_id (item), cdl_pool_get_id (pool)) == 0)
        {
          g_list_store_splice (self->store, i, 1, (gpointer *) &pool, 1);
          return;
        }
    }

  g_list_store_append (self->store, pool);
}

static void
cdl_pools_page_list_cb (GObject      *object,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  g_autoptr(CdlPoolsPage) self = user_data;
  g_autoptr(GPtrArray) pools = NULL;
  g_autoptr(GError) error = NULL;

  pools = cdl_pool_service_list_finish (CDL_POOL_SERVICE (object), result, &error);

  if (pools == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;

      g_warning ("Could not list the pools: %s", error->message);

      if (g_list_model_get_n_items (G_LIST_MODEL (self->store)) == 0)
        {
          adw_status_page_set_description (self->error_page, error->message);
          gtk_stack_set_visible_child_name (self->stack, "error");
          cdl_pools_page_update_view (self);
        }
      else
        {
          g_autofree char *text = NULL;

          /* TRANSLATORS: %s is the reason */
          text = g_strdup_printf (_("Could not reload the pools: %s"), error->message);
          cdl_pools_page_toast (self, text);
        }
      return;
    }

  self->loaded = TRUE;
  g_list_store_splice (self->store, 0,
                       g_list_model_get_n_items (G_LIST_MODEL (self->store)),
                       pools->pdata, pools->len);
  cdl_pools_page_update_view (self);
  cdl_pools_page_select_id (self, self->selected_id);
}

static void
cdl_pools_page_sample_done_cb (GObject      *object,
                               GAsyncResult *result,
                               gpointer      user_data)
{
  g_autoptr(CdlPoolsPage) self = user_data;
  g_autoptr(CdlPoolSample) sample = NULL;
  g_autoptr(GError) error = NULL;

  sample = cdl_pool_service_sample_finish (CDL_POOL_SERVICE (object), result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  gtk_widget_set_sensitive (self->sample_button, TRUE);
  cdl_clear_list_box (self->sample_list);

  if (sample == NULL)
    {
      GtkWidget *row = adw_action_row_new ();

      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), error->message);
      adw_action_row_set_title_lines (ADW_ACTION_ROW (row), 0);
      gtk_widget_add_css_class (row, "error");
      gtk_list_box_append (self->sample_list, row);
      return;
    }

  for (guint i = 0; sample->items != NULL && sample->items[i] != NULL; i++)
    {
      GtkWidget *row = adw_action_row_new ();
      GtkWidget *number = gtk_label_new (NULL);
      g_autofree char *position = g_strdup_printf ("%u", i + 1);

      gtk_label_set_label (GTK_LABEL (number), position);
      gtk_label_set_width_chars (GTK_LABEL (number), 3);
      gtk_label_set_xalign (GTK_LABEL (number), 1);
      gtk_widget_add_css_class (number, "dim-label");
      gtk_widget_add_css_class (number, "numeric");
      adw_action_row_add_prefix (ADW_ACTION_ROW (row), number);

      gtk_widget_set_name (row, "sample-row");
      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), sample->items[i]);
      adw_action_row_set_title_lines (ADW_ACTION_ROW (row), 0);
      gtk_list_box_append (self->sample_list, row);
    }
}

static void
cdl_pools_page_draw (CdlPoolsPage *self,
                     CdlPool      *pool)
{
  if (pool == NULL || self->service == NULL)
    return;

  g_cancellable_cancel (self->sample_cancellable);
  g_clear_object (&self->sample_cancellable);
  self->sample_cancellable = g_cancellable_new ();

  gtk_widget_set_sensitive (self->sample_button, FALSE);
  cdl_pool_service_sample_async (self->service, cdl_pool_get_id (pool),
                                 cdl_pool_get_version (pool),
                                 (guint) gtk_spin_button_get_value_as_int (self->sample_spin),
                                 FALSE, 0, self->sample_cancellable,
                                 cdl_pools_page_sample_done_cb, g_object_ref (self));
}

static void
cdl_pools_page_sample_cb (CdlPoolsPage *self,
                          GtkButton    *button)
{
  cdl_pools_page_draw (self, cdl_pools_page_get_selected (self));
}

static void
cdl_pools_page_dialog_saved_cb (CdlPoolsPage  *self,
                                CdlPool       *pool,
                                gboolean       created,
                                CdlPoolDialog *dialog)
{
  g_autofree char *text = NULL;

  self->loaded = TRUE;
  cdl_pools_page_take (self, pool);
  cdl_pools_page_update_view (self);
  cdl_pools_page_select_id (self, cdl_pool_get_id (pool));

  if (created)
    /* TRANSLATORS: %s is a pool name */
    text = g_strdup_printf (_("Created the pool %s"), cdl_pool_get_name (pool));
  else
    /* TRANSLATORS: a pool name and its new version */
    text = g_strdup_printf (_("Saved %s as version %d"), cdl_pool_get_name (pool),
                            cdl_pool_get_version (pool));
  cdl_pools_page_toast (self, text);
}

static void
cdl_pools_page_open_dialog (CdlPoolsPage *self,
                            CdlPool      *pool)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  CdlPoolDialog *dialog;

  if (self->service == NULL)
    return;

  if (self->dialog != NULL)
    {
      gtk_window_present (self->dialog);
      return;
    }

  dialog = cdl_pool_dialog_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                self->service, pool);
  g_signal_connect_object (dialog, "saved",
                           G_CALLBACK (cdl_pools_page_dialog_saved_cb), self,
                           G_CONNECT_SWAPPED);

  self->dialog = GTK_WINDOW (dialog);
  g_object_add_weak_pointer (G_OBJECT (dialog), (gpointer *) &self->dialog);

  gtk_window_present (GTK_WINDOW (dialog));
}

static void
cdl_pools_page_pool_changed_cb (CdlPoolsPage   *self,
                                CdlPool        *pool,
                                CdlPoolService *service)
{
  if (!self->loaded)
    return;

  cdl_pools_page_take (self, pool);
  cdl_pools_page_update_view (self);
}

static void
cdl_pools_page_new_action (GtkWidget  *widget,
                           const char *action_name,
                           GVariant   *parameter)
{
  cdl_pools_page_new_pool (CDL_POOLS_PAGE (widget));
}

static void
cdl_pools_page_edit_action (GtkWidget  *widget,
                            const char *action_name,
                            GVariant   *parameter)
{
  CdlPoolsPage *self = CDL_POOLS_PAGE (widget);
  CdlPool *pool = cdl_pools_page_get_selected (self);

  if (pool != NULL)
    cdl_pools_page_edit_pool (self, pool);
}

static void
cdl_pools_page_reload_action (GtkWidget  *widget,
                              const char *action_name,
                              GVariant   *parameter)
{
  cdl_pools_page_reload (CDL_POOLS_PAGE (widget));
}

static int
cdl_pools_page_compare (gconstpointer a,
                        gconstpointer b,
                        gpointer      user_data)
{
  g_autofree char *key_a = g_utf8_casefold (cdl_pool_get_name ((CdlPool *) a), -1);
  g_autofree char *key_b = g_utf8_casefold (cdl_pool_get_name ((CdlPool *) b), -1);
  int cmp = g_utf8_collate (key_a, key_b);

  if (cmp == 0)
    cmp = g_strcmp0 (cdl_pool_get_id ((CdlPool *) a), cdl_pool_get_id ((CdlPool *) b));

  return cmp < 0 ? GTK_ORDERING_SMALLER : cmp > 0 ? GTK_ORDERING_LARGER : GTK_ORDERING_EQUAL;
}

static void
cdl_pools_page_dispose (GObject *object)
{
  CdlPoolsPage *self = CDL_POOLS_PAGE (object);

  g_cancellable_cancel (self->cancellable);
  g_cancellable_cancel (self->sample_cancellable);

  if (self->dialog != NULL)
    {
      g_object_remove_weak_pointer (G_OBJECT (self->dialog), (gpointer *) &self->dialog);
      gtk_window_destroy (self->dialog);
      self->dialog = NULL;
    }

  gtk_widget_dispose_template (GTK_WIDGET (self), CDL_TYPE_POOLS_PAGE);

  g_clear_object (&self->service);
  g_clear_object (&self->sorted);
  g_clear_object (&self->store);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->sample_cancellable);

  G_OBJECT_CLASS (cdl_pools_page_parent_class)->dispose (object);
}

static void
cdl_pools_page_finalize (GObject *object)
{
  CdlPoolsPage *self = CDL_POOLS_PAGE (object);

  g_clear_pointer (&self->selected_id, g_free);

  g_clear_pointer (&self->summary, g_free);

  G_OBJECT_CLASS (cdl_pools_page_parent_class)->finalize (object);
}

static void
cdl_pools_page_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  CdlPoolsPage *self = CDL_POOLS_PAGE (object);

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
cdl_pools_page_class_init (CdlPoolsPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = cdl_pools_page_dispose;
  object_class->finalize = cdl_pools_page_finalize;
  object_class->get_property = cdl_pools_page_get_property;

  /* One line for the window's subtitle, or %NULL while there is nothing. */
  properties[PROP_SUMMARY] =
    g_param_spec_string ("summary", NULL, NULL,
                         NULL,
                         (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               RESOURCE_BASE "/ui/cdl-pools-page.ui");
  gtk_widget_class_bind_template_child (widget_class, CdlPoolsPage, stack);
  gtk_widget_class_bind_template_child (widget_class, CdlPoolsPage, spinner);
  gtk_widget_class_bind_template_child (widget_class, CdlPoolsPage, error_page);
  gtk_widget_class_bind_template_child (widget_class, CdlPoolsPage, list_box);
  gtk_widget_class_bind_template_child (widget_class, CdlPoolsPage, title_label);
  gtk_widget_class_bind_template_child (widget_class, CdlPoolsPage, version_badge);
  gtk_widget_class_bind_template_child (widget_class, CdlPoolsPage, subtitle_label);
  gtk_widget_class_bind_template_child (widget_class, CdlPoolsPage, sample_spin);
  gtk_widget_class_bind_template_child (widget_class, CdlPoolsPage, sample_button);
  gtk_widget_class_bind_template_child (widget_class, CdlPoolsPage, sample_list);
  gtk_widget_class_bind_template_child (widget_class, CdlPoolsPage, items_label);
  gtk_widget_class_bind_template_callback (widget_class, cdl_pools_page_row_selected_cb);
  gtk_widget_class_bind_template_callback (widget_class, cdl_pools_page_sample_cb);

  gtk_widget_class_install_action (widget_class, "pools.new", NULL,
                                   cdl_pools_page_new_action);
  gtk_widget_class_install_action (widget_class, "pools.edit", NULL,
                                   cdl_pools_page_edit_action);
  gtk_widget_class_install_action (widget_class, "pools.reload", NULL,
                                   cdl_pools_page_reload_action);
}

static void
cdl_pools_page_init (CdlPoolsPage *self)
{
  GtkCustomSorter *sorter;

  gtk_widget_init_template (GTK_WIDGET (self));

  self->cancellable = g_cancellable_new ();
  self->store = g_list_store_new (CDL_TYPE_POOL);
  g_signal_connect_object (self->store, "items-changed",
                           G_CALLBACK (cdl_pools_page_items_changed_cb), self,
                           G_CONNECT_SWAPPED);
  sorter = gtk_custom_sorter_new (cdl_pools_page_compare, NULL, NULL);
  self->sorted = gtk_sort_list_model_new (G_LIST_MODEL (g_object_ref (self->store)),
                                          GTK_SORTER (sorter));

  gtk_list_box_bind_model (self->list_box, G_LIST_MODEL (self->sorted),
                           cdl_pools_page_create_row, self, NULL);

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "pools.new", FALSE);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "pools.edit", FALSE);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "pools.reload", FALSE);

  cdl_pools_page_update_view (self);
}

CdlPoolsPage *
cdl_pools_page_new (void)
{
  return g_object_new (CDL_TYPE_POOLS_PAGE, NULL);
}

void
cdl_pools_page_set_service (CdlPoolsPage   *self,
                            CdlPoolService *service)
{
  g_return_if_fail (CDL_IS_POOLS_PAGE (self));
  g_return_if_fail (service == NULL || CDL_IS_POOL_SERVICE (service));

  if (self->service == service)
    return;

  if (self->service != NULL)
    g_signal_handlers_disconnect_by_func (self->service, cdl_pools_page_pool_changed_cb, self);

  g_set_object (&self->service, service);
  self->loaded = FALSE;
  g_list_store_remove_all (self->store);

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "pools.new", service != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "pools.reload", service != NULL);

  if (service == NULL)
    return;

  g_signal_connect_object (service, "pool-changed",
                           G_CALLBACK (cdl_pools_page_pool_changed_cb), self,
                           G_CONNECT_SWAPPED);

  cdl_pools_page_reload (self);
}

GListModel *
cdl_pools_page_get_model (CdlPoolsPage *self)
{
  g_return_val_if_fail (CDL_IS_POOLS_PAGE (self), NULL);

  return G_LIST_MODEL (self->sorted);
}

CdlPool *
cdl_pools_page_get_selected (CdlPoolsPage *self)
{
  g_return_val_if_fail (CDL_IS_POOLS_PAGE (self), NULL);

  return cdl_row_get_pool (gtk_list_box_get_selected_row (self->list_box));
}

void
cdl_pools_page_reload (CdlPoolsPage *self)
{
  g_return_if_fail (CDL_IS_POOLS_PAGE (self));

  if (self->service == NULL)
    return;

  if (g_list_model_get_n_items (G_LIST_MODEL (self->store)) == 0)
    {
      self->loaded = FALSE;
      gtk_stack_set_visible_child_name (self->stack, "loading");
      cdl_pools_page_update_view (self);
    }

  cdl_pool_service_list_async (self->service, self->cancellable,
                               cdl_pools_page_list_cb, g_object_ref (self));
}

void
cdl_pools_page_new_pool (CdlPoolsPage *self)
{
  g_return_if_fail (CDL_IS_POOLS_PAGE (self));

  cdl_pools_page_open_dialog (self, NULL);
}

void
cdl_pools_page_edit_pool (CdlPoolsPage *self,
                          CdlPool      *pool)
{
  g_return_if_fail (CDL_IS_POOLS_PAGE (self));
  g_return_if_fail (CDL_IS_POOL (pool));

  cdl_pools_page_open_dialog (self, pool);
}
