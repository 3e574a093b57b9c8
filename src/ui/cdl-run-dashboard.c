/* cdl-run-dashboard.c: the generation dashboard of one task
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-ui"

#include "config.h"

#include <locale.h>
#include <string.h>
#include <glib/gi18n.h>

#include "ui/cdl-run-dashboard.h"

#define PROMPTS_PER_PAGE 25
/* Notifications come with every stored image; the page reads at most
 * this often, and polls at the other interval in case they stop. */
#define MIN_REFRESH_MS   500
#define POLL_SECONDS     5
/* The images per minute are measured over this much of the recent past. */
#define RATE_WINDOW_US   (60 * G_USEC_PER_SEC)
#define RATE_MIN_SPAN_US (2 * G_USEC_PER_SEC)

typedef struct
{
  gint64 time;
  gint64 done;
} Sample;

struct _CdlRunDashboard
{
  GtkWidget         parent_instance;

  CdlRunService    *runs;
  CdlTaskService   *tasks;
  CdlWorkerService *workers;
  GCancellable     *cancellable;
  char             *task_id;
  char             *state;
  gint64            total;
  gint64            expected;
  gint64            done;
  gint64            failed;
  gint64            running;
  gint64            pending;
  int               seeds_per_prompt;
  gint64            prompt_count;
  GArray           *samples;
  gboolean          busy;

  /* Reading the progress: one read at a time, another one after it when
   * something asked meanwhile. */
  gboolean          reading;
  gboolean          read_again;
  gint64            last_read;
  guint             throttle_id;
  guint             poll_id;

  /* The prompt rows shown, in order, and where the next page starts. */
  GPtrArray        *prompt_rows;
  GHashTable       *rows_by_position;
  int               next_after;
  gboolean          loading_prompts;
  GtkWidget        *more_row;

  GHashTable       *worker_rows;

  /* template */
  GtkWidget        *pause_button;
  GtkWidget        *resume_button;
  GtkWidget        *cancel_button;
  GtkLabel         *state_badge;
  GtkLabel         *count_label;
  GtkLabel         *percent_label;
  GtkProgressBar   *progress_bar;
  GtkLabel         *rate_label;
  GtkLabel         *eta_label;
  GtkLabel         *active_label;
  GtkLabel         *failed_label;
  GtkListBox       *workers_list;
  GtkLabel         *prompts_label;
  GtkListBox       *prompts_list;
};

G_DEFINE_FINAL_TYPE (CdlRunDashboard, cdl_run_dashboard, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_STATE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

typedef enum
{
  RUN_OP_RUN,
  RUN_OP_PAUSE,
  RUN_OP_RESUME,
  RUN_OP_CANCEL,
} RunOp;

/* What an asynchronous call was made for: answers for another task than
 * the one shown now are dropped. */
typedef struct
{
  CdlRunDashboard *self;
  char            *task_id;
  int              op;
} Call;

static Call *
call_new (CdlRunDashboard *self)
{
  Call *call = g_new0 (Call, 1);

  call->self = g_object_ref (self);
  call->task_id = g_strdup (self->task_id);

  return call;
}

static void
call_free (Call *call)
{
  g_object_unref (call->self);
  g_free (call->task_id);
  g_free (call);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Call, call_free)

static gboolean
call_is_current (Call *call)
{
  return call->self->task_id != NULL && g_strcmp0 (call->task_id, call->self->task_id) == 0;
}

static void cdl_run_dashboard_schedule_read (CdlRunDashboard *self);
static void cdl_run_dashboard_load_prompts  (CdlRunDashboard *self);

static void
cdl_run_dashboard_toast (CdlRunDashboard *self,
                         const char      *text)
{
  GtkWidget *overlay = gtk_widget_get_ancestor (GTK_WIDGET (self), ADW_TYPE_TOAST_OVERLAY);

  if (overlay == NULL)
    {
      g_message ("%s", text);
      return;
    }

  adw_toast_overlay_add_toast (ADW_TOAST_OVERLAY (overlay), adw_toast_new (text));
}

/* A count with the digits grouped as the locale does, with a comma when
 * the locale groups none (the C locale of a bare terminal). */
static char *
cdl_format_count (gint64 value)
{
  const struct lconv *conv = localeconv ();
  const char *sep = conv->thousands_sep != NULL && *conv->thousands_sep != '\0'
                      ? conv->thousands_sep : ",";
  g_autofree char *digits = g_strdup_printf ("%" G_GINT64_FORMAT, value < 0 ? -value : value);
  GString *out = g_string_new (value < 0 ? "-" : "");
  gsize len = strlen (digits);

  for (gsize i = 0; i < len; i++)
    {
      if (i > 0 && (len - i) % 3 == 0)
        g_string_append (out, sep);
      g_string_append_c (out, digits[i]);
    }

  return g_string_free (out, FALSE);
}

static char *
cdl_format_duration (gint64 seconds)
{
  if (seconds < 60)
    /* TRANSLATORS: a time left, under a minute */
    return g_strdup (_("< 1 min"));
  if (seconds < 3600)
    /* TRANSLATORS: a time left in minutes */
    return g_strdup_printf (_("%d min"), (int) ((seconds + 59) / 60));
  if (seconds < 48 * 3600)
    /* TRANSLATORS: a time left in hours and minutes */
    return g_strdup_printf (_("%d h %02d min"), (int) (seconds / 3600),
                            (int) ((seconds % 3600) / 60));

  /* TRANSLATORS: a time left in days and hours */
  return g_strdup_printf (_("%d d %d h"), (int) (seconds / 86400),
                          (int) ((seconds % 86400) / 3600));
}

static const char *
cdl_run_state_title (const char *state)
{
  if (g_strcmp0 (state, "FROZEN") == 0)
    return _("Not Started");
  if (g_strcmp0 (state, "RUNNING") == 0)
    return _("Running");
  if (g_strcmp0 (state, "PAUSED") == 0)
    return _("Paused");
  if (g_strcmp0 (state, "DONE") == 0)
    return _("Done");
  if (g_strcmp0 (state, "FAILED") == 0)
    return _("Failed");
  if (g_strcmp0 (state, "CANCELLED") == 0)
    return _("Cancelled");

  return state != NULL ? state : "";
}

static const char *
cdl_run_state_class (const char *state)
{
  if (g_strcmp0 (state, "RUNNING") == 0)
    return "running";
  if (g_strcmp0 (state, "DONE") == 0)
    return "healthy";
  if (g_strcmp0 (state, "FAILED") == 0)
    return "unhealthy";
  if (g_strcmp0 (state, "PAUSED") == 0 || g_strcmp0 (state, "CANCELLED") == 0)
    return "disabled";

  return "frozen";
}

static void
cdl_set_badge_class (GtkWidget  *badge,
                     const char *css_class)
{
  static const char * const classes[] = {
    "frozen", "running", "healthy", "unhealthy", "disabled", "checking",
  };

  for (guint i = 0; i < G_N_ELEMENTS (classes); i++)
    {
      if (g_str_equal (classes[i], css_class))
        gtk_widget_add_css_class (badge, classes[i]);
      else
        gtk_widget_remove_css_class (badge, classes[i]);
    }
}

static void
cdl_clear_list_box (GtkListBox *list)
{
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (list))) != NULL)
    gtk_list_box_remove (list, child);
}

/* The actions follow the state; none while a request is on its way. */
static void
cdl_run_dashboard_update_actions (CdlRunDashboard *self)
{
  gboolean running = g_strcmp0 (self->state, "RUNNING") == 0;
  gboolean paused = g_strcmp0 (self->state, "PAUSED") == 0;

  gtk_widget_set_visible (self->pause_button, running);
  gtk_widget_set_visible (self->resume_button, paused);
  gtk_widget_set_visible (self->cancel_button, running || paused);

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "run.pause", running && !self->busy);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "run.resume", paused && !self->busy);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "run.cancel",
                                 (running || paused) && !self->busy);
}

static void
cdl_run_dashboard_set_state (CdlRunDashboard *self,
                             const char      *state)
{
  if (g_strcmp0 (self->state, state) == 0)
    return;

  g_free (self->state);
  self->state = g_strdup (state);

  /* A rate measured before a pause says nothing about after it. */
  if (g_strcmp0 (state, "RUNNING") != 0)
    g_array_set_size (self->samples, 0);

  gtk_label_set_label (self->state_badge, cdl_run_state_title (state));
  cdl_set_badge_class (GTK_WIDGET (self->state_badge), cdl_run_state_class (state));
  cdl_run_dashboard_update_actions (self);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

/* Images per minute over the samples of the last minute, or -1 while
 * there is too little to tell. */
static double
cdl_run_dashboard_rate (CdlRunDashboard *self)
{
  const Sample *first;
  const Sample *last;
  gint64 span;

  if (self->samples->len < 2)
    return -1;

  first = &g_array_index (self->samples, Sample, 0);
  last = &g_array_index (self->samples, Sample, self->samples->len - 1);
  span = last->time - first->time;
  if (span < RATE_MIN_SPAN_US)
    return -1;

  return (double) (last->done - first->done) * 60.0 * G_USEC_PER_SEC / span;
}

static void
cdl_run_dashboard_add_sample (CdlRunDashboard *self)
{
  Sample sample = { g_get_monotonic_time (), self->done };

  if (g_strcmp0 (self->state, "RUNNING") != 0)
    return;

  g_array_append_val (self->samples, sample);

  /* Keep one sample older than the window, so that the span covers it. */
  while (self->samples->len > 2 &&
         sample.time - g_array_index (self->samples, Sample, 1).time > RATE_WINDOW_US)
    g_array_remove_index (self->samples, 0);
}

static void
cdl_run_dashboard_show_numbers (CdlRunDashboard *self)
{
  gint64 total = self->total > 0 ? self->total : self->expected;
  g_autofree char *done = cdl_format_count (self->done);
  g_autofree char *all = cdl_format_count (total);
  g_autofree char *count = NULL;
  g_autofree char *percent = NULL;
  g_autofree char *active = NULL;
  g_autofree char *running_text = NULL;
  g_autofree char *pending_text = NULL;
  g_autofree char *failed = NULL;
  g_autofree char *rate_text = NULL;
  g_autofree char *eta_text = NULL;
  double fraction = total > 0 ? (double) self->done / total : 0;
  double rate = cdl_run_dashboard_rate (self);
  gboolean running = g_strcmp0 (self->state, "RUNNING") == 0;

  /* TRANSLATORS: images stored out of all the task's images */
  count = g_strdup_printf (ngettext ("%s of %s image", "%s of %s images", (gulong) total),
                           done, all);
  gtk_label_set_label (self->count_label, count);

  percent = g_strdup_printf ("%d %%", (int) (CLAMP (fraction, 0, 1) * 100));
  gtk_label_set_label (self->percent_label, percent);
  gtk_progress_bar_set_fraction (self->progress_bar, CLAMP (fraction, 0, 1));

  if (running && rate >= 0)
    {
      gint64 left = total - self->done - self->failed;

      rate_text = rate >= 10 ? g_strdup_printf ("%.0f", rate) : g_strdup_printf ("%.1f", rate);
      if (left <= 0)
        eta_text = g_strdup (_("Finishing"));
      else if (rate > 0)
        eta_text = cdl_format_duration ((gint64) (left * 60.0 / rate));
      else
        /* TRANSLATORS: no image came in lately, so no time left can be told */
        eta_text = g_strdup (_("Stalled"));
    }
  else if (running)
    {
      /* TRANSLATORS: the rate is measured over a few seconds first */
      rate_text = g_strdup (_("Measuring…"));
      eta_text = g_strdup ("—");
    }
  else
    {
      rate_text = g_strdup ("—");
      eta_text = g_strdup ("—");
    }
  gtk_label_set_label (self->rate_label, rate_text);
  gtk_label_set_label (self->eta_label, eta_text);

  running_text = cdl_format_count (self->running);
  pending_text = cdl_format_count (self->pending);
  /* TRANSLATORS: images on a worker now · images waiting for one */
  active = g_strdup_printf (_("%s · %s"), running_text, pending_text);
  gtk_label_set_label (self->active_label, active);

  failed = cdl_format_count (self->failed);
  gtk_label_set_label (self->failed_label, failed);
  if (self->failed > 0)
    gtk_widget_add_css_class (GTK_WIDGET (self->failed_label), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->failed_label), "error");
}

/* Prompts */

static void
cdl_run_dashboard_update_prompts_label (CdlRunDashboard *self)
{
  g_autofree char *text = NULL;
  g_autofree char *shown = cdl_format_count (self->prompt_rows->len);
  g_autofree char *all = cdl_format_count (self->prompt_count);

  if (self->prompt_rows->len > 0)
    /* TRANSLATORS: prompts shown out of all */
    text = g_strdup_printf (_("%s of %s"), shown, all);
  gtk_label_set_label (self->prompts_label, text != NULL ? text : "");
}

static void
cdl_run_dashboard_set_prompt_counts (CdlRunDashboard *self,
                                     GtkWidget       *row,
                                     gint64           done,
                                     gint64           failed,
                                     gint64           retries)
{
  GtkLabel *label = g_object_get_data (G_OBJECT (row), "counts");
  GString *text = g_string_new (NULL);

  /* TRANSLATORS: images of one prompt stored, out of its seeds */
  g_string_append_printf (text, _("%d/%d done"), (int) done, self->seeds_per_prompt);
  if (failed > 0)
    /* TRANSLATORS: failed jobs of one prompt */
    g_string_append_printf (text, ngettext (" · %d failed", " · %d failed", (gulong) failed),
                            (int) failed);
  if (retries > 0)
    /* TRANSLATORS: retries used for one prompt */
    g_string_append_printf (text, ngettext (" · %d retry", " · %d retries", (gulong) retries),
                            (int) retries);
  gtk_label_set_label (label, text->str);
  g_string_free (text, TRUE);

  if (failed > 0)
    gtk_widget_add_css_class (GTK_WIDGET (label), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (label), "error");

  if (self->seeds_per_prompt > 0 && done >= self->seeds_per_prompt)
    gtk_widget_add_css_class (GTK_WIDGET (label), "success");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (label), "success");
}

static GtkWidget *
cdl_run_dashboard_add_prompt_row (CdlRunDashboard *self,
                                  const CdlPrompt *prompt)
{
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *number = gtk_label_new (NULL);
  GtkWidget *counts = gtk_label_new (NULL);
  g_autofree char *position = g_strdup_printf ("%u", prompt->position + 1);

  gtk_label_set_label (GTK_LABEL (number), position);
  gtk_label_set_width_chars (GTK_LABEL (number), 4);
  gtk_label_set_xalign (GTK_LABEL (number), 1);
  gtk_widget_add_css_class (number, "dim-label");
  gtk_widget_add_css_class (number, "numeric");
  adw_action_row_add_prefix (ADW_ACTION_ROW (row), number);

  gtk_widget_set_name (counts, "run-prompt-counts");
  gtk_widget_add_css_class (counts, "numeric");
  gtk_widget_add_css_class (counts, "caption");
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), counts);
  g_object_set_data (G_OBJECT (row), "counts", counts);

  gtk_widget_set_name (row, "run-prompt-row");
  gtk_widget_set_tooltip_text (row, prompt->text);
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), prompt->text);
  adw_action_row_set_title_lines (ADW_ACTION_ROW (row), 1);
  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), FALSE);

  if (self->more_row != NULL)
    gtk_list_box_insert (self->prompts_list, row,
                         gtk_list_box_row_get_index (GTK_LIST_BOX_ROW (self->more_row)));
  else
    gtk_list_box_append (self->prompts_list, row);

  g_ptr_array_add (self->prompt_rows, row);
  g_hash_table_insert (self->rows_by_position, GINT_TO_POINTER (prompt->position), row);
  cdl_run_dashboard_set_prompt_counts (self, row, 0, 0, 0);

  return row;
}

static void
cdl_run_dashboard_update_more_row (CdlRunDashboard *self)
{
  if (self->next_after >= 0 && self->more_row == NULL)
    {
      GtkWidget *label = gtk_label_new (_("Show More Prompts"));

      self->more_row = gtk_list_box_row_new ();
      gtk_widget_set_name (self->more_row, "run-more-row");
      gtk_widget_add_css_class (label, "more-label");
      gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (self->more_row), label);
      gtk_list_box_append (self->prompts_list, self->more_row);
    }
  else if (self->next_after < 0 && self->more_row != NULL)
    {
      gtk_list_box_remove (self->prompts_list, self->more_row);
      self->more_row = NULL;
    }

  if (self->more_row != NULL)
    gtk_widget_set_sensitive (self->more_row, !self->loading_prompts);
}

static void
cdl_run_dashboard_prompts_cb (GObject      *object,
                              GAsyncResult *result,
                              gpointer      user_data)
{
  g_autoptr(Call) call = user_data;
  CdlRunDashboard *self = call->self;
  g_autoptr(CdlTask) task = NULL;
  g_autoptr(GError) error = NULL;
  const CdlTaskData *data;

  task = cdl_task_service_get_finish (CDL_TASK_SERVICE (object), result, &error);
  if (!call_is_current (call))
    return;

  self->loading_prompts = FALSE;

  if (task == NULL)
    {
      g_autofree char *text = NULL;

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;

      /* TRANSLATORS: %s is the reason */
      text = g_strdup_printf (_("Could not read the prompts: %s"), error->message);
      cdl_run_dashboard_toast (self, text);
      cdl_run_dashboard_update_more_row (self);
      return;
    }

  data = cdl_task_get_data (task);
  self->seeds_per_prompt = data->seeds_per_prompt;
  self->prompt_count = data->prompt_count;
  self->expected = data->seed_count;
  self->next_after = data->next_after;

  for (guint i = 0; data->prompts != NULL && i < data->prompts->len; i++)
    {
      const CdlPrompt *prompt = g_ptr_array_index (data->prompts, i);

      if (!g_hash_table_contains (self->rows_by_position, GINT_TO_POINTER (prompt->position)))
        cdl_run_dashboard_add_prompt_row (self, prompt);
    }

  cdl_run_dashboard_update_more_row (self);
  cdl_run_dashboard_update_prompts_label (self);
  cdl_run_dashboard_show_numbers (self);

  /* The counts of the new rows. */
  cdl_run_dashboard_refresh (self);
}

static void
cdl_run_dashboard_load_prompts (CdlRunDashboard *self)
{
  int after = -1;

  if (self->tasks == NULL || self->task_id == NULL || self->loading_prompts)
    return;

  if (self->prompt_rows->len > 0)
    after = self->next_after;
  if (self->prompt_rows->len > 0 && after < 0)
    return;

  self->loading_prompts = TRUE;
  cdl_run_dashboard_update_more_row (self);
  cdl_task_service_get_async (self->tasks, self->task_id, after, PROMPTS_PER_PAGE,
                              self->cancellable, cdl_run_dashboard_prompts_cb,
                              call_new (self));
}

static void
cdl_run_dashboard_row_activated_cb (CdlRunDashboard *self,
                                    GtkListBoxRow   *row,
                                    GtkListBox      *list)
{
  if (GTK_WIDGET (row) == self->more_row)
    cdl_run_dashboard_load_prompts (self);
}

/* Progress */

static void
cdl_run_dashboard_progress_cb (GObject      *object,
                               GAsyncResult *result,
                               gpointer      user_data)
{
  g_autoptr(Call) call = user_data;
  CdlRunDashboard *self = call->self;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *obj;
  JsonArray *per_prompt;

  node = cdl_run_service_finish (CDL_RUN_SERVICE (object), result, &error);
  self->reading = FALSE;

  if (!call_is_current (call))
    {
      if (self->read_again && self->task_id != NULL)
        cdl_run_dashboard_schedule_read (self);
      self->read_again = FALSE;
      return;
    }

  if (node == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("Could not read the progress of %s: %s", call->task_id, error->message);
    }
  else if (JSON_NODE_HOLDS_OBJECT (node))
    {
      obj = json_node_get_object (node);
      self->total = json_object_get_int_member_with_default (obj, "total", 0);
      self->done = json_object_get_int_member_with_default (obj, "done", 0);
      self->running = json_object_get_int_member_with_default (obj, "running", 0);
      self->pending = json_object_get_int_member_with_default (obj, "pending", 0);
      self->failed = json_object_get_int_member_with_default (obj, "failed", 0);
      cdl_run_dashboard_set_state (self,
                                   json_object_get_string_member_with_default (obj, "state",
                                                                               NULL));
      cdl_run_dashboard_add_sample (self);
      cdl_run_dashboard_show_numbers (self);

      per_prompt = json_object_get_array_member (obj, "per_prompt");
      for (guint i = 0; per_prompt != NULL && i < json_array_get_length (per_prompt); i++)
        {
          JsonObject *p = json_array_get_object_element (per_prompt, i);
          int position = json_object_get_int_member_with_default (p, "position", -1);
          GtkWidget *row = g_hash_table_lookup (self->rows_by_position,
                                                GINT_TO_POINTER (position));

          if (row != NULL)
            cdl_run_dashboard_set_prompt_counts (
              self, row,
              json_object_get_int_member_with_default (p, "done", 0),
              json_object_get_int_member_with_default (p, "failed", 0),
              json_object_get_int_member_with_default (p, "retries_used", 0));
        }
    }

  if (self->read_again)
    {
      self->read_again = FALSE;
      cdl_run_dashboard_schedule_read (self);
    }
}

static void
cdl_run_dashboard_read (CdlRunDashboard *self)
{
  guint limit;

  if (self->runs == NULL || self->task_id == NULL)
    return;

  if (self->reading)
    {
      self->read_again = TRUE;
      return;
    }

  /* The rows shown are read again together, from the first. */
  limit = CLAMP (self->prompt_rows->len, 1, CDL_TASK_PAGE_MAX);

  self->reading = TRUE;
  self->last_read = g_get_monotonic_time ();
  cdl_run_service_progress_async (self->runs, self->task_id, -1, limit, self->cancellable,
                                  cdl_run_dashboard_progress_cb, call_new (self));
}

static gboolean
cdl_run_dashboard_throttle_cb (gpointer user_data)
{
  CdlRunDashboard *self = user_data;

  self->throttle_id = 0;
  cdl_run_dashboard_read (self);

  return G_SOURCE_REMOVE;
}

static void
cdl_run_dashboard_schedule_read (CdlRunDashboard *self)
{
  gint64 since;

  if (self->throttle_id != 0 || self->task_id == NULL)
    return;

  since = (g_get_monotonic_time () - self->last_read) / 1000;
  if (since >= MIN_REFRESH_MS)
    cdl_run_dashboard_read (self);
  else
    self->throttle_id = g_timeout_add (MIN_REFRESH_MS - since,
                                       cdl_run_dashboard_throttle_cb, self);
}

static gboolean
cdl_run_dashboard_poll_cb (gpointer user_data)
{
  CdlRunDashboard *self = user_data;

  cdl_run_dashboard_schedule_read (self);

  return G_SOURCE_CONTINUE;
}

static void
cdl_run_dashboard_progress_changed_cb (CdlRunDashboard *self,
                                       const char      *task_id,
                                       CdlRunService   *runs)
{
  if (self->task_id == NULL)
    return;

  if (task_id == NULL || g_strcmp0 (task_id, self->task_id) == 0)
    cdl_run_dashboard_schedule_read (self);
}

/* Workers */

static void
cdl_run_dashboard_show_worker (CdlRunDashboard *self,
                               CdlWorker       *worker)
{
  GtkWidget *row = g_hash_table_lookup (self->worker_rows, cdl_worker_get_id (worker));
  GtkWidget *badge;
  GtkWidget *queue;
  g_autofree char *queue_text = NULL;
  int depth = cdl_worker_get_current_queue_len (worker);

  if (row == NULL)
    {
      row = adw_action_row_new ();
      gtk_widget_set_name (row, "run-worker-row");
      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);

      queue = gtk_label_new (NULL);
      gtk_widget_set_name (queue, "run-worker-queue");
      gtk_widget_add_css_class (queue, "dim-label");
      gtk_widget_add_css_class (queue, "numeric");
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), queue);
      g_object_set_data (G_OBJECT (row), "queue", queue);

      badge = gtk_label_new (NULL);
      gtk_widget_set_name (badge, "run-worker-badge");
      gtk_widget_set_valign (badge, GTK_ALIGN_CENTER);
      gtk_widget_add_css_class (badge, "health-badge");
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), badge);
      g_object_set_data (G_OBJECT (row), "badge", badge);

      g_hash_table_insert (self->worker_rows, g_strdup (cdl_worker_get_id (worker)), row);
      gtk_list_box_append (self->workers_list, row);
    }

  badge = g_object_get_data (G_OBJECT (row), "badge");
  queue = g_object_get_data (G_OBJECT (row), "queue");

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), cdl_worker_get_name (worker));
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), cdl_worker_get_base_url (worker));

  if (!cdl_worker_get_enabled (worker))
    {
      gtk_label_set_label (GTK_LABEL (badge), _("Disabled"));
      cdl_set_badge_class (badge, "disabled");
    }
  else if (cdl_worker_get_last_checked_at (worker) == NULL)
    {
      gtk_label_set_label (GTK_LABEL (badge), _("Checking…"));
      cdl_set_badge_class (badge, "checking");
    }
  else if (cdl_worker_get_status (worker) == CDL_WORKER_STATUS_HEALTHY)
    {
      gtk_label_set_label (GTK_LABEL (badge), _("Healthy"));
      cdl_set_badge_class (badge, "healthy");
    }
  else
    {
      gtk_label_set_label (GTK_LABEL (badge), _("Unhealthy"));
      cdl_set_badge_class (badge, "unhealthy");
    }

  /* TRANSLATORS: jobs pending or running on a worker, of its limit */
  queue_text = g_strdup_printf (ngettext ("%d of %d job queued", "%d of %d jobs queued",
                                          (gulong) cdl_worker_get_max_concurrent_jobs (worker)),
                                depth, cdl_worker_get_max_concurrent_jobs (worker));
  gtk_label_set_label (GTK_LABEL (queue), queue_text);
}

static void
cdl_run_dashboard_workers_cb (GObject      *object,
                              GAsyncResult *result,
                              gpointer      user_data)
{
  g_autoptr(CdlRunDashboard) self = user_data;
  g_autoptr(GPtrArray) workers = NULL;
  g_autoptr(GError) error = NULL;

  workers = cdl_worker_service_list_finish (CDL_WORKER_SERVICE (object), result, &error);
  if (workers == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("Could not list the workers: %s", error->message);
      return;
    }

  for (guint i = 0; i < workers->len; i++)
    cdl_run_dashboard_show_worker (self, g_ptr_array_index (workers, i));
}

static void
cdl_run_dashboard_worker_changed_cb (CdlRunDashboard  *self,
                                     CdlWorker        *worker,
                                     CdlWorkerService *service)
{
  cdl_run_dashboard_show_worker (self, worker);
}

/* Run, pause, resume, cancel */

static void
cdl_run_dashboard_op_cb (GObject      *object,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  g_autoptr(Call) call = user_data;
  CdlRunDashboard *self = call->self;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GError) error = NULL;

  node = cdl_run_service_finish (CDL_RUN_SERVICE (object), result, &error);
  if (!call_is_current (call))
    return;

  self->busy = FALSE;
  cdl_run_dashboard_update_actions (self);

  if (node == NULL)
    {
      g_autofree char *text = NULL;

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;

      switch (call->op)
        {
        case RUN_OP_RUN:
          /* TRANSLATORS: %s is the reason */
          text = g_strdup_printf (_("Could not start the run: %s"), error->message);
          break;
        case RUN_OP_PAUSE:
          /* TRANSLATORS: %s is the reason */
          text = g_strdup_printf (_("Could not pause the run: %s"), error->message);
          break;
        case RUN_OP_RESUME:
          /* TRANSLATORS: %s is the reason */
          text = g_strdup_printf (_("Could not resume the run: %s"), error->message);
          break;
        case RUN_OP_CANCEL:
        default:
          /* TRANSLATORS: %s is the reason */
          text = g_strdup_printf (_("Could not cancel the run: %s"), error->message);
          break;
        }
      cdl_run_dashboard_toast (self, text);
    }
  else if (JSON_NODE_HOLDS_OBJECT (node))
    {
      const char *state = json_object_get_string_member_with_default (json_node_get_object (node),
                                                                      "state", NULL);

      if (state != NULL)
        cdl_run_dashboard_set_state (self, state);
    }

  cdl_run_dashboard_refresh (self);
}

static void
cdl_run_dashboard_start_op (CdlRunDashboard *self,
                            RunOp            op)
{
  Call *call;

  if (self->runs == NULL || self->task_id == NULL || self->busy)
    return;

  self->busy = TRUE;
  cdl_run_dashboard_update_actions (self);
  call = call_new (self);
  call->op = op;

  switch (op)
    {
    case RUN_OP_RUN:
      cdl_run_service_run_async (self->runs, self->task_id, self->cancellable,
                                 cdl_run_dashboard_op_cb, call);
      break;
    case RUN_OP_PAUSE:
      cdl_run_service_pause_async (self->runs, self->task_id, self->cancellable,
                                   cdl_run_dashboard_op_cb, call);
      break;
    case RUN_OP_RESUME:
      cdl_run_service_resume_async (self->runs, self->task_id, self->cancellable,
                                    cdl_run_dashboard_op_cb, call);
      break;
    case RUN_OP_CANCEL:
    default:
      cdl_run_service_cancel_async (self->runs, self->task_id, self->cancellable,
                                    cdl_run_dashboard_op_cb, call);
      break;
    }
}

static void
cdl_run_dashboard_cancel_response_cb (AdwMessageDialog *dialog,
                                      const char       *response,
                                      gpointer          user_data)
{
  CdlRunDashboard *self = user_data;
  const char *id = g_object_get_data (G_OBJECT (dialog), "task-id");

  if (g_strcmp0 (response, "cancel-run") != 0 || g_strcmp0 (id, self->task_id) != 0)
    return;

  cdl_run_dashboard_start_op (self, RUN_OP_CANCEL);
}

static void
cdl_run_dashboard_pause_action (GtkWidget  *widget,
                                const char *action_name,
                                GVariant   *parameter)
{
  cdl_run_dashboard_pause (CDL_RUN_DASHBOARD (widget));
}

static void
cdl_run_dashboard_resume_action (GtkWidget  *widget,
                                 const char *action_name,
                                 GVariant   *parameter)
{
  cdl_run_dashboard_run (CDL_RUN_DASHBOARD (widget));
}

static void
cdl_run_dashboard_cancel_action (GtkWidget  *widget,
                                 const char *action_name,
                                 GVariant   *parameter)
{
  cdl_run_dashboard_cancel (CDL_RUN_DASHBOARD (widget));
}

/* GObject */

static void
cdl_run_dashboard_stop (CdlRunDashboard *self)
{
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_handle_id (&self->throttle_id, g_source_remove);
  g_clear_handle_id (&self->poll_id, g_source_remove);
}

static void
cdl_run_dashboard_dispose (GObject *object)
{
  CdlRunDashboard *self = CDL_RUN_DASHBOARD (object);
  GtkWidget *child;

  cdl_run_dashboard_stop (self);
  g_clear_pointer (&self->task_id, g_free);

  gtk_widget_dispose_template (GTK_WIDGET (self), CDL_TYPE_RUN_DASHBOARD);
  self->more_row = NULL;
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self))) != NULL)
    gtk_widget_unparent (child);

  g_clear_object (&self->runs);
  g_clear_object (&self->tasks);
  g_clear_object (&self->workers);

  G_OBJECT_CLASS (cdl_run_dashboard_parent_class)->dispose (object);
}

static void
cdl_run_dashboard_finalize (GObject *object)
{
  CdlRunDashboard *self = CDL_RUN_DASHBOARD (object);

  g_clear_pointer (&self->state, g_free);
  g_clear_pointer (&self->samples, g_array_unref);
  g_clear_pointer (&self->prompt_rows, g_ptr_array_unref);
  g_clear_pointer (&self->rows_by_position, g_hash_table_unref);
  g_clear_pointer (&self->worker_rows, g_hash_table_unref);

  G_OBJECT_CLASS (cdl_run_dashboard_parent_class)->finalize (object);
}

static void
cdl_run_dashboard_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  CdlRunDashboard *self = CDL_RUN_DASHBOARD (object);

  switch (prop_id)
    {
    case PROP_STATE:
      g_value_set_string (value, self->state);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdl_run_dashboard_class_init (CdlRunDashboardClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = cdl_run_dashboard_dispose;
  object_class->finalize = cdl_run_dashboard_finalize;
  object_class->get_property = cdl_run_dashboard_get_property;

  /* The run state last read, or %NULL. */
  properties[PROP_STATE] =
    g_param_spec_string ("state", NULL, NULL,
                         NULL,
                         (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               RESOURCE_BASE "/ui/cdl-run-dashboard.ui");
  gtk_widget_class_bind_template_child (widget_class, CdlRunDashboard, pause_button);
  gtk_widget_class_bind_template_child (widget_class, CdlRunDashboard, resume_button);
  gtk_widget_class_bind_template_child (widget_class, CdlRunDashboard, cancel_button);
  gtk_widget_class_bind_template_child (widget_class, CdlRunDashboard, state_badge);
  gtk_widget_class_bind_template_child (widget_class, CdlRunDashboard, count_label);
  gtk_widget_class_bind_template_child (widget_class, CdlRunDashboard, percent_label);
  gtk_widget_class_bind_template_child (widget_class, CdlRunDashboard, progress_bar);
  gtk_widget_class_bind_template_child (widget_class, CdlRunDashboard, rate_label);
  gtk_widget_class_bind_template_child (widget_class, CdlRunDashboard, eta_label);
  gtk_widget_class_bind_template_child (widget_class, CdlRunDashboard, active_label);
  gtk_widget_class_bind_template_child (widget_class, CdlRunDashboard, failed_label);
  gtk_widget_class_bind_template_child (widget_class, CdlRunDashboard, workers_list);
  gtk_widget_class_bind_template_child (widget_class, CdlRunDashboard, prompts_label);
  gtk_widget_class_bind_template_child (widget_class, CdlRunDashboard, prompts_list);
  gtk_widget_class_bind_template_callback (widget_class, cdl_run_dashboard_row_activated_cb);

  gtk_widget_class_install_action (widget_class, "run.pause", NULL,
                                   cdl_run_dashboard_pause_action);
  gtk_widget_class_install_action (widget_class, "run.resume", NULL,
                                   cdl_run_dashboard_resume_action);
  gtk_widget_class_install_action (widget_class, "run.cancel", NULL,
                                   cdl_run_dashboard_cancel_action);
}

static void
cdl_run_dashboard_init (CdlRunDashboard *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->samples = g_array_new (FALSE, FALSE, sizeof (Sample));
  self->prompt_rows = g_ptr_array_new ();
  self->rows_by_position = g_hash_table_new (NULL, NULL);
  self->worker_rows = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->next_after = -1;

  cdl_run_dashboard_update_actions (self);
}

CdlRunDashboard *
cdl_run_dashboard_new (void)
{
  return g_object_new (CDL_TYPE_RUN_DASHBOARD, NULL);
}

void
cdl_run_dashboard_set_services (CdlRunDashboard  *self,
                                CdlRunService    *runs,
                                CdlTaskService   *tasks,
                                CdlWorkerService *workers)
{
  g_return_if_fail (CDL_IS_RUN_DASHBOARD (self));
  g_return_if_fail (runs == NULL || CDL_IS_RUN_SERVICE (runs));
  g_return_if_fail (tasks == NULL || CDL_IS_TASK_SERVICE (tasks));
  g_return_if_fail (workers == NULL || CDL_IS_WORKER_SERVICE (workers));

  if (self->runs != runs)
    {
      if (self->runs != NULL)
        g_signal_handlers_disconnect_by_func (self->runs,
                                              cdl_run_dashboard_progress_changed_cb, self);
      g_set_object (&self->runs, runs);
      if (runs != NULL)
        g_signal_connect_object (runs, "progress-changed",
                                 G_CALLBACK (cdl_run_dashboard_progress_changed_cb), self,
                                 G_CONNECT_SWAPPED);
    }

  g_set_object (&self->tasks, tasks);

  if (self->workers != workers)
    {
      if (self->workers != NULL)
        g_signal_handlers_disconnect_by_func (self->workers,
                                              cdl_run_dashboard_worker_changed_cb, self);
      g_set_object (&self->workers, workers);
      g_hash_table_remove_all (self->worker_rows);
      cdl_clear_list_box (self->workers_list);

      if (workers != NULL)
        {
          g_signal_connect_object (workers, "worker-changed",
                                   G_CALLBACK (cdl_run_dashboard_worker_changed_cb), self,
                                   G_CONNECT_SWAPPED);
          cdl_worker_service_list_async (workers, NULL, cdl_run_dashboard_workers_cb,
                                         g_object_ref (self));
        }
    }
}

void
cdl_run_dashboard_set_task (CdlRunDashboard *self,
                            const char      *task_id)
{
  g_return_if_fail (CDL_IS_RUN_DASHBOARD (self));

  if (g_strcmp0 (self->task_id, task_id) == 0)
    return;

  cdl_run_dashboard_stop (self);
  g_free (self->task_id);
  self->task_id = g_strdup (task_id);

  self->reading = FALSE;
  self->read_again = FALSE;
  self->busy = FALSE;
  self->loading_prompts = FALSE;
  self->last_read = 0;
  self->total = self->expected = self->done = self->failed = 0;
  self->running = self->pending = 0;
  self->prompt_count = 0;
  self->next_after = -1;
  g_array_set_size (self->samples, 0);
  g_ptr_array_set_size (self->prompt_rows, 0);
  g_hash_table_remove_all (self->rows_by_position);
  cdl_clear_list_box (self->prompts_list);
  self->more_row = NULL;
  cdl_run_dashboard_set_state (self, NULL);
  cdl_run_dashboard_update_prompts_label (self);
  cdl_run_dashboard_show_numbers (self);

  if (task_id == NULL)
    return;

  self->cancellable = g_cancellable_new ();
  self->poll_id = g_timeout_add_seconds (POLL_SECONDS, cdl_run_dashboard_poll_cb, self);
  cdl_run_dashboard_load_prompts (self);
  cdl_run_dashboard_read (self);
}

const char *
cdl_run_dashboard_get_task (CdlRunDashboard *self)
{
  g_return_val_if_fail (CDL_IS_RUN_DASHBOARD (self), NULL);

  return self->task_id;
}

const char *
cdl_run_dashboard_get_state (CdlRunDashboard *self)
{
  g_return_val_if_fail (CDL_IS_RUN_DASHBOARD (self), NULL);

  return self->state;
}

gint64
cdl_run_dashboard_get_done (CdlRunDashboard *self)
{
  g_return_val_if_fail (CDL_IS_RUN_DASHBOARD (self), 0);

  return self->done;
}

gint64
cdl_run_dashboard_get_total (CdlRunDashboard *self)
{
  g_return_val_if_fail (CDL_IS_RUN_DASHBOARD (self), 0);

  return self->total > 0 ? self->total : self->expected;
}

void
cdl_run_dashboard_run (CdlRunDashboard *self)
{
  g_return_if_fail (CDL_IS_RUN_DASHBOARD (self));

  cdl_run_dashboard_start_op (self, g_strcmp0 (self->state, "PAUSED") == 0
                                      ? RUN_OP_RESUME : RUN_OP_RUN);
}

void
cdl_run_dashboard_pause (CdlRunDashboard *self)
{
  g_return_if_fail (CDL_IS_RUN_DASHBOARD (self));

  cdl_run_dashboard_start_op (self, RUN_OP_PAUSE);
}

void
cdl_run_dashboard_cancel (CdlRunDashboard *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  g_autofree char *body = NULL;
  g_autofree char *left = NULL;
  GtkWidget *dialog;
  gint64 total;

  g_return_if_fail (CDL_IS_RUN_DASHBOARD (self));

  if (self->task_id == NULL || self->busy)
    return;

  total = cdl_run_dashboard_get_total (self);
  left = cdl_format_count (MAX (total - self->done, 0));
  /* TRANSLATORS: %s is a number of images */
  body = g_strdup_printf (ngettext ("The %s image not made yet will not be made. Images "
                                    "already stored stay. A cancelled run cannot go on.",
                                    "The %s images not made yet will not be made. Images "
                                    "already stored stay. A cancelled run cannot go on.",
                                    (gulong) MAX (total - self->done, 0)),
                          left);

  dialog = adw_message_dialog_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                   _("Cancel the Run?"), body);
  gtk_widget_set_name (dialog, "cancel-run-dialog");
  g_object_set_data_full (G_OBJECT (dialog), "task-id", g_strdup (self->task_id), g_free);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "keep", _("_Keep Running"),
                                    "cancel-run", _("_Cancel Run"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "cancel-run",
                                              ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "keep");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "keep");
  g_signal_connect_data (dialog, "response",
                         G_CALLBACK (cdl_run_dashboard_cancel_response_cb),
                         g_object_ref (self), (GClosureNotify) (void (*) (void)) g_object_unref,
                         0);

  gtk_window_present (GTK_WINDOW (dialog));
}

void
cdl_run_dashboard_refresh (CdlRunDashboard *self)
{
  g_return_if_fail (CDL_IS_RUN_DASHBOARD (self));

  cdl_run_dashboard_schedule_read (self);
}
