/* cdl-tasks-page.c: the tasks, their prompts and seeds, and the freeze
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-ui"

#include "config.h"

#include <inttypes.h>

#include <string.h>
#include <glib/gi18n.h>

#include "ui/cdl-pilot-page.h"
#include "ui/cdl-run-dashboard.h"
#include "ui/cdl-task-wizard.h"
#include "ui/cdl-tasks-page.h"

#define PROMPTS_PER_PAGE 20

struct _CdlTasksPage
{
  GtkWidget           parent_instance;

  CdlTaskService     *service;
  CdlWorkflowService *workflows;
  CdlPoolService     *pools;
  CdlSettingsService *settings;
  CdlPilotService    *pilots;
  CdlWorkerService   *workers;
  CdlObjectStore     *images;
  GListStore         *store;
  GtkSortListModel   *sorted;
  GCancellable       *cancellable;
  GCancellable       *detail_cancellable;
  GtkWindow          *wizard;
  char               *selected_id;
  /* The task shown, with the page of prompts it was read with. */
  CdlTask            *shown;
  /* The "after" of each page shown before this one, to go back. */
  GArray             *page_starts;
  int                 page_after;
  char               *summary;
  gboolean            loaded;
  gboolean            freezing;

  /* template */
  GtkStack           *stack;
  GtkSpinner         *spinner;
  AdwStatusPage      *error_page;
  GtkListBox         *list_box;
  GtkLabel           *title_label;
  GtkLabel           *state_badge;
  GtkWidget          *lock_icon;
  GtkLabel           *subtitle_label;
  GtkWidget          *freeze_button;
  GtkWidget          *pilot_button;
  GtkWidget          *run_button;
  CdlRunDashboard    *dashboard;
  AdwActionRow       *workflow_row;
  AdwActionRow       *pools_row;
  AdwActionRow       *counts_row;
  AdwActionRow       *template_row;
  AdwActionRow       *seed_row;
  GtkLabel           *page_label;
  GtkWidget          *previous_button;
  GtkWidget          *next_button;
  GtkListBox         *prompts_list;
};

G_DEFINE_FINAL_TYPE (CdlTasksPage, cdl_tasks_page, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_SUMMARY,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void cdl_tasks_page_load_detail (CdlTasksPage *self,
                                        const char   *id,
                                        int           after);
static void cdl_tasks_page_list_cb     (GObject      *object,
                                        GAsyncResult *result,
                                        gpointer      user_data);

static void
cdl_tasks_page_toast (CdlTasksPage *self,
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

static void
cdl_clear_list_box (GtkListBox *list)
{
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (list))) != NULL)
    gtk_list_box_remove (list, child);
}

/* The name, else the first line of the notes, else a placeholder. */
static char *
cdl_task_title (CdlTask *task)
{
  const CdlTaskData *data = cdl_task_get_data (task);

  if (data->name != NULL && *data->name != '\0')
    return g_strdup (data->name);

  if (data->notes != NULL && *data->notes != '\0')
    {
      const char *end = strchr (data->notes, '\n');

      return end != NULL ? g_strndup (data->notes, end - data->notes) : g_strdup (data->notes);
    }

  return g_strdup (_("Untitled Task"));
}

static const char *
cdl_task_state_title (const char *state)
{
  if (g_strcmp0 (state, CDL_TASK_STATE_DRAFT) == 0)
    return _("Draft");
  if (g_strcmp0 (state, CDL_TASK_STATE_FROZEN) == 0)
    return _("Frozen");
  if (g_strcmp0 (state, "RUNNING") == 0)
    return _("Running");
  if (g_strcmp0 (state, "PAUSED") == 0)
    return _("Paused");
  if (g_strcmp0 (state, "CANCELLED") == 0)
    return _("Cancelled");
  if (g_strcmp0 (state, "DONE") == 0)
    return _("Done");
  if (g_strcmp0 (state, "FAILED") == 0)
    return _("Failed");

  return state;
}

static void
cdl_set_state_badge (GtkLabel   *badge,
                     const char *state)
{
  static const char * const classes[] = {
    "draft", "frozen", "running", "healthy", "unhealthy", "disabled",
  };
  const char *css_class = "frozen";

  if (g_strcmp0 (state, CDL_TASK_STATE_DRAFT) == 0)
    css_class = "draft";
  else if (g_strcmp0 (state, "DONE") == 0)
    css_class = "healthy";
  else if (g_strcmp0 (state, "FAILED") == 0)
    css_class = "unhealthy";
  else if (g_strcmp0 (state, "RUNNING") == 0)
    css_class = "running";
  else if (g_strcmp0 (state, "PAUSED") == 0 || g_strcmp0 (state, "CANCELLED") == 0)
    css_class = "disabled";

  gtk_label_set_label (badge, cdl_task_state_title (state));
  for (guint i = 0; i < G_N_ELEMENTS (classes); i++)
    {
      if (g_str_equal (classes[i], css_class))
        gtk_widget_add_css_class (GTK_WIDGET (badge), classes[i]);
      else
        gtk_widget_remove_css_class (GTK_WIDGET (badge), classes[i]);
    }
}

static char *
cdl_task_counts (const CdlTaskData *data)
{
  gint64 total = (gint64) data->target_prompts * data->seeds_per_prompt;

  /* TRANSLATORS: K prompts × N seeds, then the number of images */
  return g_strdup_printf (ngettext ("%d × %d · %" PRId64 " image",
                                    "%d × %d · %" PRId64 " images",
                                    (gulong) total),
                          data->target_prompts, data->seeds_per_prompt, total);
}

static char *
cdl_task_pools_text (const CdlTaskData *data)
{
  GString *text = g_string_new (NULL);

  for (guint i = 0; data->pools != NULL && i < data->pools->len; i++)
    {
      const CdlTaskPool *pool = g_ptr_array_index (data->pools, i);

      if (text->len > 0)
        g_string_append (text, ", ");
      /* TRANSLATORS: a pool name and its pinned version */
      g_string_append_printf (text, _("%s v%d"), pool->name, pool->version);
    }

  if (text->len == 0)
    g_string_append (text, _("None: the template is the prompt"));

  return g_string_free (text, FALSE);
}

static GtkWidget *
cdl_tasks_page_create_row (gpointer item,
                           gpointer user_data)
{
  CdlTask *task = item;
  const CdlTaskData *data = cdl_task_get_data (task);
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *badge = gtk_label_new (NULL);
  g_autofree char *title = cdl_task_title (task);
  g_autofree char *counts = cdl_task_counts (data);
  g_autofree char *subtitle = NULL;

  /* TRANSLATORS: a workflow name and version, then "K × N · images" */
  subtitle = g_strdup_printf (_("%s v%d\n%s"),
                              data->workflow_name != NULL ? data->workflow_name : "",
                              data->workflow_version, counts);

  gtk_widget_set_name (row, "task-row");
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  adw_action_row_set_subtitle_lines (ADW_ACTION_ROW (row), 2);

  if (!cdl_task_is_draft (task))
    {
      GtkWidget *lock = gtk_image_new_from_icon_name ("changes-prevent-symbolic");

      gtk_widget_set_name (lock, "task-row-lock");
      gtk_widget_set_tooltip_text (lock, _("Frozen"));
      gtk_widget_add_css_class (lock, "lock-icon");
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), lock);
    }

  gtk_widget_set_name (badge, "task-state-badge");
  gtk_widget_set_valign (badge, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (badge, "health-badge");
  cdl_set_state_badge (GTK_LABEL (badge), cdl_task_get_state (task));
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), badge);

  g_object_set_data_full (G_OBJECT (row), "task", g_object_ref (task), g_object_unref);

  return row;
}

static CdlTask *
cdl_row_get_task (GtkListBoxRow *row)
{
  return row != NULL ? g_object_get_data (G_OBJECT (row), "task") : NULL;
}

static void
cdl_tasks_page_show_prompts (CdlTasksPage *self)
{
  const CdlTaskData *data = cdl_task_get_data (self->shown);
  GPtrArray *prompts = data->prompts;
  g_autofree char *range = NULL;
  guint first = 0;
  guint last = 0;

  cdl_clear_list_box (self->prompts_list);

  for (guint i = 0; prompts != NULL && i < prompts->len; i++)
    {
      const CdlPrompt *prompt = g_ptr_array_index (prompts, i);
      GtkWidget *row = adw_action_row_new ();
      GtkWidget *number = gtk_label_new (NULL);
      GString *seeds = g_string_new (NULL);
      g_autofree char *position = g_strdup_printf ("%u", prompt->position + 1);

      if (i == 0)
        first = prompt->position + 1;
      last = prompt->position + 1;

      for (guint s = 0; s < prompt->n_seeds; s++)
        g_string_append_printf (seeds, "%s%" PRIu64, s > 0 ? "  " : "",
                                prompt->seeds[s]);

      gtk_label_set_label (GTK_LABEL (number), position);
      gtk_label_set_width_chars (GTK_LABEL (number), 4);
      gtk_label_set_xalign (GTK_LABEL (number), 1);
      gtk_widget_add_css_class (number, "dim-label");
      gtk_widget_add_css_class (number, "numeric");
      adw_action_row_add_prefix (ADW_ACTION_ROW (row), number);

      gtk_widget_set_name (row, "prompt-row");
      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), prompt->text);
      adw_action_row_set_title_lines (ADW_ACTION_ROW (row), 0);
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), seeds->str);
      gtk_widget_add_css_class (row, "prompt-row");
      gtk_list_box_append (self->prompts_list, row);
      g_string_free (seeds, TRUE);
    }

  if (last > 0)
    /* TRANSLATORS: the prompts shown (first–last) and how many there are */
    range = g_strdup_printf (_("%u–%u of %" PRId64), first, last, data->prompt_count);
  gtk_label_set_label (self->page_label, range != NULL ? range : "");

  gtk_widget_set_sensitive (self->previous_button, self->page_starts->len > 0);
  gtk_widget_set_sensitive (self->next_button, data->next_after >= 0);
}

/* The state of the shown task: the dashboard's when it has read one,
 * since a run moves on without the task service. */
static const char *
cdl_tasks_page_shown_state (CdlTasksPage *self)
{
  const char *state = cdl_run_dashboard_get_state (self->dashboard);

  if (self->shown == NULL)
    return NULL;

  if (state != NULL && g_strcmp0 (cdl_run_dashboard_get_task (self->dashboard),
                                  cdl_task_get_id (self->shown)) == 0)
    return state;

  return cdl_task_get_state (self->shown);
}

static void
cdl_tasks_page_update_run (CdlTasksPage *self)
{
  gboolean frozen = g_strcmp0 (cdl_tasks_page_shown_state (self), CDL_TASK_STATE_FROZEN) == 0;

  gtk_widget_set_visible (self->run_button, frozen);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "tasks.run", frozen);
}

static void
cdl_tasks_page_run_state_cb (CdlTasksPage    *self,
                             GParamSpec      *pspec,
                             CdlRunDashboard *dashboard)
{
  const char *state = cdl_tasks_page_shown_state (self);

  if (self->shown == NULL || state == NULL)
    return;

  cdl_set_state_badge (self->state_badge, state);
  cdl_tasks_page_update_run (self);

  /* The list shows each task's state too. */
  if (g_strcmp0 (state, cdl_task_get_state (self->shown)) != 0 && self->service != NULL)
    cdl_task_service_list_async (self->service, self->cancellable,
                                 cdl_tasks_page_list_cb, g_object_ref (self));
}

static void
cdl_tasks_page_show_task (CdlTasksPage *self)
{
  const CdlTaskData *data = cdl_task_get_data (self->shown);
  g_autofree char *title = cdl_task_title (self->shown);
  g_autofree char *workflow = NULL;
  g_autofree char *pools = cdl_task_pools_text (data);
  g_autofree char *counts = cdl_task_counts (data);
  g_autofree char *subtitle = NULL;
  g_autofree char *rng = NULL;
  gboolean draft = cdl_task_is_draft (self->shown);

  gtk_label_set_label (self->title_label, title);
  cdl_set_state_badge (self->state_badge, data->state);
  gtk_widget_set_visible (self->lock_icon, !draft);
  gtk_widget_set_visible (self->freeze_button, draft);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "tasks.freeze", draft && !self->freezing);
  gtk_widget_set_visible (self->pilot_button, draft);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "tasks.pilot",
                                 draft && !self->freezing && self->pilots != NULL);

  /* A frozen task and everything after it shows its generation. */
  gtk_widget_set_visible (GTK_WIDGET (self->dashboard), !draft);
  cdl_run_dashboard_set_task (self->dashboard, draft ? NULL : data->id);
  cdl_set_state_badge (self->state_badge, cdl_tasks_page_shown_state (self));
  cdl_tasks_page_update_run (self);

  if (!draft && data->frozen_at != NULL)
    {
      g_autoptr(GDateTime) local = g_date_time_to_local (data->frozen_at);
      g_autofree char *date = g_date_time_format (local, "%x %H:%M");

      /* TRANSLATORS: %s is a date */
      subtitle = g_strdup_printf (_("Frozen on %s: prompts, seeds and the workflow are locked"),
                                  date);
    }
  else if (data->notes != NULL && *data->notes != '\0')
    subtitle = g_strdup (data->notes);
  else
    subtitle = g_strdup (_("Draft: check the prompts and seeds, then freeze it for generation"));
  gtk_label_set_label (self->subtitle_label, subtitle);

  /* TRANSLATORS: a workflow name and its version */
  workflow = g_strdup_printf (_("%s, version %d"),
                              data->workflow_name != NULL ? data->workflow_name : "",
                              data->workflow_version);
  adw_action_row_set_subtitle (self->workflow_row, workflow);
  adw_action_row_set_subtitle (self->pools_row, pools);
  adw_action_row_set_subtitle (self->counts_row, counts);
  adw_action_row_set_subtitle (self->template_row,
                               data->prompt_template != NULL
                                 ? data->prompt_template
                                 : _("The workflow’s positive prompt"));
  rng = g_strdup_printf ("%" PRIu64, data->rng_seed);
  adw_action_row_set_subtitle (self->seed_row, rng);

  cdl_tasks_page_show_prompts (self);
}

typedef struct
{
  CdlTasksPage *page;
  int           after;
} DetailLoad;

static void
cdl_tasks_page_detail_cb (GObject      *object,
                          GAsyncResult *result,
                          gpointer      user_data)
{
  DetailLoad *load = user_data;
  g_autoptr(CdlTasksPage) self = load->page;
  int after = load->after;
  g_autoptr(CdlTask) task = NULL;
  g_autoptr(GError) error = NULL;

  g_free (load);

  task = cdl_task_service_get_finish (CDL_TASK_SERVICE (object), result, &error);
  if (task == NULL)
    {
      g_autofree char *text = NULL;

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;

      /* TRANSLATORS: %s is the reason */
      text = g_strdup_printf (_("Could not read the task: %s"), error->message);
      cdl_tasks_page_toast (self, text);
      return;
    }

  self->page_after = after;
  g_set_object (&self->shown, task);
  cdl_tasks_page_show_task (self);
}

static void
cdl_tasks_page_load_detail (CdlTasksPage *self,
                            const char   *id,
                            int           after)
{
  DetailLoad *load;

  g_cancellable_cancel (self->detail_cancellable);
  g_clear_object (&self->detail_cancellable);
  self->detail_cancellable = g_cancellable_new ();

  load = g_new0 (DetailLoad, 1);
  load->page = g_object_ref (self);
  load->after = after;
  cdl_task_service_get_async (self->service, id, after, PROMPTS_PER_PAGE,
                              self->detail_cancellable,
                              cdl_tasks_page_detail_cb, load);
}

static void
cdl_tasks_page_previous_cb (CdlTasksPage *self,
                            GtkButton    *button)
{
  int after;

  if (self->shown == NULL || self->page_starts->len == 0)
    return;

  after = g_array_index (self->page_starts, int, self->page_starts->len - 1);
  g_array_set_size (self->page_starts, self->page_starts->len - 1);
  cdl_tasks_page_load_detail (self, cdl_task_get_id (self->shown), after);
}

static void
cdl_tasks_page_next_cb (CdlTasksPage *self,
                        GtkButton    *button)
{
  const CdlTaskData *data;

  if (self->shown == NULL)
    return;

  data = cdl_task_get_data (self->shown);
  if (data->next_after < 0)
    return;

  g_array_append_val (self->page_starts, self->page_after);
  cdl_tasks_page_load_detail (self, data->id, data->next_after);
}

static void
cdl_tasks_page_row_selected_cb (CdlTasksPage  *self,
                                GtkListBoxRow *row,
                                GtkListBox    *list)
{
  CdlTask *task = cdl_row_get_task (row);

  if (task == NULL || self->service == NULL)
    return;

  if (g_strcmp0 (self->selected_id, cdl_task_get_id (task)) != 0)
    {
      g_free (self->selected_id);
      self->selected_id = g_strdup (cdl_task_get_id (task));
      g_array_set_size (self->page_starts, 0);
      self->page_after = -1;
    }

  cdl_tasks_page_load_detail (self, cdl_task_get_id (task), self->page_after);
}

static void
cdl_tasks_page_select_id (CdlTasksPage *self,
                          const char   *id)
{
  GtkListBoxRow *first = gtk_list_box_get_row_at_index (self->list_box, 0);

  for (int i = 0;; i++)
    {
      GtkListBoxRow *row = gtk_list_box_get_row_at_index (self->list_box, i);

      if (row == NULL)
        break;

      if (g_strcmp0 (cdl_task_get_id (cdl_row_get_task (row)), id) == 0)
        {
          gtk_list_box_select_row (self->list_box, row);
          return;
        }
    }

  if (first != NULL)
    gtk_list_box_select_row (self->list_box, first);
}

static void
cdl_tasks_page_update_summary (CdlTasksPage *self)
{
  GListModel *model = G_LIST_MODEL (self->store);
  guint n = g_list_model_get_n_items (model);
  g_autofree char *summary = NULL;

  if (n > 0)
    {
      g_autofree char *count = NULL;
      guint drafts = 0;

      for (guint i = 0; i < n; i++)
        {
          g_autoptr(CdlTask) task = g_list_model_get_item (model, i);

          if (cdl_task_is_draft (task))
            drafts++;
        }

      count = g_strdup_printf (ngettext ("%u task", "%u tasks", n), n);
      /* TRANSLATORS: the first %s is "N tasks"; then how many are drafts */
      summary = g_strdup_printf (ngettext ("%s · %u draft", "%s · %u drafts", drafts),
                                 count, drafts);
    }

  if (g_strcmp0 (summary, self->summary) != 0)
    {
      g_free (self->summary);
      self->summary = g_steal_pointer (&summary);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SUMMARY]);
    }
}

static void
cdl_tasks_page_items_changed_cb (CdlTasksPage *self,
                                 guint       position,
                                 guint       removed,
                                 guint       added,
                                 GListModel *model)
{
  cdl_tasks_page_update_summary (self);
}

static void
cdl_tasks_page_update_view (CdlTasksPage *self)
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

/* Puts @task in place of the item with its id, or adds it; the row is
 * made again, and the selection kept. */
static void
cdl_tasks_page_take (CdlTasksPage *self,
                     CdlTask      *task)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->store));
  gboolean found = FALSE;

  for (guint i = 0; i < n && !found; i++)
    {
      g_autoptr(CdlTask) item = g_list_model_get_item (G_LIST_MODEL (self->store), i);

      if (g_strcmp0 (cdl_task_get_id (item), cdl_task_get_id (task)) == 0)
        {
          g_list_store_splice (self->store, i, 1, (gpointer *) &task, 1);
          found = TRUE;
        }
    }

  if (!found)
    g_list_store_append (self->store, task);

  cdl_tasks_page_update_view (self);
  if (self->selected_id != NULL)
    cdl_tasks_page_select_id (self, self->selected_id);
}

static void
cdl_tasks_page_list_cb (GObject      *object,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  g_autoptr(CdlTasksPage) self = user_data;
  g_autoptr(GPtrArray) tasks = NULL;
  g_autoptr(GError) error = NULL;

  tasks = cdl_task_service_list_finish (CDL_TASK_SERVICE (object), result, &error);

  if (tasks == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;

      g_warning ("Could not list the tasks: %s", error->message);

      if (g_list_model_get_n_items (G_LIST_MODEL (self->store)) == 0)
        {
          adw_status_page_set_description (self->error_page, error->message);
          gtk_stack_set_visible_child_name (self->stack, "error");
          cdl_tasks_page_update_view (self);
        }
      else
        {
          g_autofree char *text = NULL;

          /* TRANSLATORS: %s is the reason */
          text = g_strdup_printf (_("Could not reload the tasks: %s"), error->message);
          cdl_tasks_page_toast (self, text);
        }
      return;
    }

  self->loaded = TRUE;
  g_list_store_splice (self->store, 0,
                       g_list_model_get_n_items (G_LIST_MODEL (self->store)),
                       tasks->pdata, tasks->len);
  cdl_tasks_page_update_view (self);
  cdl_tasks_page_select_id (self, self->selected_id);
}

static void
cdl_tasks_page_task_changed_cb (CdlTasksPage   *self,
                                CdlTask        *task,
                                CdlTaskService *service)
{
  if (!self->loaded)
    return;

  cdl_tasks_page_take (self, task);

  /* The detail reads its page again, so that it shows the new state. */
  if (g_strcmp0 (self->selected_id, cdl_task_get_id (task)) == 0)
    cdl_tasks_page_load_detail (self, cdl_task_get_id (task), self->page_after);
}

/* Freezing */

static void
cdl_tasks_page_freeze_done_cb (GObject      *object,
                               GAsyncResult *result,
                               gpointer      user_data)
{
  g_autoptr(CdlTasksPage) self = user_data;
  g_autoptr(CdlTask) task = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *title = NULL;

  task = cdl_task_service_freeze_finish (CDL_TASK_SERVICE (object), result, &error);
  self->freezing = FALSE;

  if (task == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;

      /* TRANSLATORS: %s is the reason */
      text = g_strdup_printf (_("Could not freeze the task: %s"), error->message);
      cdl_tasks_page_toast (self, text);
      if (self->shown != NULL)
        cdl_tasks_page_show_task (self);
      return;
    }

  title = cdl_task_title (task);
  /* TRANSLATORS: %s is a task name */
  text = g_strdup_printf (_("%s is frozen"), title);
  cdl_tasks_page_toast (self, text);

  self->loaded = TRUE;
  cdl_tasks_page_take (self, task);
  cdl_tasks_page_load_detail (self, cdl_task_get_id (task), self->page_after);
}

static void
cdl_tasks_page_freeze_response_cb (AdwMessageDialog *dialog,
                                   const char       *response,
                                   gpointer          user_data)
{
  CdlTasksPage *self = user_data;
  const char *id = g_object_get_data (G_OBJECT (dialog), "task-id");

  if (g_strcmp0 (response, "freeze") != 0 || self->service == NULL || self->freezing)
    return;

  self->freezing = TRUE;
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "tasks.freeze", FALSE);
  cdl_task_service_freeze_async (self->service, id, self->cancellable,
                                 cdl_tasks_page_freeze_done_cb, g_object_ref (self));
}

static void
cdl_tasks_page_freeze_action (GtkWidget  *widget,
                              const char *action_name,
                              GVariant   *parameter)
{
  cdl_tasks_page_freeze (CDL_TASKS_PAGE (widget));
}

static void
cdl_tasks_page_pilot_action (GtkWidget  *widget,
                             const char *action_name,
                             GVariant   *parameter)
{
  cdl_tasks_page_pilot (CDL_TASKS_PAGE (widget));
}

static void
cdl_tasks_page_run_action (GtkWidget  *widget,
                           const char *action_name,
                           GVariant   *parameter)
{
  cdl_tasks_page_run (CDL_TASKS_PAGE (widget));
}

static void
cdl_tasks_page_new_action (GtkWidget  *widget,
                           const char *action_name,
                           GVariant   *parameter)
{
  cdl_tasks_page_new_task (CDL_TASKS_PAGE (widget));
}

static void
cdl_tasks_page_reload_action (GtkWidget  *widget,
                              const char *action_name,
                              GVariant   *parameter)
{
  cdl_tasks_page_reload (CDL_TASKS_PAGE (widget));
}

static void
cdl_tasks_page_wizard_created_cb (CdlTasksPage  *self,
                                  CdlTask       *task,
                                  CdlTaskWizard *wizard)
{
  g_autofree char *title = cdl_task_title (task);
  g_autofree char *text = NULL;

  g_free (self->selected_id);
  self->selected_id = g_strdup (cdl_task_get_id (task));
  g_array_set_size (self->page_starts, 0);
  self->page_after = -1;

  self->loaded = TRUE;
  cdl_tasks_page_take (self, task);
  cdl_tasks_page_load_detail (self, cdl_task_get_id (task), -1);

  /* TRANSLATORS: %s is a task name */
  text = g_strdup_printf (_("Created %s as a draft"), title);
  cdl_tasks_page_toast (self, text);
}

static int
cdl_tasks_page_compare (gconstpointer a,
                        gconstpointer b,
                        gpointer      user_data)
{
  GDateTime *da = cdl_task_get_data ((CdlTask *) a)->created_at;
  GDateTime *db = cdl_task_get_data ((CdlTask *) b)->created_at;
  int cmp;

  /* The newest first. */
  if (da != NULL && db != NULL)
    cmp = g_date_time_compare (db, da);
  else
    cmp = (da == NULL) - (db == NULL);

  if (cmp == 0)
    cmp = g_strcmp0 (cdl_task_get_id ((CdlTask *) a), cdl_task_get_id ((CdlTask *) b));

  return cmp < 0 ? GTK_ORDERING_SMALLER : cmp > 0 ? GTK_ORDERING_LARGER : GTK_ORDERING_EQUAL;
}

static void
cdl_tasks_page_dispose (GObject *object)
{
  CdlTasksPage *self = CDL_TASKS_PAGE (object);

  g_cancellable_cancel (self->cancellable);
  g_cancellable_cancel (self->detail_cancellable);

  if (self->wizard != NULL)
    {
      g_object_remove_weak_pointer (G_OBJECT (self->wizard), (gpointer *) &self->wizard);
      gtk_window_destroy (self->wizard);
      self->wizard = NULL;
    }

  gtk_widget_dispose_template (GTK_WIDGET (self), CDL_TYPE_TASKS_PAGE);

  g_clear_object (&self->service);
  g_clear_object (&self->workflows);
  g_clear_object (&self->pools);
  g_clear_object (&self->settings);
  g_clear_object (&self->pilots);
  g_clear_object (&self->workers);
  g_clear_object (&self->images);
  g_clear_object (&self->shown);
  g_clear_object (&self->sorted);
  g_clear_object (&self->store);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->detail_cancellable);

  G_OBJECT_CLASS (cdl_tasks_page_parent_class)->dispose (object);
}

static void
cdl_tasks_page_finalize (GObject *object)
{
  CdlTasksPage *self = CDL_TASKS_PAGE (object);

  g_clear_pointer (&self->selected_id, g_free);
  g_clear_pointer (&self->page_starts, g_array_unref);

  g_clear_pointer (&self->summary, g_free);

  G_OBJECT_CLASS (cdl_tasks_page_parent_class)->finalize (object);
}

static void
cdl_tasks_page_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  CdlTasksPage *self = CDL_TASKS_PAGE (object);

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
cdl_tasks_page_class_init (CdlTasksPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = cdl_tasks_page_dispose;
  object_class->finalize = cdl_tasks_page_finalize;
  object_class->get_property = cdl_tasks_page_get_property;

  /* One line for the window's subtitle, or %NULL while there is nothing. */
  properties[PROP_SUMMARY] =
    g_param_spec_string ("summary", NULL, NULL,
                         NULL,
                         (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               RESOURCE_BASE "/ui/cdl-tasks-page.ui");
  gtk_widget_class_bind_template_child (widget_class, CdlTasksPage, stack);
  gtk_widget_class_bind_template_child (widget_class, CdlTasksPage, spinner);
  gtk_widget_class_bind_template_child (widget_class, CdlTasksPage, error_page);
  gtk_widget_class_bind_template_child (widget_class, CdlTasksPage, list_box);
  gtk_widget_class_bind_template_child (widget_class, CdlTasksPage, title_label);
  gtk_widget_class_bind_template_child (widget_class, CdlTasksPage, state_badge);
  gtk_widget_class_bind_template_child (widget_class, CdlTasksPage, lock_icon);
  gtk_widget_class_bind_template_child (widget_class, CdlTasksPage, subtitle_label);
  gtk_widget_class_bind_template_child (widget_class, CdlTasksPage, freeze_button);
  gtk_widget_class_bind_template_child (widget_class, CdlTasksPage, pilot_button);
  gtk_widget_class_bind_template_child (widget_class, CdlTasksPage, run_button);
  gtk_widget_class_bind_template_child (widget_class, CdlTasksPage, dashboard);
  gtk_widget_class_bind_template_child (widget_class, CdlTasksPage, workflow_row);
  gtk_widget_class_bind_template_child (widget_class, CdlTasksPage, pools_row);
  gtk_widget_class_bind_template_child (widget_class, CdlTasksPage, counts_row);
  gtk_widget_class_bind_template_child (widget_class, CdlTasksPage, template_row);
  gtk_widget_class_bind_template_child (widget_class, CdlTasksPage, seed_row);
  gtk_widget_class_bind_template_child (widget_class, CdlTasksPage, page_label);
  gtk_widget_class_bind_template_child (widget_class, CdlTasksPage, previous_button);
  gtk_widget_class_bind_template_child (widget_class, CdlTasksPage, next_button);
  gtk_widget_class_bind_template_child (widget_class, CdlTasksPage, prompts_list);
  gtk_widget_class_bind_template_callback (widget_class, cdl_tasks_page_row_selected_cb);
  gtk_widget_class_bind_template_callback (widget_class, cdl_tasks_page_previous_cb);
  gtk_widget_class_bind_template_callback (widget_class, cdl_tasks_page_next_cb);

  gtk_widget_class_install_action (widget_class, "tasks.new", NULL,
                                   cdl_tasks_page_new_action);
  gtk_widget_class_install_action (widget_class, "tasks.freeze", NULL,
                                   cdl_tasks_page_freeze_action);
  gtk_widget_class_install_action (widget_class, "tasks.reload", NULL,
                                   cdl_tasks_page_reload_action);
  gtk_widget_class_install_action (widget_class, "tasks.run", NULL,
                                   cdl_tasks_page_run_action);
  gtk_widget_class_install_action (widget_class, "tasks.pilot", NULL,
                                   cdl_tasks_page_pilot_action);

  g_type_ensure (CDL_TYPE_RUN_DASHBOARD);
}

static void
cdl_tasks_page_init (CdlTasksPage *self)
{
  GtkCustomSorter *sorter;

  gtk_widget_init_template (GTK_WIDGET (self));

  self->cancellable = g_cancellable_new ();
  self->page_starts = g_array_new (FALSE, FALSE, sizeof (int));
  self->page_after = -1;
  self->store = g_list_store_new (CDL_TYPE_TASK);
  g_signal_connect_object (self->store, "items-changed",
                           G_CALLBACK (cdl_tasks_page_items_changed_cb), self,
                           G_CONNECT_SWAPPED);
  sorter = gtk_custom_sorter_new (cdl_tasks_page_compare, NULL, NULL);
  self->sorted = gtk_sort_list_model_new (G_LIST_MODEL (g_object_ref (self->store)),
                                          GTK_SORTER (sorter));

  gtk_list_box_bind_model (self->list_box, G_LIST_MODEL (self->sorted),
                           cdl_tasks_page_create_row, self, NULL);

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "tasks.new", FALSE);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "tasks.freeze", FALSE);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "tasks.reload", FALSE);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "tasks.run", FALSE);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "tasks.pilot", FALSE);

  g_signal_connect_object (self->dashboard, "notify::state",
                           G_CALLBACK (cdl_tasks_page_run_state_cb), self,
                           G_CONNECT_SWAPPED);

  cdl_tasks_page_update_view (self);
}

CdlTasksPage *
cdl_tasks_page_new (void)
{
  return g_object_new (CDL_TYPE_TASKS_PAGE, NULL);
}

void
cdl_tasks_page_set_services (CdlTasksPage       *self,
                             CdlTaskService     *tasks,
                             CdlWorkflowService *workflows,
                             CdlPoolService     *pools,
                             CdlSettingsService *settings)
{
  g_return_if_fail (CDL_IS_TASKS_PAGE (self));
  g_return_if_fail (tasks == NULL || CDL_IS_TASK_SERVICE (tasks));
  g_return_if_fail (workflows == NULL || CDL_IS_WORKFLOW_SERVICE (workflows));
  g_return_if_fail (pools == NULL || CDL_IS_POOL_SERVICE (pools));
  g_return_if_fail (settings == NULL || CDL_IS_SETTINGS_SERVICE (settings));

  g_set_object (&self->workflows, workflows);
  g_set_object (&self->pools, pools);
  g_set_object (&self->settings, settings);

  if (self->service == tasks)
    return;

  if (self->service != NULL)
    g_signal_handlers_disconnect_by_func (self->service, cdl_tasks_page_task_changed_cb, self);

  g_set_object (&self->service, tasks);
  cdl_run_dashboard_set_task (self->dashboard, NULL);
  self->loaded = FALSE;
  g_clear_object (&self->shown);
  g_list_store_remove_all (self->store);

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "tasks.new",
                                 tasks != NULL && workflows != NULL && pools != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "tasks.reload", tasks != NULL);

  if (tasks == NULL)
    return;

  g_signal_connect_object (tasks, "task-changed",
                           G_CALLBACK (cdl_tasks_page_task_changed_cb), self,
                           G_CONNECT_SWAPPED);

  cdl_tasks_page_reload (self);
}

GListModel *
cdl_tasks_page_get_model (CdlTasksPage *self)
{
  g_return_val_if_fail (CDL_IS_TASKS_PAGE (self), NULL);

  return G_LIST_MODEL (self->sorted);
}

CdlTask *
cdl_tasks_page_get_shown (CdlTasksPage *self)
{
  g_return_val_if_fail (CDL_IS_TASKS_PAGE (self), NULL);

  return self->shown;
}

void
cdl_tasks_page_reload (CdlTasksPage *self)
{
  g_return_if_fail (CDL_IS_TASKS_PAGE (self));

  if (self->service == NULL)
    return;

  if (g_list_model_get_n_items (G_LIST_MODEL (self->store)) == 0)
    {
      self->loaded = FALSE;
      gtk_stack_set_visible_child_name (self->stack, "loading");
      cdl_tasks_page_update_view (self);
    }

  cdl_task_service_list_async (self->service, self->cancellable,
                               cdl_tasks_page_list_cb, g_object_ref (self));
}

void
cdl_tasks_page_new_task (CdlTasksPage *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  CdlTaskWizard *wizard;

  g_return_if_fail (CDL_IS_TASKS_PAGE (self));

  if (self->service == NULL || self->workflows == NULL || self->pools == NULL)
    return;

  if (self->wizard != NULL)
    {
      gtk_window_present (self->wizard);
      return;
    }

  wizard = cdl_task_wizard_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                self->service, self->workflows, self->pools, self->settings);
  g_signal_connect_object (wizard, "created",
                           G_CALLBACK (cdl_tasks_page_wizard_created_cb), self,
                           G_CONNECT_SWAPPED);

  self->wizard = GTK_WINDOW (wizard);
  g_object_add_weak_pointer (G_OBJECT (wizard), (gpointer *) &self->wizard);

  gtk_window_present (GTK_WINDOW (wizard));
}

void
cdl_tasks_page_select_task (CdlTasksPage *self,
                            const char   *id)
{
  g_return_if_fail (CDL_IS_TASKS_PAGE (self));
  g_return_if_fail (id != NULL);

  cdl_tasks_page_select_id (self, id);
}

/* One line of what a freeze records: the title over its value, which
 * wraps rather than squeezes in the narrow dialog. */
static void
cdl_add_snapshot_row (GtkWidget  *list,
                      const char *title,
                      const char *value)
{
  GtkWidget *row = adw_action_row_new ();

  gtk_widget_set_name (row, "snapshot-row");
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), value);
  gtk_widget_add_css_class (row, "property");
  gtk_list_box_append (GTK_LIST_BOX (list), row);
}

void
cdl_tasks_page_freeze (CdlTasksPage *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  const CdlTaskData *data;
  g_autofree char *title = NULL;
  g_autofree char *heading = NULL;
  g_autofree char *pools = NULL;
  g_autofree char *workflow = NULL;
  g_autofree char *prompts = NULL;
  g_autofree char *seeds = NULL;
  g_autofree char *images = NULL;
  gint64 total;
  GtkWidget *snapshot;
  GtkWidget *dialog;

  g_return_if_fail (CDL_IS_TASKS_PAGE (self));

  if (self->shown == NULL || !cdl_task_is_draft (self->shown) || self->freezing)
    return;

  data = cdl_task_get_data (self->shown);
  title = cdl_task_title (self->shown);
  pools = cdl_task_pools_text (data);
  total = (gint64) data->target_prompts * data->seeds_per_prompt;

  /* TRANSLATORS: %s is a task name */
  heading = g_strdup_printf (_("Freeze %s?"), title);
  /* TRANSLATORS: a workflow name and its version */
  workflow = g_strdup_printf (_("%s, version %d"),
                              data->workflow_name != NULL ? data->workflow_name : "",
                              data->workflow_version);
  prompts = g_strdup_printf ("%d", data->target_prompts);
  seeds = g_strdup_printf ("%d", data->seeds_per_prompt);
  images = g_strdup_printf ("%" PRId64, total);

  /* What the freeze records, as the rows of the task page show it. */
  snapshot = gtk_list_box_new ();
  gtk_widget_set_name (snapshot, "freeze-snapshot");
  gtk_list_box_set_selection_mode (GTK_LIST_BOX (snapshot), GTK_SELECTION_NONE);
  gtk_widget_add_css_class (snapshot, "boxed-list");
  cdl_add_snapshot_row (snapshot, _("Workflow"), workflow);
  cdl_add_snapshot_row (snapshot, _("Variable Pools"), pools);
  cdl_add_snapshot_row (snapshot, _("Prompts (K)"), prompts);
  cdl_add_snapshot_row (snapshot, _("Seeds per Prompt (N)"), seeds);
  cdl_add_snapshot_row (snapshot, _("Total Images"), images);

  dialog = adw_message_dialog_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                   heading,
                                   _("The prompts, the seeds and this workflow version are "
                                     "locked for good. Only a frozen task can run."));
  gtk_widget_set_name (dialog, "freeze-dialog");
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), snapshot);
  g_object_set_data_full (G_OBJECT (dialog), "task-id", g_strdup (data->id), g_free);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "freeze", _("_Freeze"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "freeze",
                                              ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_signal_connect_data (dialog, "response",
                         G_CALLBACK (cdl_tasks_page_freeze_response_cb),
                         g_object_ref (self), (GClosureNotify) (void (*) (void)) g_object_unref,
                         0);

  gtk_window_present (GTK_WINDOW (dialog));
}

void
cdl_tasks_page_set_run_services (CdlTasksPage     *self,
                                 CdlRunService    *runs,
                                 CdlWorkerService *workers)
{
  g_return_if_fail (CDL_IS_TASKS_PAGE (self));
  g_return_if_fail (runs == NULL || CDL_IS_RUN_SERVICE (runs));
  g_return_if_fail (workers == NULL || CDL_IS_WORKER_SERVICE (workers));

  cdl_run_dashboard_set_services (self->dashboard, runs, self->service, workers);
}

CdlRunDashboard *
cdl_tasks_page_get_dashboard (CdlTasksPage *self)
{
  g_return_val_if_fail (CDL_IS_TASKS_PAGE (self), NULL);

  return self->dashboard;
}

void
cdl_tasks_page_run (CdlTasksPage *self)
{
  g_return_if_fail (CDL_IS_TASKS_PAGE (self));

  if (self->shown == NULL ||
      g_strcmp0 (cdl_tasks_page_shown_state (self), CDL_TASK_STATE_FROZEN) != 0)
    return;

  cdl_run_dashboard_run (self->dashboard);
}

void
cdl_tasks_page_set_pilot_services (CdlTasksPage     *self,
                                   CdlPilotService  *pilots,
                                   CdlWorkerService *workers,
                                   CdlObjectStore   *images)
{
  g_return_if_fail (CDL_IS_TASKS_PAGE (self));
  g_return_if_fail (pilots == NULL || CDL_IS_PILOT_SERVICE (pilots));
  g_return_if_fail (workers == NULL || CDL_IS_WORKER_SERVICE (workers));
  g_return_if_fail (images == NULL || CDL_IS_OBJECT_STORE (images));

  g_set_object (&self->pilots, pilots);
  g_set_object (&self->workers, workers);
  g_set_object (&self->images, images);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "tasks.pilot",
                                 pilots != NULL && self->shown != NULL
                                 && cdl_task_is_draft (self->shown) && !self->freezing);
}

CdlPilotPage *
cdl_tasks_page_pilot (CdlTasksPage *self)
{
  GtkRoot *root;
  CdlPilotPage *page;
  g_autofree char *title = NULL;

  g_return_val_if_fail (CDL_IS_TASKS_PAGE (self), NULL);

  if (self->shown == NULL || !cdl_task_is_draft (self->shown) || self->pilots == NULL
      || self->service == NULL)
    return NULL;

  root = gtk_widget_get_root (GTK_WIDGET (self));
  title = cdl_task_title (self->shown);
  page = cdl_pilot_page_new (self->pilots, self->service, self->workers, self->images,
                             cdl_task_get_data (self->shown)->id, title);
  if (GTK_IS_WINDOW (root))
    gtk_window_set_transient_for (GTK_WINDOW (page), GTK_WINDOW (root));
  gtk_window_present (GTK_WINDOW (page));

  return page;
}
