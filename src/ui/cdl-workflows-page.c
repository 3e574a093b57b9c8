/* cdl-workflows-page.c: uploaded workflows and their validation reports
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-ui"

#include "config.h"

#include <string.h>
#include <glib/gi18n.h>

#include "ui/cdl-workflows-page.h"

struct _CdlWorkflowsPage
{
  GtkWidget           parent_instance;

  CdlWorkflowService *service;
  CdlWorkerService   *workers;
  /* Worker id → name, for the runnable workers of a report. */
  GHashTable         *worker_names;
  GListStore         *store;
  GtkSortListModel   *sorted;
  GCancellable       *cancellable;
  GtkNativeDialog    *chooser;
  char               *selected_id;
  char               *summary;
  gboolean            loaded;

  /* template */
  GtkStack           *stack;
  GtkSpinner         *spinner;
  AdwStatusPage      *error_page;
  GtkListBox         *list_box;
  GtkLabel           *title_label;
  GtkLabel           *valid_badge;
  GtkLabel           *subtitle_label;
  GtkListBox         *problems_list;
  AdwActionRow       *model_row;
  AdwActionRow       *size_row;
  AdwActionRow       *prompt_row;
  AdwActionRow       *seed_row;
  AdwActionRow       *batch_row;
  AdwActionRow       *workers_row;
  GtkWidget          *template_group;
  GtkLabel           *template_label;
};

G_DEFINE_FINAL_TYPE (CdlWorkflowsPage, cdl_workflows_page, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_SUMMARY,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
cdl_workflows_page_toast (CdlWorkflowsPage *self,
                          const char       *text)
{
  GtkWidget *overlay = gtk_widget_get_ancestor (GTK_WIDGET (self), ADW_TYPE_TOAST_OVERLAY);

  if (overlay == NULL)
    {
      g_message ("%s", text);
      return;
    }

  adw_toast_overlay_add_toast (ADW_TOAST_OVERLAY (overlay), adw_toast_new (text));
}

static char *
cdl_format_date (GDateTime *when)
{
  g_autoptr(GDateTime) local = NULL;

  if (when == NULL)
    return g_strdup ("");

  local = g_date_time_to_local (when);

  return g_date_time_format (local, "%x %H:%M");
}

/* "sd15.safetensors\n512×512 · batch 1 · 12/03/26 13:52" with whatever is
 * known. */
static char *
cdl_workflow_describe (CdlWorkflow *workflow)
{
  const CdlWorkflowData *data = cdl_workflow_get_data (workflow);
  g_autofree char *date = cdl_format_date (data->created_at);
  GString *text = g_string_new (NULL);

  if (data->model != NULL)
    g_string_append_printf (text, "%s\n", data->model);
  if (data->width > 0 && data->height > 0)
    g_string_append_printf (text, "%d×%d · ", data->width, data->height);
  if (data->batch_size > 0)
    {
      /* TRANSLATORS: the latent batch size of a workflow */
      g_string_append_printf (text, _("batch %d"), data->batch_size);
      g_string_append (text, " · ");
    }
  g_string_append (text, date);

  return g_string_free (text, FALSE);
}

static void
cdl_set_badge (GtkLabel   *badge,
               const char *text,
               const char *css_class)
{
  static const char * const classes[] = { "healthy", "unhealthy", "checking", "disabled" };

  gtk_label_set_label (badge, text);
  for (guint i = 0; i < G_N_ELEMENTS (classes); i++)
    {
      if (g_strcmp0 (classes[i], css_class) == 0)
        gtk_widget_add_css_class (GTK_WIDGET (badge), classes[i]);
      else
        gtk_widget_remove_css_class (GTK_WIDGET (badge), classes[i]);
    }
}

static void
cdl_clear_list_box (GtkListBox *list)
{
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (list))) != NULL)
    gtk_list_box_remove (list, child);
}

static GtkWidget *
cdl_workflows_page_create_row (gpointer item,
                               gpointer user_data)
{
  CdlWorkflow *workflow = item;
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *badge = gtk_label_new (NULL);
  g_autofree char *title = NULL;
  g_autofree char *subtitle = NULL;

  /* TRANSLATORS: %d is a workflow version number */
  title = g_strdup_printf (_("Version %d"), cdl_workflow_get_version (workflow));
  subtitle = cdl_workflow_describe (workflow);

  gtk_widget_set_name (row, "workflow-row");
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  adw_action_row_set_subtitle_lines (ADW_ACTION_ROW (row), 2);

  gtk_widget_set_name (badge, "validation-badge");
  gtk_widget_set_valign (badge, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (badge, "health-badge");
  if (cdl_workflow_get_valid (workflow))
    cdl_set_badge (GTK_LABEL (badge), _("Valid"), "healthy");
  else
    cdl_set_badge (GTK_LABEL (badge), _("Invalid"), "unhealthy");
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), badge);

  g_object_set_data_full (G_OBJECT (row), "workflow", g_object_ref (workflow), g_object_unref);

  return row;
}

static CdlWorkflow *
cdl_row_get_workflow (GtkListBoxRow *row)
{
  return row != NULL ? g_object_get_data (G_OBJECT (row), "workflow") : NULL;
}

/* A header with the name above the first version of each workflow. */
static void
cdl_workflows_page_header_cb (GtkListBoxRow *row,
                              GtkListBoxRow *before,
                              gpointer       user_data)
{
  CdlWorkflow *workflow = cdl_row_get_workflow (row);
  CdlWorkflow *previous = cdl_row_get_workflow (before);
  GtkWidget *header;

  if (previous != NULL &&
      g_strcmp0 (cdl_workflow_get_name (previous), cdl_workflow_get_name (workflow)) == 0)
    {
      gtk_list_box_row_set_header (row, NULL);
      return;
    }

  header = gtk_label_new (cdl_workflow_get_name (workflow));
  gtk_label_set_xalign (GTK_LABEL (header), 0);
  gtk_label_set_ellipsize (GTK_LABEL (header), PANGO_ELLIPSIZE_END);
  gtk_widget_add_css_class (header, "heading");
  gtk_widget_add_css_class (header, "list-header");
  gtk_list_box_row_set_header (row, header);
}

static void
cdl_workflows_page_add_problem (CdlWorkflowsPage         *self,
                                const CdlWorkflowProblem *problem)
{
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *icon = gtk_image_new_from_icon_name ("dialog-warning-symbolic");
  g_autofree char *where = NULL;

  if (problem->node_id != NULL && problem->class_type != NULL)
    /* TRANSLATORS: a node of a workflow graph: its id, then its class type */
    where = g_strdup_printf (_("Node %s · %s"), problem->node_id, problem->class_type);
  else if (problem->node_id != NULL)
    /* TRANSLATORS: %s is the id of a node of a workflow graph */
    where = g_strdup_printf (_("Node %s"), problem->node_id);
  else
    where = g_strdup (_("Whole graph"));

  gtk_widget_set_name (row, "problem-row");
  gtk_widget_add_css_class (icon, "error");
  adw_action_row_add_prefix (ADW_ACTION_ROW (row), icon);
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), problem->message);
  adw_action_row_set_title_lines (ADW_ACTION_ROW (row), 0);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), where);
  gtk_widget_set_tooltip_text (row, problem->code);
  gtk_list_box_append (self->problems_list, row);
}

static char *
cdl_join_prompt_nodes (GPtrArray *nodes)
{
  GString *text = g_string_new (NULL);

  for (guint i = 0; nodes != NULL && i < nodes->len; i++)
    {
      const CdlPromptNode *node = g_ptr_array_index (nodes, i);

      if (text->len > 0)
        g_string_append (text, "\n");
      /* TRANSLATORS: a prompt node: its id, class type and role (positive or negative) */
      g_string_append_printf (text, _("%s · %s · %s"), node->node_id, node->class_type,
                              node->role == CDL_PROMPT_ROLE_POSITIVE ? _("positive")
                                                                      : _("negative"));
    }

  if (text->len == 0)
    g_string_append (text, _("None found"));

  return g_string_free (text, FALSE);
}

static char *
cdl_join_seed_nodes (GPtrArray *nodes)
{
  GString *text = g_string_new (NULL);

  for (guint i = 0; nodes != NULL && i < nodes->len; i++)
    {
      const CdlSeedNode *node = g_ptr_array_index (nodes, i);

      if (text->len > 0)
        g_string_append (text, "\n");
      g_string_append_printf (text, "%s · %s · %s", node->node_id, node->class_type, node->input);
    }

  if (text->len == 0)
    g_string_append (text, _("None found"));

  return g_string_free (text, FALSE);
}

static const char *
cdl_workflow_positive_text (const CdlWorkflowData *data)
{
  for (guint i = 0; data->prompt_nodes != NULL && i < data->prompt_nodes->len; i++)
    {
      const CdlPromptNode *node = g_ptr_array_index (data->prompt_nodes, i);

      if (node->role == CDL_PROMPT_ROLE_POSITIVE && node->text != NULL)
        return node->text;
    }

  return NULL;
}

static void
cdl_workflows_page_show_report (CdlWorkflowsPage *self,
                                CdlWorkflow      *workflow)
{
  const CdlWorkflowData *data;
  g_autofree char *title = NULL;
  g_autofree char *subtitle = NULL;
  g_autofree char *date = NULL;
  g_autofree char *size = NULL;
  g_autofree char *prompts = NULL;
  g_autofree char *seeds = NULL;
  GString *workers = NULL;
  const char *positive;

  cdl_clear_list_box (self->problems_list);

  if (workflow == NULL)
    return;

  data = cdl_workflow_get_data (workflow);

  /* TRANSLATORS: a workflow name and its version number */
  title = g_strdup_printf (_("%s, version %d"), data->name, data->version);
  gtk_label_set_label (self->title_label, title);

  date = cdl_format_date (data->created_at);
  if (data->description != NULL && *data->description != '\0')
    /* TRANSLATORS: a description, then the upload date */
    subtitle = g_strdup_printf (_("%s · uploaded %s"), data->description, date);
  else
    /* TRANSLATORS: %s is the upload date */
    subtitle = g_strdup_printf (_("Uploaded %s"), date);
  gtk_label_set_label (self->subtitle_label, subtitle);

  if (data->valid)
    cdl_set_badge (self->valid_badge, _("Valid"), "healthy");
  else
    cdl_set_badge (self->valid_badge, _("Invalid"), "unhealthy");

  for (guint i = 0; data->problems != NULL && i < data->problems->len; i++)
    cdl_workflows_page_add_problem (self, g_ptr_array_index (data->problems, i));

  if (data->problems == NULL || data->problems->len == 0)
    {
      GtkWidget *row = adw_action_row_new ();
      GtkWidget *icon = gtk_image_new_from_icon_name ("emblem-ok-symbolic");
      g_autofree char *checked = NULL;

      gtk_widget_add_css_class (icon, "success");
      adw_action_row_add_prefix (ADW_ACTION_ROW (row), icon);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), _("No problems found"));
      /* TRANSLATORS: %d is the batch size limit */
      checked = g_strdup_printf (_("Checked against a batch limit of %d"),
                                 data->max_batch_size);
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), checked);
      gtk_list_box_append (self->problems_list, row);
    }

  adw_action_row_set_subtitle (self->model_row, data->model != NULL ? data->model : _("Unknown"));

  if (data->width > 0 && data->height > 0)
    /* TRANSLATORS: width × height, then the latent batch size */
    size = g_strdup_printf (_("%d×%d · batch %d"), data->width, data->height,
                            MAX (data->batch_size, 1));
  else
    size = g_strdup (_("Unknown"));
  adw_action_row_set_subtitle (self->size_row, size);

  prompts = cdl_join_prompt_nodes (data->prompt_nodes);
  adw_action_row_set_subtitle (self->prompt_row, prompts);
  seeds = cdl_join_seed_nodes (data->seed_nodes);
  adw_action_row_set_subtitle (self->seed_row, seeds);
  adw_action_row_set_subtitle (self->batch_row,
                               data->has_latent_batch_seed
                                 ? _("Present: each image of a batch gets its own seed")
                                 : _("Absent: a batch shares one seed, told apart by its index"));

  workers = g_string_new (NULL);
  for (guint i = 0; data->runnable_worker_ids != NULL && data->runnable_worker_ids[i]; i++)
    {
      const char *id = data->runnable_worker_ids[i];
      const char *name = g_hash_table_lookup (self->worker_names, id);

      if (workers->len > 0)
        g_string_append (workers, ", ");
      g_string_append (workers, name != NULL ? name : id);
    }
  if (workers->len == 0)
    g_string_append (workers, _("No healthy worker has every node type"));
  adw_action_row_set_subtitle (self->workers_row, workers->str);
  g_string_free (workers, TRUE);

  positive = cdl_workflow_positive_text (data);
  gtk_widget_set_visible (self->template_group, positive != NULL);
  gtk_label_set_label (self->template_label, positive != NULL ? positive : "");
}

static void
cdl_workflows_page_row_selected_cb (CdlWorkflowsPage *self,
                                    GtkListBoxRow    *row,
                                    GtkListBox       *list)
{
  CdlWorkflow *workflow = cdl_row_get_workflow (row);

  if (workflow == NULL)
    return;

  g_free (self->selected_id);
  self->selected_id = g_strdup (cdl_workflow_get_id (workflow));
  cdl_workflows_page_show_report (self, workflow);
}

static void
cdl_workflows_page_select_id (CdlWorkflowsPage *self,
                              const char       *id)
{
  GtkListBoxRow *first = gtk_list_box_get_row_at_index (self->list_box, 0);

  for (int i = 0;; i++)
    {
      GtkListBoxRow *row = gtk_list_box_get_row_at_index (self->list_box, i);

      if (row == NULL)
        break;

      if (g_strcmp0 (cdl_workflow_get_id (cdl_row_get_workflow (row)), id) == 0)
        {
          gtk_list_box_select_row (self->list_box, row);
          return;
        }
    }

  if (first != NULL)
    gtk_list_box_select_row (self->list_box, first);
}

static void
cdl_workflows_page_update_summary (CdlWorkflowsPage *self)
{
  GListModel *model = G_LIST_MODEL (self->store);
  guint n = g_list_model_get_n_items (model);
  g_autofree char *summary = NULL;

  if (n > 0)
    {
      g_autofree char *count = NULL;
      guint valid = 0;

      for (guint i = 0; i < n; i++)
        {
          g_autoptr(CdlWorkflow) workflow = g_list_model_get_item (model, i);

          if (cdl_workflow_get_valid (workflow))
            valid++;
        }

      count = g_strdup_printf (ngettext ("%u version", "%u versions", n), n);
      /* TRANSLATORS: the first %s is "N versions"; then how many are valid */
      summary = g_strdup_printf (_("%s · %u valid"), count, valid);
    }

  if (g_strcmp0 (summary, self->summary) != 0)
    {
      g_free (self->summary);
      self->summary = g_steal_pointer (&summary);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SUMMARY]);
    }
}

static void
cdl_workflows_page_items_changed_cb (CdlWorkflowsPage *self,
                                     guint             position,
                                     guint             removed,
                                     guint             added,
                                     GListModel       *model)
{
  cdl_workflows_page_update_summary (self);
}

static void
cdl_workflows_page_update_view (CdlWorkflowsPage *self)
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
cdl_workflows_page_take (CdlWorkflowsPage *self,
                         CdlWorkflow      *workflow)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->store));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(CdlWorkflow) item = g_list_model_get_item (G_LIST_MODEL (self->store), i);

      if (g_strcmp0 (cdl_workflow_get_id (item), cdl_workflow_get_id (workflow)) == 0)
        {
          g_list_store_splice (self->store, i, 1, (gpointer *) &workflow, 1);
          return;
        }
    }

  g_list_store_append (self->store, workflow);
}

static void
cdl_workflows_page_list_cb (GObject      *object,
                            GAsyncResult *result,
                            gpointer      user_data)
{
  g_autoptr(CdlWorkflowsPage) self = user_data;
  g_autoptr(GPtrArray) workflows = NULL;
  g_autoptr(GError) error = NULL;

  workflows = cdl_workflow_service_list_finish (CDL_WORKFLOW_SERVICE (object), result, &error);

  if (workflows == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;

      g_warning ("Could not list the workflows: %s", error->message);

      if (g_list_model_get_n_items (G_LIST_MODEL (self->store)) == 0)
        {
          adw_status_page_set_description (self->error_page, error->message);
          gtk_stack_set_visible_child_name (self->stack, "error");
          cdl_workflows_page_update_view (self);
        }
      else
        {
          g_autofree char *text = NULL;

          /* TRANSLATORS: %s is the reason */
          text = g_strdup_printf (_("Could not reload the workflows: %s"), error->message);
          cdl_workflows_page_toast (self, text);
        }
      return;
    }

  self->loaded = TRUE;
  g_list_store_splice (self->store, 0,
                       g_list_model_get_n_items (G_LIST_MODEL (self->store)),
                       workflows->pdata, workflows->len);
  cdl_workflows_page_update_view (self);
  cdl_workflows_page_select_id (self, self->selected_id);
}

static void
cdl_workflows_page_workers_cb (GObject      *object,
                               GAsyncResult *result,
                               gpointer      user_data)
{
  g_autoptr(CdlWorkflowsPage) self = user_data;
  g_autoptr(GPtrArray) workers = NULL;
  g_autoptr(GError) error = NULL;
  GtkListBoxRow *row;

  workers = cdl_worker_service_list_finish (CDL_WORKER_SERVICE (object), result, &error);
  if (workers == NULL)
    {
      /* The report shows ids instead of names; nothing else needs them. */
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("Could not list the workers: %s", error->message);
      return;
    }

  g_hash_table_remove_all (self->worker_names);
  for (guint i = 0; i < workers->len; i++)
    {
      CdlWorker *worker = g_ptr_array_index (workers, i);

      g_hash_table_insert (self->worker_names,
                           g_strdup (cdl_worker_get_id (worker)),
                           g_strdup (cdl_worker_get_name (worker)));
    }

  row = gtk_list_box_get_selected_row (self->list_box);
  if (row != NULL)
    cdl_workflows_page_show_report (self, cdl_row_get_workflow (row));
}

/* Uploading */

typedef struct
{
  CdlWorkflowsPage *page;
  GBytes           *bytes;
  GtkWidget        *entry;
} Upload;

static void
upload_free (Upload *upload)
{
  g_clear_object (&upload->page);
  g_clear_pointer (&upload->bytes, g_bytes_unref);
  g_free (upload);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Upload, upload_free)

static void
cdl_workflows_page_upload_cb (GObject      *object,
                              GAsyncResult *result,
                              gpointer      user_data)
{
  g_autoptr(CdlWorkflowsPage) self = user_data;
  g_autoptr(CdlWorkflow) workflow = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  const CdlWorkflowData *data;

  workflow = cdl_workflow_service_upload_finish (CDL_WORKFLOW_SERVICE (object), result, &error);

  if (workflow == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;

      /* TRANSLATORS: %s is the reason */
      text = g_strdup_printf (_("Could not upload the workflow: %s"), error->message);
      cdl_workflows_page_toast (self, text);
      return;
    }

  data = cdl_workflow_get_data (workflow);
  self->loaded = TRUE;
  cdl_workflows_page_take (self, workflow);
  cdl_workflows_page_update_view (self);
  cdl_workflows_page_select_id (self, cdl_workflow_get_id (workflow));

  if (data->valid)
    /* TRANSLATORS: a workflow name and its new version number */
    text = g_strdup_printf (_("Uploaded %s, version %d"), data->name, data->version);
  else
    text = g_strdup_printf (ngettext ("Uploaded %s, version %d, with %u problem",
                                      "Uploaded %s, version %d, with %u problems",
                                      data->problems->len),
                            data->name, data->version, data->problems->len);
  cdl_workflows_page_toast (self, text);
}

static void
cdl_workflows_page_name_response_cb (AdwMessageDialog *dialog,
                                     const char       *response,
                                     gpointer          user_data)
{
  g_autoptr(Upload) upload = user_data;
  CdlWorkflowsPage *self = upload->page;
  g_autofree char *name = NULL;

  if (g_strcmp0 (response, "upload") != 0 || self->service == NULL)
    return;

  name = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (upload->entry))));
  cdl_workflow_service_upload_async (self->service, name, NULL, upload->bytes, NULL,
                                     self->cancellable,
                                     cdl_workflows_page_upload_cb, g_object_ref (self));
}

static void
cdl_workflows_page_name_changed_cb (GtkEditable      *entry,
                                    AdwMessageDialog *dialog)
{
  g_autofree char *name = g_strstrip (g_strdup (gtk_editable_get_text (entry)));

  adw_message_dialog_set_response_enabled (dialog, "upload", *name != '\0');
}

/* "sd15_api.json" → "sd15_api" */
static char *
cdl_name_from_file (GFile *file)
{
  g_autofree char *base = g_file_get_basename (file);
  char *dot;

  if (base == NULL)
    return g_strdup ("");

  dot = strrchr (base, '.');
  if (dot != NULL && dot != base)
    *dot = '\0';

  return g_steal_pointer (&base);
}

static void
cdl_workflows_page_ask_name (CdlWorkflowsPage *self,
                             GFile            *file,
                             GBytes           *bytes)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  g_autofree char *name = cdl_name_from_file (file);
  g_autofree char *base = g_file_get_basename (file);
  g_autofree char *body = NULL;
  GtkWidget *dialog;
  Upload *upload;

  /* TRANSLATORS: %s is a file name */
  body = g_strdup_printf (_("%s is validated against the generation limits and the node types "
                            "of the healthy workers, then kept as a new version of the "
                            "workflow with this name."), base);
  dialog = adw_message_dialog_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                   _("Upload Workflow"), body);
  gtk_widget_set_name (dialog, "upload-name-dialog");

  upload = g_new0 (Upload, 1);
  upload->page = g_object_ref (self);
  upload->bytes = g_bytes_ref (bytes);
  upload->entry = gtk_entry_new ();
  gtk_widget_set_name (upload->entry, "workflow-name-entry");
  gtk_editable_set_text (GTK_EDITABLE (upload->entry), name);
  gtk_entry_set_activates_default (GTK_ENTRY (upload->entry), TRUE);
  gtk_entry_set_placeholder_text (GTK_ENTRY (upload->entry), _("Workflow name"));
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), upload->entry);

  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "upload", _("_Upload"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "upload",
                                              ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "upload");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  adw_message_dialog_set_response_enabled (ADW_MESSAGE_DIALOG (dialog), "upload",
                                           *name != '\0');

  g_signal_connect_object (upload->entry, "changed",
                           G_CALLBACK (cdl_workflows_page_name_changed_cb), dialog, 0);
  g_signal_connect (dialog, "response",
                    G_CALLBACK (cdl_workflows_page_name_response_cb), upload);

  gtk_window_present (GTK_WINDOW (dialog));
  gtk_widget_grab_focus (upload->entry);
}

typedef struct
{
  CdlWorkflowsPage *page;
  GFile            *file;
} FileLoad;

static void
cdl_workflows_page_loaded_cb (GObject      *object,
                              GAsyncResult *result,
                              gpointer      user_data)
{
  FileLoad *load = user_data;
  g_autoptr(CdlWorkflowsPage) self = load->page;
  g_autoptr(GFile) file = load->file;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;

  g_free (load);

  bytes = g_file_load_bytes_finish (G_FILE (object), result, NULL, &error);
  if (bytes == NULL)
    {
      g_autofree char *text = NULL;

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;

      /* TRANSLATORS: %s is the reason */
      text = g_strdup_printf (_("Could not read the file: %s"), error->message);
      cdl_workflows_page_toast (self, text);
      return;
    }

  if (g_bytes_get_size (bytes) > CDL_WORKFLOW_MAX_BYTES)
    {
      cdl_workflows_page_toast (self, _("The file is too large for a workflow"));
      return;
    }

  cdl_workflows_page_ask_name (self, file, bytes);
}

static void
cdl_workflows_page_chooser_cb (CdlWorkflowsPage     *self,
                               int                   response,
                               GtkFileChooserNative *chooser)
{
  g_autoptr(GFile) file = NULL;

  if (response == GTK_RESPONSE_ACCEPT)
    file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));

  g_clear_object (&self->chooser);

  if (file != NULL)
    cdl_workflows_page_open_file (self, file);
}

static gboolean
cdl_workflows_page_drop_cb (CdlWorkflowsPage *self,
                            const GValue     *value,
                            double            x,
                            double            y,
                            GtkDropTarget    *target)
{
  GSList *files;

  if (!G_VALUE_HOLDS (value, GDK_TYPE_FILE_LIST) || self->service == NULL)
    return FALSE;

  files = gdk_file_list_get_files (g_value_get_boxed (value));
  if (files == NULL)
    return FALSE;

  cdl_workflows_page_open_file (self, files->data);
  g_slist_free (files);

  return TRUE;
}

static void
cdl_workflows_page_upload_action (GtkWidget  *widget,
                                  const char *action_name,
                                  GVariant   *parameter)
{
  cdl_workflows_page_upload (CDL_WORKFLOWS_PAGE (widget));
}

static void
cdl_workflows_page_reload_action (GtkWidget  *widget,
                                  const char *action_name,
                                  GVariant   *parameter)
{
  cdl_workflows_page_reload (CDL_WORKFLOWS_PAGE (widget));
}

static int
cdl_workflows_page_compare (gconstpointer a,
                            gconstpointer b,
                            gpointer      user_data)
{
  CdlWorkflow *wa = (CdlWorkflow *) a;
  CdlWorkflow *wb = (CdlWorkflow *) b;
  g_autofree char *key_a = g_utf8_casefold (cdl_workflow_get_name (wa), -1);
  g_autofree char *key_b = g_utf8_casefold (cdl_workflow_get_name (wb), -1);
  int cmp = g_utf8_collate (key_a, key_b);

  if (cmp == 0)
    cmp = g_strcmp0 (cdl_workflow_get_name (wa), cdl_workflow_get_name (wb));
  if (cmp == 0)
    /* The newest version first. */
    cmp = cdl_workflow_get_version (wb) - cdl_workflow_get_version (wa);

  return cmp < 0 ? GTK_ORDERING_SMALLER : cmp > 0 ? GTK_ORDERING_LARGER : GTK_ORDERING_EQUAL;
}

static void
cdl_workflows_page_dispose (GObject *object)
{
  CdlWorkflowsPage *self = CDL_WORKFLOWS_PAGE (object);

  g_cancellable_cancel (self->cancellable);

  if (self->chooser != NULL)
    gtk_native_dialog_destroy (self->chooser);
  g_clear_object (&self->chooser);

  gtk_widget_dispose_template (GTK_WIDGET (self), CDL_TYPE_WORKFLOWS_PAGE);

  g_clear_object (&self->service);
  g_clear_object (&self->workers);
  g_clear_object (&self->sorted);
  g_clear_object (&self->store);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (cdl_workflows_page_parent_class)->dispose (object);
}

static void
cdl_workflows_page_finalize (GObject *object)
{
  CdlWorkflowsPage *self = CDL_WORKFLOWS_PAGE (object);

  g_clear_pointer (&self->worker_names, g_hash_table_unref);
  g_clear_pointer (&self->selected_id, g_free);

  g_clear_pointer (&self->summary, g_free);

  G_OBJECT_CLASS (cdl_workflows_page_parent_class)->finalize (object);
}

static void
cdl_workflows_page_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  CdlWorkflowsPage *self = CDL_WORKFLOWS_PAGE (object);

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
cdl_workflows_page_class_init (CdlWorkflowsPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = cdl_workflows_page_dispose;
  object_class->finalize = cdl_workflows_page_finalize;
  object_class->get_property = cdl_workflows_page_get_property;

  /* One line for the window's subtitle, or %NULL while there is nothing. */
  properties[PROP_SUMMARY] =
    g_param_spec_string ("summary", NULL, NULL,
                         NULL,
                         (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               RESOURCE_BASE "/ui/cdl-workflows-page.ui");
  gtk_widget_class_bind_template_child (widget_class, CdlWorkflowsPage, stack);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkflowsPage, spinner);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkflowsPage, error_page);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkflowsPage, list_box);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkflowsPage, title_label);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkflowsPage, valid_badge);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkflowsPage, subtitle_label);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkflowsPage, problems_list);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkflowsPage, model_row);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkflowsPage, size_row);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkflowsPage, prompt_row);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkflowsPage, seed_row);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkflowsPage, batch_row);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkflowsPage, workers_row);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkflowsPage, template_group);
  gtk_widget_class_bind_template_child (widget_class, CdlWorkflowsPage, template_label);
  gtk_widget_class_bind_template_callback (widget_class, cdl_workflows_page_row_selected_cb);

  gtk_widget_class_install_action (widget_class, "workflows.upload", NULL,
                                   cdl_workflows_page_upload_action);
  gtk_widget_class_install_action (widget_class, "workflows.reload", NULL,
                                   cdl_workflows_page_reload_action);
}

static void
cdl_workflows_page_init (CdlWorkflowsPage *self)
{
  GtkDropTarget *target;
  GtkCustomSorter *sorter;

  gtk_widget_init_template (GTK_WIDGET (self));

  self->cancellable = g_cancellable_new ();
  self->worker_names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->store = g_list_store_new (CDL_TYPE_WORKFLOW);
  g_signal_connect_object (self->store, "items-changed",
                           G_CALLBACK (cdl_workflows_page_items_changed_cb), self,
                           G_CONNECT_SWAPPED);
  sorter = gtk_custom_sorter_new (cdl_workflows_page_compare, NULL, NULL);
  self->sorted = gtk_sort_list_model_new (G_LIST_MODEL (g_object_ref (self->store)),
                                          GTK_SORTER (sorter));

  gtk_list_box_bind_model (self->list_box, G_LIST_MODEL (self->sorted),
                           cdl_workflows_page_create_row, self, NULL);
  gtk_list_box_set_header_func (self->list_box, cdl_workflows_page_header_cb, NULL, NULL);

  target = gtk_drop_target_new (GDK_TYPE_FILE_LIST, GDK_ACTION_COPY);
  g_signal_connect_object (target, "drop",
                           G_CALLBACK (cdl_workflows_page_drop_cb), self,
                           G_CONNECT_SWAPPED);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (target));

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "workflows.upload", FALSE);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "workflows.reload", FALSE);

  cdl_workflows_page_update_view (self);
}

CdlWorkflowsPage *
cdl_workflows_page_new (void)
{
  return g_object_new (CDL_TYPE_WORKFLOWS_PAGE, NULL);
}

static void
cdl_workflows_page_added_cb (CdlWorkflowsPage   *self,
                             CdlWorkflow        *workflow,
                             CdlWorkflowService *service)
{
  if (!self->loaded)
    return;

  cdl_workflows_page_take (self, workflow);
  cdl_workflows_page_update_view (self);
}

void
cdl_workflows_page_set_services (CdlWorkflowsPage   *self,
                                 CdlWorkflowService *service,
                                 CdlWorkerService   *workers)
{
  g_return_if_fail (CDL_IS_WORKFLOWS_PAGE (self));
  g_return_if_fail (service == NULL || CDL_IS_WORKFLOW_SERVICE (service));
  g_return_if_fail (workers == NULL || CDL_IS_WORKER_SERVICE (workers));

  if (self->service == service && self->workers == workers)
    return;

  if (self->service != NULL)
    g_signal_handlers_disconnect_by_func (self->service, cdl_workflows_page_added_cb, self);

  g_set_object (&self->service, service);
  g_set_object (&self->workers, workers);
  self->loaded = FALSE;
  g_list_store_remove_all (self->store);

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "workflows.upload", service != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "workflows.reload", service != NULL);

  if (service == NULL)
    return;

  g_signal_connect_object (service, "workflow-added",
                           G_CALLBACK (cdl_workflows_page_added_cb), self,
                           G_CONNECT_SWAPPED);

  cdl_workflows_page_reload (self);
}

GListModel *
cdl_workflows_page_get_model (CdlWorkflowsPage *self)
{
  g_return_val_if_fail (CDL_IS_WORKFLOWS_PAGE (self), NULL);

  return G_LIST_MODEL (self->sorted);
}

CdlWorkflow *
cdl_workflows_page_get_selected (CdlWorkflowsPage *self)
{
  g_return_val_if_fail (CDL_IS_WORKFLOWS_PAGE (self), NULL);

  return cdl_row_get_workflow (gtk_list_box_get_selected_row (self->list_box));
}

void
cdl_workflows_page_reload (CdlWorkflowsPage *self)
{
  g_return_if_fail (CDL_IS_WORKFLOWS_PAGE (self));

  if (self->service == NULL)
    return;

  if (g_list_model_get_n_items (G_LIST_MODEL (self->store)) == 0)
    {
      self->loaded = FALSE;
      gtk_stack_set_visible_child_name (self->stack, "loading");
      cdl_workflows_page_update_view (self);
    }

  cdl_workflow_service_list_async (self->service, self->cancellable,
                                   cdl_workflows_page_list_cb, g_object_ref (self));

  if (self->workers != NULL)
    cdl_worker_service_list_async (self->workers, self->cancellable,
                                   cdl_workflows_page_workers_cb, g_object_ref (self));
}

void
cdl_workflows_page_upload (CdlWorkflowsPage *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  g_autoptr(GtkFileFilter) json = NULL;
  g_autoptr(GtkFileFilter) all = NULL;
  GtkFileChooserNative *chooser;

  g_return_if_fail (CDL_IS_WORKFLOWS_PAGE (self));

  if (self->service == NULL || self->chooser != NULL)
    return;

  chooser = gtk_file_chooser_native_new (_("Upload Workflow"),
                                         GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                         GTK_FILE_CHOOSER_ACTION_OPEN,
                                         _("_Open"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);

  json = gtk_file_filter_new ();
  gtk_file_filter_set_name (json, _("ComfyUI API Workflows"));
  gtk_file_filter_add_mime_type (json, "application/json");
  gtk_file_filter_add_suffix (json, "json");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), json);

  all = gtk_file_filter_new ();
  gtk_file_filter_set_name (all, _("All Files"));
  gtk_file_filter_add_pattern (all, "*");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), all);

  g_signal_connect_object (chooser, "response",
                           G_CALLBACK (cdl_workflows_page_chooser_cb), self,
                           G_CONNECT_SWAPPED);

  self->chooser = GTK_NATIVE_DIALOG (chooser);
  gtk_native_dialog_show (self->chooser);
}

void
cdl_workflows_page_open_file (CdlWorkflowsPage *self,
                              GFile            *file)
{
  FileLoad *load;

  g_return_if_fail (CDL_IS_WORKFLOWS_PAGE (self));
  g_return_if_fail (G_IS_FILE (file));

  load = g_new0 (FileLoad, 1);
  load->page = g_object_ref (self);
  load->file = g_object_ref (file);
  g_file_load_bytes_async (file, self->cancellable, cdl_workflows_page_loaded_cb, load);
}
