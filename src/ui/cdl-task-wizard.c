/* cdl-task-wizard.c: the steps that build a new task
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-ui"

#include "config.h"

#include <inttypes.h>

#include <string.h>
#include <glib/gi18n.h>

#include "core/cdl-sampling.h"
#include "ui/cdl-task-wizard.h"

/* How many prompts the last step shows; the task page pages through all. */
#define PREVIEW_PROMPTS 10

struct _CdlTaskWizard
{
  AdwWindow           parent_instance;

  CdlTaskService     *tasks;
  CdlWorkflowService *workflows;
  CdlPoolService     *pools;
  CdlSettingsService *settings;
  GCancellable       *cancellable;

  CdlWorkflow        *workflow;
  /* The template as the workflow gave it, to tell an edit from it. */
  char               *default_template;
  GPtrArray          *pool_checks;   /* GtkCheckButton with a "pool" */
  int                 max_batch_size;
  CdlTask            *task;
  guint               step;
  gboolean            busy;
  gboolean            announced;

  /* template */
  AdwWindowTitle     *window_title;
  GtkWidget          *back_button;
  GtkButton          *next_button;
  GtkStack           *stack;
  AdwEntryRow        *name_row;
  AdwEntryRow        *notes_row;
  GtkListBox         *workflow_list;
  GtkWidget          *workflow_empty_label;
  GtkListBox         *pool_list;
  GtkWidget          *pool_empty_label;
  GtkTextView        *template_view;
  GtkLabel           *slots_label;
  GtkLabel           *pools_error_label;
  AdwActionRow       *prompts_row;
  GtkSpinButton      *prompts_spin;
  GtkSpinButton      *seeds_spin;
  GtkLabel           *total_label;
  GtkLabel           *counts_error_label;
  GtkStack           *preview_stack;
  GtkSpinner         *preview_spinner;
  AdwStatusPage      *preview_error_page;
  AdwPreferencesGroup *preview_group;
  GtkListBox         *preview_list;
};

G_DEFINE_FINAL_TYPE (CdlTaskWizard, cdl_task_wizard, ADW_TYPE_WINDOW)

enum {
  PROP_0,
  PROP_TASKS,
  PROP_WORKFLOWS,
  PROP_POOLS,
  PROP_SETTINGS,
  N_PROPS
};

enum {
  CREATED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static const char * const step_names[] = { "workflow", "pools", "counts", "preview" };

static void cdl_task_wizard_update (CdlTaskWizard *self);

static const char *
cdl_step_title (guint step)
{
  switch (step)
    {
    case 0:
      return _("Workflow");
    case 1:
      return _("Pools and Template");
    case 2:
      return _("Prompts and Seeds");
    default:
      return _("Preview");
    }
}

static void
cdl_clear_list_box (GtkListBox *list)
{
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (list))) != NULL)
    gtk_list_box_remove (list, child);
}

static void
cdl_show_error (GtkLabel   *label,
                const char *message)
{
  gtk_label_set_label (label, message != NULL ? message : "");
  gtk_widget_set_visible (GTK_WIDGET (label), message != NULL);
}

static char *
cdl_task_wizard_get_template (CdlTaskWizard *self)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->template_view);
  GtkTextIter start, end;

  gtk_text_buffer_get_bounds (buffer, &start, &end);

  return gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
}

static const char *
cdl_workflow_positive_text (CdlWorkflow *workflow)
{
  const CdlWorkflowData *data = cdl_workflow_get_data (workflow);

  for (guint i = 0; data->prompt_nodes != NULL && i < data->prompt_nodes->len; i++)
    {
      const CdlPromptNode *node = g_ptr_array_index (data->prompt_nodes, i);

      if (node->role == CDL_PROMPT_ROLE_POSITIVE && node->text != NULL)
        return node->text;
    }

  return NULL;
}

/* The chosen pools, in list order (borrowed CdlPool pointers). */
static GPtrArray *
cdl_task_wizard_chosen_pools (CdlTaskWizard *self)
{
  GPtrArray *chosen = g_ptr_array_new ();

  for (guint i = 0; i < self->pool_checks->len; i++)
    {
      GtkCheckButton *check = g_ptr_array_index (self->pool_checks, i);

      if (gtk_check_button_get_active (check))
        g_ptr_array_add (chosen, g_object_get_data (G_OBJECT (check), "pool"));
    }

  return chosen;
}

/* The {slot} names of a template, in order, without repeats; "{{" and
 * "}}" are literal braces. */
static char **
cdl_template_slots (const char *text)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (const char *p = text; *p != '\0'; p++)
    {
      const char *end;

      if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}'))
        {
          p++;
          continue;
        }

      if (*p != '{' || (end = strchr (p + 1, '}')) == NULL)
        continue;

      {
        char *slot = g_strndup (p + 1, end - p - 1);

        if (g_hash_table_add (seen, slot))
          g_strv_builder_add (builder, slot);
      }
      p = end;
    }

  return g_strv_builder_end (builder);
}

static gboolean
cdl_is_blank (const char *text)
{
  for (; *text != '\0'; text = g_utf8_next_char (text))
    {
      if (!g_unichar_isspace (g_utf8_get_char (text)))
        return FALSE;
    }

  return TRUE;
}

/* Checks the template against the chosen pools with the same rules the
 * service applies, so that the step says what is wrong before Next. */
static gboolean
cdl_task_wizard_check_template (CdlTaskWizard *self)
{
  g_autofree char *text = cdl_task_wizard_get_template (self);
  g_autoptr(GPtrArray) chosen = cdl_task_wizard_chosen_pools (self);
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  g_autoptr(CdlTemplate) tmpl = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) slots = cdl_template_slots (text);
  g_autofree char *slot_text = NULL;
  GString *listed = g_string_new (NULL);

  for (guint i = 0; i < chosen->len; i++)
    g_ptr_array_add (names, (gpointer) cdl_pool_get_name (g_ptr_array_index (chosen, i)));

  for (guint i = 0; slots[i] != NULL; i++)
    g_string_append_printf (listed, "%s{%s}", i > 0 ? ", " : "", slots[i]);

  if (listed->len > 0)
    /* TRANSLATORS: %s lists the {slots} of a template */
    slot_text = g_strdup_printf (_("Slots: %s"), listed->str);
  else if (chosen->len > 0)
    slot_text = g_strdup (_("No slots: the items of the chosen pools are the whole prompt"));
  else
    slot_text = g_strdup (_("No slots and no pools: every prompt is this text"));
  g_string_free (listed, TRUE);
  gtk_label_set_label (self->slots_label, slot_text);

  if (cdl_is_blank (text) && chosen->len == 0)
    {
      cdl_show_error (self->pools_error_label, _("Write a template or choose a pool"));
      return FALSE;
    }

  tmpl = cdl_template_parse (text, (const char * const *) names->pdata, names->len, &error);
  cdl_show_error (self->pools_error_label, tmpl == NULL ? error->message : NULL);

  return tmpl != NULL;
}

static void
cdl_task_wizard_update_counts (CdlTaskWizard *self)
{
  g_autoptr(GPtrArray) chosen = cdl_task_wizard_chosen_pools (self);
  g_autofree CdlSamplePool *samples = g_new0 (CdlSamplePool, MAX (chosen->len, 1));
  g_autofree char *total = NULL;
  int k = gtk_spin_button_get_value_as_int (self->prompts_spin);
  int n = gtk_spin_button_get_value_as_int (self->seeds_spin);
  guint64 capacity;

  for (guint i = 0; i < chosen->len; i++)
    {
      CdlPool *pool = g_ptr_array_index (chosen, i);

      samples[i].name = cdl_pool_get_name (pool);
      samples[i].mode = cdl_pool_get_mode (pool);
      samples[i].items = cdl_pool_get_items (pool);
      samples[i].n_items = cdl_pool_get_n_items (pool);
    }

  capacity = cdl_sampling_capacity (samples, chosen->len);
  if (capacity < CDL_TASK_PROMPTS_MAX)
    {
      g_autofree char *hint = NULL;

      /* Below CDL_TASK_PROMPTS_MAX, so it fits a guint; a plain %u keeps
       * the string extractable by xgettext. */
      hint = g_strdup_printf (ngettext ("The chosen pools give at most %u prompt",
                                        "The chosen pools give at most %u prompts",
                                        (gulong) capacity),
                              (guint) capacity);
      adw_action_row_set_subtitle (self->prompts_row, hint);
    }
  else
    {
      adw_action_row_set_subtitle (self->prompts_row, NULL);
    }

  /* TRANSLATORS: "K × N = images" */
  total = g_strdup_printf ("%d × %d = %" PRId64, k, n, (gint64) k * n);
  gtk_label_set_label (self->total_label, total);
}

static void
cdl_task_wizard_update (CdlTaskWizard *self)
{
  const char *name = step_names[self->step];
  g_autofree char *subtitle = NULL;
  gboolean can_go = FALSE;

  gtk_stack_set_visible_child_name (self->stack, name);

  /* TRANSLATORS: the step number, the number of steps and the step's title */
  subtitle = g_strdup_printf (_("Step %u of %u · %s"), self->step + 1,
                              (guint) G_N_ELEMENTS (step_names), cdl_step_title (self->step));
  adw_window_title_set_subtitle (self->window_title, subtitle);

  gtk_widget_set_visible (self->back_button, self->step > 0);

  switch (self->step)
    {
    case 0:
      can_go = self->workflow != NULL;
      break;

    case 1:
      can_go = cdl_task_wizard_check_template (self);
      break;

    case 2:
      cdl_task_wizard_update_counts (self);
      can_go = TRUE;
      break;

    default:
      can_go = self->task != NULL;
      break;
    }

  gtk_button_set_label (self->next_button,
                        self->step == G_N_ELEMENTS (step_names) - 1 ? _("C_reate") : _("_Next"));
  gtk_widget_set_sensitive (GTK_WIDGET (self->next_button), can_go && !self->busy);
  gtk_widget_set_sensitive (self->back_button, !self->busy);
}

static void
cdl_task_wizard_workflow_toggled_cb (CdlTaskWizard  *self,
                                     GtkCheckButton *check)
{
  CdlWorkflow *workflow = g_object_get_data (G_OBJECT (check), "workflow");
  g_autofree char *current = NULL;
  const char *positive;

  if (!gtk_check_button_get_active (check) || workflow == self->workflow)
    return;

  g_set_object (&self->workflow, workflow);

  /* A template the person has not changed follows the workflow. */
  current = cdl_task_wizard_get_template (self);
  positive = cdl_workflow_positive_text (workflow);
  if (self->default_template == NULL || g_strcmp0 (current, self->default_template) == 0)
    {
      g_free (self->default_template);
      self->default_template = g_strdup (positive != NULL ? positive : "");
      gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->template_view),
                                self->default_template, -1);
    }

  cdl_task_wizard_update (self);
}

static void
cdl_task_wizard_pools_changed_cb (CdlTaskWizard *self)
{
  cdl_task_wizard_update (self);
}

static void
cdl_task_wizard_counts_changed_cb (CdlTaskWizard *self)
{
  cdl_show_error (self->counts_error_label, NULL);
  gtk_widget_remove_css_class (GTK_WIDGET (self->prompts_spin), "error");
  gtk_widget_remove_css_class (GTK_WIDGET (self->seeds_spin), "error");
  cdl_task_wizard_update (self);
}

static void
cdl_task_wizard_workflows_cb (GObject      *object,
                              GAsyncResult *result,
                              gpointer      user_data)
{
  g_autoptr(CdlTaskWizard) self = user_data;
  g_autoptr(GPtrArray) workflows = NULL;
  g_autoptr(GError) error = NULL;
  GtkWidget *group = NULL;
  guint shown = 0;

  workflows = cdl_workflow_service_list_finish (CDL_WORKFLOW_SERVICE (object), result, &error);
  if (workflows == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;

      gtk_label_set_label (GTK_LABEL (self->workflow_empty_label), error->message);
      gtk_widget_set_visible (self->workflow_empty_label, TRUE);
      return;
    }

  cdl_clear_list_box (self->workflow_list);

  for (guint i = 0; i < workflows->len; i++)
    {
      CdlWorkflow *workflow = g_ptr_array_index (workflows, i);
      const CdlWorkflowData *data = cdl_workflow_get_data (workflow);
      GtkWidget *row;
      GtkWidget *check;
      g_autofree char *title = NULL;
      g_autofree char *subtitle = NULL;

      if (!data->valid)
        continue;

      /* TRANSLATORS: a workflow name and its version */
      title = g_strdup_printf (_("%s, version %d"), data->name, data->version);
      if (data->width > 0)
        subtitle = g_strdup_printf ("%s · %d×%d", data->model != NULL ? data->model : "",
                                    data->width, data->height);

      check = gtk_check_button_new ();
      gtk_widget_set_name (check, "workflow-check");
      gtk_widget_set_valign (check, GTK_ALIGN_CENTER);
      g_object_set_data_full (G_OBJECT (check), "workflow", g_object_ref (workflow),
                              g_object_unref);
      if (group == NULL)
        group = check;
      else
        gtk_check_button_set_group (GTK_CHECK_BUTTON (check), GTK_CHECK_BUTTON (group));
      g_signal_connect_object (check, "toggled",
                               G_CALLBACK (cdl_task_wizard_workflow_toggled_cb), self,
                               G_CONNECT_SWAPPED);

      row = adw_action_row_new ();
      gtk_widget_set_name (row, "workflow-choice");
      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
      adw_action_row_add_prefix (ADW_ACTION_ROW (row), check);
      adw_action_row_set_activatable_widget (ADW_ACTION_ROW (row), check);
      gtk_list_box_append (self->workflow_list, row);
      shown++;
    }

  gtk_widget_set_visible (GTK_WIDGET (self->workflow_list), shown > 0);
  gtk_widget_set_visible (self->workflow_empty_label, shown == 0);

  /* The newest valid one is the likely choice. */
  if (group != NULL)
    gtk_check_button_set_active (GTK_CHECK_BUTTON (group), TRUE);
}

static void
cdl_task_wizard_pools_cb (GObject      *object,
                          GAsyncResult *result,
                          gpointer      user_data)
{
  g_autoptr(CdlTaskWizard) self = user_data;
  g_autoptr(GPtrArray) pools = NULL;
  g_autoptr(GError) error = NULL;

  pools = cdl_pool_service_list_finish (CDL_POOL_SERVICE (object), result, &error);
  if (pools == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;

      gtk_label_set_label (GTK_LABEL (self->pool_empty_label), error->message);
      gtk_widget_set_visible (self->pool_empty_label, TRUE);
      return;
    }

  cdl_clear_list_box (self->pool_list);
  g_ptr_array_set_size (self->pool_checks, 0);

  for (guint i = 0; i < pools->len; i++)
    {
      CdlPool *pool = g_ptr_array_index (pools, i);
      GtkWidget *row = adw_action_row_new ();
      GtkWidget *check = gtk_check_button_new ();
      g_autofree char *subtitle = NULL;
      guint n = cdl_pool_get_n_items (pool);

      /* TRANSLATORS: a pool's version, item count and sampling mode */
      subtitle = g_strdup_printf (ngettext ("v%d · %u item · %s", "v%d · %u items · %s", n),
                                  cdl_pool_get_version (pool), n,
                                  cdl_pool_get_mode (pool) == CDL_POOL_MODE_PERMUTATION
                                    ? _("permutation") : _("without replacement"));

      gtk_widget_set_name (check, "pool-check");
      gtk_widget_set_valign (check, GTK_ALIGN_CENTER);
      g_object_set_data_full (G_OBJECT (check), "pool", g_object_ref (pool), g_object_unref);
      g_signal_connect_object (check, "toggled",
                               G_CALLBACK (cdl_task_wizard_pools_changed_cb), self,
                               G_CONNECT_SWAPPED);
      g_ptr_array_add (self->pool_checks, check);

      gtk_widget_set_name (row, "pool-choice");
      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), cdl_pool_get_name (pool));
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
      adw_action_row_add_prefix (ADW_ACTION_ROW (row), check);
      adw_action_row_set_activatable_widget (ADW_ACTION_ROW (row), check);
      gtk_list_box_append (self->pool_list, row);
    }

  gtk_widget_set_visible (GTK_WIDGET (self->pool_list), pools->len > 0);
  gtk_widget_set_visible (self->pool_empty_label, pools->len == 0);
  cdl_task_wizard_update (self);
}

static void
cdl_task_wizard_settings_cb (GObject      *object,
                             GAsyncResult *result,
                             gpointer      user_data)
{
  g_autoptr(CdlTaskWizard) self = user_data;
  g_autoptr(CdlSettings) settings = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *subtitle = NULL;
  GtkWidget *seeds_row;

  settings = cdl_settings_service_get_finish (CDL_SETTINGS_SERVICE (object), result, &error);
  if (settings == NULL)
    {
      /* The spin keeps its default range; the service still checks N. */
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("Could not read the limits: %s", error->message);
      return;
    }

  self->max_batch_size = MAX (settings->max_workflow_batch_size, 1);
  gtk_spin_button_set_range (self->seeds_spin, 1, self->max_batch_size);
  /* TRANSLATORS: %d is the largest batch the settings allow */
  subtitle = g_strdup_printf (_("Images of one prompt, sent as one batch; at most %d"),
                              self->max_batch_size);
  seeds_row = gtk_widget_get_ancestor (GTK_WIDGET (self->seeds_spin), ADW_TYPE_ACTION_ROW);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (seeds_row), subtitle);
}

/* Creating the draft */

static CdlTaskInput *
cdl_task_wizard_build_input (CdlTaskWizard *self)
{
  CdlTaskInput *input = cdl_task_input_new ();
  g_autoptr(GPtrArray) chosen = cdl_task_wizard_chosen_pools (self);
  g_autoptr(GStrvBuilder) ids = g_strv_builder_new ();
  g_autofree char *template_text = cdl_task_wizard_get_template (self);
  g_autofree char *name = g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->name_row)));
  g_autofree char *notes = g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->notes_row)));

  for (guint i = 0; i < chosen->len; i++)
    g_strv_builder_add (ids, cdl_pool_get_id (g_ptr_array_index (chosen, i)));

  input->set = (CDL_TASK_FIELD_WORKFLOW_ID |
                CDL_TASK_FIELD_POOL_IDS |
                CDL_TASK_FIELD_TARGET_PROMPTS |
                CDL_TASK_FIELD_SEEDS_PER_PROMPT |
                CDL_TASK_FIELD_PROMPT_TEMPLATE |
                CDL_TASK_FIELD_NAME |
                CDL_TASK_FIELD_NOTES);
  input->workflow_id = g_strdup (cdl_workflow_get_id (self->workflow));
  input->pool_ids = g_strv_builder_end (ids);
  input->target_prompts = gtk_spin_button_get_value_as_int (self->prompts_spin);
  input->seeds_per_prompt = gtk_spin_button_get_value_as_int (self->seeds_spin);

  /* The workflow's own text is the default; only an edit is stored. */
  if (g_strcmp0 (template_text, self->default_template) != 0)
    input->prompt_template = g_strdup (template_text);

  g_strstrip (name);
  g_strstrip (notes);
  input->name = *name != '\0' ? g_strdup (name) : NULL;
  input->notes = *notes != '\0' ? g_strdup (notes) : NULL;

  return input;
}

static void
cdl_task_wizard_show_preview (CdlTaskWizard *self)
{
  const CdlTaskData *data = cdl_task_get_data (self->task);
  GPtrArray *prompts = cdl_task_get_prompts (self->task);
  g_autofree char *description = NULL;
  gint64 total = (gint64) data->target_prompts * data->seeds_per_prompt;

  cdl_clear_list_box (self->preview_list);

  for (guint i = 0; prompts != NULL && i < prompts->len && i < PREVIEW_PROMPTS; i++)
    {
      const CdlPrompt *prompt = g_ptr_array_index (prompts, i);
      GtkWidget *row = adw_action_row_new ();
      GtkWidget *number = gtk_label_new (NULL);
      GString *seeds = g_string_new (NULL);
      g_autofree char *position = g_strdup_printf ("%u", prompt->position + 1);

      for (guint s = 0; s < prompt->n_seeds; s++)
        g_string_append_printf (seeds, "%s%" PRIu64, s > 0 ? "  " : "",
                                prompt->seeds[s]);

      gtk_label_set_label (GTK_LABEL (number), position);
      gtk_label_set_width_chars (GTK_LABEL (number), 3);
      gtk_label_set_xalign (GTK_LABEL (number), 1);
      gtk_widget_add_css_class (number, "dim-label");
      gtk_widget_add_css_class (number, "numeric");
      adw_action_row_add_prefix (ADW_ACTION_ROW (row), number);

      gtk_widget_set_name (row, "preview-row");
      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), prompt->text);
      adw_action_row_set_title_lines (ADW_ACTION_ROW (row), 0);
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), seeds->str);
      gtk_list_box_append (self->preview_list, row);
      g_string_free (seeds, TRUE);
    }

  /* TRANSLATORS: K prompts, N seeds, the image count, the workflow and its version */
  description = g_strdup_printf (_("Saved as a draft: %d prompts × %d seeds = %" PRId64
                                   " images with %s, version %d. Nothing is generated "
                                   "until the task is frozen and run."),
                                 data->target_prompts, data->seeds_per_prompt, total,
                                 data->workflow_name != NULL ? data->workflow_name : "",
                                 data->workflow_version);
  adw_preferences_group_set_description (self->preview_group, description);

  gtk_stack_set_visible_child_name (self->preview_stack, "done");
}

static void
cdl_task_wizard_saved_cb (GObject      *object,
                          GAsyncResult *result,
                          gpointer      user_data)
{
  g_autoptr(CdlTaskWizard) self = user_data;
  g_autoptr(CdlTask) task = NULL;
  g_autoptr(GError) error = NULL;
  gboolean created = self->task == NULL;

  if (created)
    task = cdl_task_service_create_finish (CDL_TASK_SERVICE (object), result, &error);
  else
    task = cdl_task_service_update_finish (CDL_TASK_SERVICE (object), result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  self->busy = FALSE;
  gtk_spinner_set_spinning (self->preview_spinner, FALSE);

  if (task == NULL)
    {
      const char *message = error->message;

      /* The refusal goes back to the step of the field it names. */
      if (g_str_has_prefix (message, "target_prompts") ||
          g_str_has_prefix (message, "seeds_per_prompt"))
        {
          GtkWidget *spin = g_str_has_prefix (message, "target_prompts")
                              ? GTK_WIDGET (self->prompts_spin)
                              : GTK_WIDGET (self->seeds_spin);

          self->step = 2;
          cdl_task_wizard_update (self);
          gtk_widget_add_css_class (spin, "error");
          cdl_show_error (self->counts_error_label, message);
        }
      else if (g_str_has_prefix (message, "prompt_template") ||
               g_str_has_prefix (message, "variable_pool_ids") ||
               g_error_matches (error, CDL_SAMPLING_ERROR, CDL_SAMPLING_ERROR_TEMPLATE))
        {
          self->step = 1;
          cdl_task_wizard_update (self);
          cdl_show_error (self->pools_error_label, message);
        }
      else
        {
          adw_status_page_set_description (self->preview_error_page, message);
          gtk_stack_set_visible_child_name (self->preview_stack, "error");
          cdl_task_wizard_update (self);
        }
      return;
    }

  g_set_object (&self->task, task);
  cdl_task_wizard_show_preview (self);
  cdl_task_wizard_update (self);
}

static void
cdl_task_wizard_make_draft (CdlTaskWizard *self)
{
  g_autoptr(CdlTaskInput) input = cdl_task_wizard_build_input (self);

  self->busy = TRUE;
  gtk_stack_set_visible_child_name (self->preview_stack, "working");
  gtk_spinner_set_spinning (self->preview_spinner, TRUE);

  if (self->task == NULL)
    cdl_task_service_create_async (self->tasks, g_steal_pointer (&input), NULL,
                                   self->cancellable,
                                   cdl_task_wizard_saved_cb, g_object_ref (self));
  else
    cdl_task_service_update_async (self->tasks, cdl_task_get_id (self->task),
                                   g_steal_pointer (&input), self->cancellable,
                                   cdl_task_wizard_saved_cb, g_object_ref (self));
}

static void
cdl_task_wizard_next_cb (CdlTaskWizard *self,
                         GtkButton     *button)
{
  if (self->busy)
    return;

  if (self->step == G_N_ELEMENTS (step_names) - 1)
    {
      if (self->task == NULL)
        return;

      self->announced = TRUE;
      g_signal_emit (self, signals[CREATED], 0, self->task);
      gtk_window_destroy (GTK_WINDOW (self));
      return;
    }

  /* Focus leaves the step before it slides away. */
  gtk_widget_grab_focus (GTK_WIDGET (self->next_button));

  self->step++;
  if (self->step == G_N_ELEMENTS (step_names) - 1)
    cdl_task_wizard_make_draft (self);

  cdl_task_wizard_update (self);
}

static void
cdl_task_wizard_back_cb (CdlTaskWizard *self,
                         GtkButton     *button)
{
  if (self->busy || self->step == 0)
    return;

  self->step--;
  cdl_task_wizard_update (self);
}

/* A draft is stored as soon as the preview shows; closing the wizard
 * then keeps it, and the task list shows it like one created. */
static gboolean
cdl_task_wizard_close_request (GtkWindow *window)
{
  CdlTaskWizard *self = CDL_TASK_WIZARD (window);

  if (self->task != NULL && !self->announced)
    {
      self->announced = TRUE;
      g_signal_emit (self, signals[CREATED], 0, self->task);
    }

  if (GTK_WINDOW_CLASS (cdl_task_wizard_parent_class)->close_request != NULL)
    return GTK_WINDOW_CLASS (cdl_task_wizard_parent_class)->close_request (window);

  return FALSE;
}

static void
cdl_task_wizard_constructed (GObject *object)
{
  CdlTaskWizard *self = CDL_TASK_WIZARD (object);

  G_OBJECT_CLASS (cdl_task_wizard_parent_class)->constructed (object);

  cdl_workflow_service_list_async (self->workflows, self->cancellable,
                                   cdl_task_wizard_workflows_cb, g_object_ref (self));
  cdl_pool_service_list_async (self->pools, self->cancellable,
                               cdl_task_wizard_pools_cb, g_object_ref (self));
  if (self->settings != NULL)
    cdl_settings_service_get_async (self->settings, self->cancellable,
                                    cdl_task_wizard_settings_cb, g_object_ref (self));

  cdl_task_wizard_update (self);
  gtk_widget_grab_focus (GTK_WIDGET (self->name_row));
}

static void
cdl_task_wizard_dispose (GObject *object)
{
  CdlTaskWizard *self = CDL_TASK_WIZARD (object);

  g_cancellable_cancel (self->cancellable);
  gtk_widget_dispose_template (GTK_WIDGET (self), CDL_TYPE_TASK_WIZARD);

  g_clear_object (&self->tasks);
  g_clear_object (&self->workflows);
  g_clear_object (&self->pools);
  g_clear_object (&self->settings);
  g_clear_object (&self->workflow);
  g_clear_object (&self->task);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->pool_checks, g_ptr_array_unref);

  G_OBJECT_CLASS (cdl_task_wizard_parent_class)->dispose (object);
}

static void
cdl_task_wizard_finalize (GObject *object)
{
  CdlTaskWizard *self = CDL_TASK_WIZARD (object);

  g_clear_pointer (&self->default_template, g_free);

  G_OBJECT_CLASS (cdl_task_wizard_parent_class)->finalize (object);
}

static void
cdl_task_wizard_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  CdlTaskWizard *self = CDL_TASK_WIZARD (object);

  switch (prop_id)
    {
    case PROP_TASKS:
      self->tasks = g_value_dup_object (value);
      break;

    case PROP_WORKFLOWS:
      self->workflows = g_value_dup_object (value);
      break;

    case PROP_POOLS:
      self->pools = g_value_dup_object (value);
      break;

    case PROP_SETTINGS:
      self->settings = g_value_dup_object (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdl_task_wizard_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  CdlTaskWizard *self = CDL_TASK_WIZARD (object);

  switch (prop_id)
    {
    case PROP_TASKS:
      g_value_set_object (value, self->tasks);
      break;

    case PROP_WORKFLOWS:
      g_value_set_object (value, self->workflows);
      break;

    case PROP_POOLS:
      g_value_set_object (value, self->pools);
      break;

    case PROP_SETTINGS:
      g_value_set_object (value, self->settings);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdl_task_wizard_class_init (CdlTaskWizardClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->constructed = cdl_task_wizard_constructed;
  object_class->dispose = cdl_task_wizard_dispose;
  object_class->finalize = cdl_task_wizard_finalize;
  object_class->get_property = cdl_task_wizard_get_property;
  object_class->set_property = cdl_task_wizard_set_property;

  window_class->close_request = cdl_task_wizard_close_request;

  properties[PROP_TASKS] =
    g_param_spec_object ("tasks", NULL, NULL,
                         CDL_TYPE_TASK_SERVICE,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));
  properties[PROP_WORKFLOWS] =
    g_param_spec_object ("workflows", NULL, NULL,
                         CDL_TYPE_WORKFLOW_SERVICE,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));
  properties[PROP_POOLS] =
    g_param_spec_object ("pools", NULL, NULL,
                         CDL_TYPE_POOL_SERVICE,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));
  properties[PROP_SETTINGS] =
    g_param_spec_object ("settings", NULL, NULL,
                         CDL_TYPE_SETTINGS_SERVICE,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * CdlTaskWizard::created:
   * @task: the DRAFT task, with its first page of prompts
   */
  signals[CREATED] =
    g_signal_new ("created",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, CDL_TYPE_TASK);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               RESOURCE_BASE "/ui/cdl-task-wizard.ui");
  gtk_widget_class_bind_template_child (widget_class, CdlTaskWizard, window_title);
  gtk_widget_class_bind_template_child (widget_class, CdlTaskWizard, back_button);
  gtk_widget_class_bind_template_child (widget_class, CdlTaskWizard, next_button);
  gtk_widget_class_bind_template_child (widget_class, CdlTaskWizard, stack);
  gtk_widget_class_bind_template_child (widget_class, CdlTaskWizard, name_row);
  gtk_widget_class_bind_template_child (widget_class, CdlTaskWizard, notes_row);
  gtk_widget_class_bind_template_child (widget_class, CdlTaskWizard, workflow_list);
  gtk_widget_class_bind_template_child (widget_class, CdlTaskWizard, workflow_empty_label);
  gtk_widget_class_bind_template_child (widget_class, CdlTaskWizard, pool_list);
  gtk_widget_class_bind_template_child (widget_class, CdlTaskWizard, pool_empty_label);
  gtk_widget_class_bind_template_child (widget_class, CdlTaskWizard, template_view);
  gtk_widget_class_bind_template_child (widget_class, CdlTaskWizard, slots_label);
  gtk_widget_class_bind_template_child (widget_class, CdlTaskWizard, pools_error_label);
  gtk_widget_class_bind_template_child (widget_class, CdlTaskWizard, prompts_row);
  gtk_widget_class_bind_template_child (widget_class, CdlTaskWizard, prompts_spin);
  gtk_widget_class_bind_template_child (widget_class, CdlTaskWizard, seeds_spin);
  gtk_widget_class_bind_template_child (widget_class, CdlTaskWizard, total_label);
  gtk_widget_class_bind_template_child (widget_class, CdlTaskWizard, counts_error_label);
  gtk_widget_class_bind_template_child (widget_class, CdlTaskWizard, preview_stack);
  gtk_widget_class_bind_template_child (widget_class, CdlTaskWizard, preview_spinner);
  gtk_widget_class_bind_template_child (widget_class, CdlTaskWizard, preview_error_page);
  gtk_widget_class_bind_template_child (widget_class, CdlTaskWizard, preview_group);
  gtk_widget_class_bind_template_child (widget_class, CdlTaskWizard, preview_list);
  gtk_widget_class_bind_template_callback (widget_class, cdl_task_wizard_next_cb);
  gtk_widget_class_bind_template_callback (widget_class, cdl_task_wizard_back_cb);
  gtk_widget_class_bind_template_callback (widget_class, cdl_task_wizard_counts_changed_cb);

  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
cdl_task_wizard_init (CdlTaskWizard *self)
{
  self->cancellable = g_cancellable_new ();
  self->pool_checks = g_ptr_array_new ();
  self->max_batch_size = 8;

  gtk_widget_init_template (GTK_WIDGET (self));

  g_signal_connect_object (gtk_text_view_get_buffer (self->template_view), "changed",
                           G_CALLBACK (cdl_task_wizard_pools_changed_cb), self,
                           G_CONNECT_SWAPPED);
}

CdlTaskWizard *
cdl_task_wizard_new (GtkWindow          *parent,
                     CdlTaskService     *tasks,
                     CdlWorkflowService *workflows,
                     CdlPoolService     *pools,
                     CdlSettingsService *settings)
{
  g_return_val_if_fail (parent == NULL || GTK_IS_WINDOW (parent), NULL);
  g_return_val_if_fail (CDL_IS_TASK_SERVICE (tasks), NULL);
  g_return_val_if_fail (CDL_IS_WORKFLOW_SERVICE (workflows), NULL);
  g_return_val_if_fail (CDL_IS_POOL_SERVICE (pools), NULL);
  g_return_val_if_fail (settings == NULL || CDL_IS_SETTINGS_SERVICE (settings), NULL);

  return g_object_new (CDL_TYPE_TASK_WIZARD,
                       "transient-for", parent,
                       "tasks", tasks,
                       "workflows", workflows,
                       "pools", pools,
                       "settings", settings,
                       NULL);
}

const char *
cdl_task_wizard_get_step (CdlTaskWizard *self)
{
  g_return_val_if_fail (CDL_IS_TASK_WIZARD (self), NULL);

  return step_names[self->step];
}

CdlTask *
cdl_task_wizard_get_task (CdlTaskWizard *self)
{
  g_return_val_if_fail (CDL_IS_TASK_WIZARD (self), NULL);

  return self->task;
}
