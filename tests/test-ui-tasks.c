/* test-ui-tasks.c: from a workflow file to a frozen task, through the window
 *
 * Starts the real application against a database of its own, then does
 * what an admin and a task user do: uploads a workflow through the page's
 * upload path, creates a variable pool in its dialog, builds a task with
 * the wizard, and freezes it after the confirmation. The service, not the
 * widgets, has the last word on what was stored. Runs under Xvfb.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>
#include <adwaita.h>

#include "cdl-test-ui.h"
#include "ui/cdl-application.h"
#include "ui/cdl-pool-dialog.h"
#include "ui/cdl-task-wizard.h"
#include "ui/cdl-window.h"

#define WAIT_TIMEOUT_MS  CDL_TEST_UI_WAIT_TIMEOUT_MS

static CdlTestPg *pg;

typedef CdlTestUiFixture Fixture;

static void
set_text_view (GtkWidget  *view,
               const char *text)
{
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (GTK_TEXT_VIEW (view)), text, -1);
}

static gboolean
label_is (GtkWidget  *label,
          const char *text)
{
  return g_strcmp0 (gtk_label_get_label (GTK_LABEL (label)), text) == 0;
}

/* Steps */

typedef struct
{
  GListModel *model;
  guint       n;
} CountWait;

static gboolean
model_has (gpointer data)
{
  CountWait *wait = data;

  return g_list_model_get_n_items (wait->model) == wait->n;
}

static gboolean
report_valid (gpointer data)
{
  CdlWorkflowsPage *page = data;
  GtkWidget *badge = cdl_test_ui_named (GTK_WIDGET (page), "validation-badge");
  CdlWorkflow *workflow = cdl_workflows_page_get_selected (page);

  return workflow != NULL && gtk_widget_get_mapped (badge) && label_is (badge, "Valid");
}

static void
upload_workflow (Fixture *f)
{
  CdlWorkflowsPage *page = cdl_window_get_workflows_page (f->window);
  g_autofree char *path = NULL;
  g_autoptr(GFile) file = NULL;
  CountWait count = { cdl_workflows_page_get_model (page), 1 };
  GtkWindow *dialog;
  GtkWidget *entry;
  GtkWidget *badge;
  GtkWidget *title;

  cdl_window_set_visible_page (f->window, "workflows");

  path = g_build_filename (g_getenv ("CDL_TEST_DATA"), "workflows", "sd15.json", NULL);
  file = g_file_new_for_path (path);
  cdl_workflows_page_open_file (page, file);

  /* The name comes from the file; the upload waits for it. */
  dialog = cdl_test_ui_wait_for_window (ADW_TYPE_MESSAGE_DIALOG, "upload-name-dialog");
  entry = cdl_test_ui_named (GTK_WIDGET (dialog), "workflow-name-entry");
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (entry)), ==, "sd15");
  cdl_test_ui_respond (dialog, "upload");

  g_assert_true (cdl_test_ui_iterate_until (model_has, &count, WAIT_TIMEOUT_MS));
  g_assert_true (cdl_test_ui_iterate_until (report_valid, page, WAIT_TIMEOUT_MS));

  badge = cdl_test_ui_named (GTK_WIDGET (page), "validation-badge");
  g_assert_true (gtk_widget_has_css_class (badge, "healthy"));
  title = cdl_test_ui_named (GTK_WIDGET (page), "workflow-title");
  g_assert_cmpstr (gtk_label_get_label (GTK_LABEL (title)), ==, "sd15, version 1");
  g_assert_nonnull (cdl_test_ui_find_named (GTK_WIDGET (page), "workflow-row"));
}

static gboolean
report_invalid (gpointer data)
{
  CdlWorkflowsPage *page = data;
  CdlWorkflow *workflow = cdl_workflows_page_get_selected (page);

  return workflow != NULL && g_str_equal (cdl_workflow_get_name (workflow), "big-batch") &&
         label_is (cdl_test_ui_named (GTK_WIDGET (page), "validation-badge"), "Invalid");
}

/* Drops @file on @widget as a file manager would: through the widget's
 * drop target, with a file list. */
static void
drop_file (GtkWidget *widget,
           GFile     *file)
{
  g_autoptr(GListModel) controllers = gtk_widget_observe_controllers (widget);
  GtkDropTarget *target = NULL;
  GValue value = G_VALUE_INIT;
  GSList *files = g_slist_prepend (NULL, file);
  gboolean accepted = FALSE;

  for (guint i = 0; i < g_list_model_get_n_items (controllers) && target == NULL; i++)
    {
      g_autoptr(GObject) controller = g_list_model_get_item (controllers, i);

      if (GTK_IS_DROP_TARGET (controller))
        target = GTK_DROP_TARGET (controller);
    }
  g_assert_nonnull (target);

  g_value_init (&value, GDK_TYPE_FILE_LIST);
  g_value_take_boxed (&value, gdk_file_list_new_from_list (files));
  g_signal_emit_by_name (target, "drop", &value, 10.0, 10.0, &accepted);
  g_assert_true (accepted);

  g_value_unset (&value);
  g_slist_free (files);
}

/* A graph over the batch limit, dropped on the page, is kept and marked
 * invalid, with the node at fault named in the report. */
static void
upload_invalid_workflow (Fixture *f)
{
  CdlWorkflowsPage *page = cdl_window_get_workflows_page (f->window);
  g_autofree char *path = NULL;
  g_autoptr(GFile) file = NULL;
  g_autoptr(GPtrArray) problems = g_ptr_array_new ();
  CountWait count = { cdl_workflows_page_get_model (page), 2 };
  GtkWindow *dialog;
  GtkWidget *problem;

  path = g_build_filename (g_getenv ("CDL_TEST_DATA"), "workflows", "batch-too-large.json", NULL);
  file = g_file_new_for_path (path);
  drop_file (GTK_WIDGET (page), file);

  dialog = cdl_test_ui_wait_for_window (ADW_TYPE_MESSAGE_DIALOG, "upload-name-dialog");
  gtk_editable_set_text (GTK_EDITABLE (cdl_test_ui_named (GTK_WIDGET (dialog),
                                                          "workflow-name-entry")),
                         "big-batch");
  cdl_test_ui_respond (dialog, "upload");

  g_assert_true (cdl_test_ui_iterate_until (model_has, &count, WAIT_TIMEOUT_MS));
  g_assert_true (cdl_test_ui_iterate_until (report_invalid, page, WAIT_TIMEOUT_MS));
  g_assert_true (gtk_widget_has_css_class (cdl_test_ui_named (GTK_WIDGET (page),
                                                              "validation-badge"),
                                           "unhealthy"));

  cdl_test_ui_collect_named (cdl_test_ui_named (GTK_WIDGET (page), "problems-list"),
                             "problem-row", problems);
  g_assert_cmpuint (problems->len, >=, 1);
  problem = g_ptr_array_index (problems, 0);
  g_assert_cmpstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (problem)), ==,
                   "Node 5 · EmptyLatentImage");
  g_assert_nonnull (strstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (problem)),
                            "batch"));
}

static gboolean
summary_is (gpointer data)
{
  CdlPoolDialog *dialog = data;

  return g_str_equal (cdl_pool_dialog_get_summary (dialog), "7 items (2 duplicates dropped)");
}

static void
create_pool (Fixture *f)
{
  CdlPoolsPage *page = cdl_window_get_pools_page (f->window);
  CountWait count = { cdl_pools_page_get_model (page), 1 };
  g_autofree char *csv = g_build_filename (f->tmpdir, "subjects.csv", NULL);
  g_autoptr(GFile) csv_file = g_file_new_for_path (csv);
  g_autoptr(GError) error = NULL;
  CdlPoolDialog *dialog;
  GtkWidget *save;
  GtkWidget *items;
  CdlPool *pool;

  gtk_widget_activate_action (GTK_WIDGET (f->window), "win.new-pool", NULL);
  g_assert_cmpstr (cdl_window_get_visible_page (f->window), ==, "pools");
  dialog = CDL_POOL_DIALOG (cdl_test_ui_wait_for_window (CDL_TYPE_POOL_DIALOG, NULL));
  save = cdl_test_ui_named (GTK_WIDGET (dialog), "save-button");
  items = cdl_test_ui_named (GTK_WIDGET (dialog), "pool-items-view");

  g_assert_false (gtk_widget_get_sensitive (save));
  gtk_editable_set_text (GTK_EDITABLE (cdl_test_ui_named (GTK_WIDGET (dialog), "pool-name-row")),
                         "subject");

  /* Typed items are trimmed and their repeats counted out. */
  set_text_view (items, "a red fox\n  a red fox  \n\nan old lighthouse\n");
  g_assert_cmpstr (cdl_pool_dialog_get_summary (dialog), ==, "2 items (1 duplicate dropped)");

  /* A CSV import keeps the first column, quotes and all. */
  g_file_set_contents (csv,
                       "a red fox,animal\n"
                       "\"a blue whale, at dusk\",animal\n"
                       "an old lighthouse,place\r\n"
                       "a paper crane,object\n"
                       "a red fox,animal\n"
                       "a glass teapot,object\n"
                       "a sleeping cat,animal\n"
                       "a paper crane,object\n"
                       "a brass compass,object\n",
                       -1, &error);
  g_assert_no_error (error);
  cdl_pool_dialog_import_file (dialog, csv_file);
  g_assert_true (cdl_test_ui_iterate_until (summary_is, dialog, WAIT_TIMEOUT_MS));

  cdl_test_ui_click (save);
  cdl_test_ui_wait_window_gone (CDL_TYPE_POOL_DIALOG, NULL);
  g_assert_true (cdl_test_ui_iterate_until (model_has, &count, WAIT_TIMEOUT_MS));

  pool = cdl_pools_page_get_selected (page);
  g_assert_nonnull (pool);
  g_assert_cmpstr (cdl_pool_get_name (pool), ==, "subject");
  g_assert_cmpint (cdl_pool_get_version (pool), ==, 1);
  g_assert_cmpuint (cdl_pool_get_n_items (pool), ==, 7);
  g_assert_cmpstr (cdl_pool_get_items (pool)[1], ==, "a blue whale, at dusk");
}

static gboolean
widget_sensitive (gpointer data)
{
  return gtk_widget_is_sensitive (GTK_WIDGET (data));
}

static gboolean
wizard_has_task (gpointer data)
{
  return cdl_task_wizard_get_task (CDL_TASK_WIZARD (data)) != NULL &&
         gtk_widget_is_sensitive (cdl_test_ui_named (GTK_WIDGET (data), "next-button"));
}

static gboolean
pool_choice_shown (gpointer data)
{
  return cdl_test_ui_find_named (GTK_WIDGET (data), "pool-check") != NULL;
}

static void
run_wizard (Fixture *f)
{
  CdlTaskWizard *wizard;
  GtkWidget *next;
  GtkWidget *spin;
  g_autoptr(GPtrArray) previews = g_ptr_array_new ();

  gtk_widget_activate_action (GTK_WIDGET (f->window), "win.new-task", NULL);
  g_assert_cmpstr (cdl_window_get_visible_page (f->window), ==, "tasks");
  wizard = CDL_TASK_WIZARD (cdl_test_ui_wait_for_window (CDL_TYPE_TASK_WIZARD, NULL));
  next = cdl_test_ui_named (GTK_WIDGET (wizard), "next-button");

  /* Step 1: the only valid workflow is chosen already. */
  g_assert_cmpstr (cdl_task_wizard_get_step (wizard), ==, "workflow");
  g_assert_true (cdl_test_ui_iterate_until (widget_sensitive, next, WAIT_TIMEOUT_MS));
  gtk_editable_set_text (GTK_EDITABLE (cdl_test_ui_named (GTK_WIDGET (wizard), "task-name-row")),
                         "Still lifes");
  cdl_test_ui_click (next);

  /* Step 2: the template starts as the workflow's positive prompt. */
  g_assert_cmpstr (cdl_task_wizard_get_step (wizard), ==, "pools");
  g_assert_true (cdl_test_ui_iterate_until (pool_choice_shown, wizard, WAIT_TIMEOUT_MS));
  {
    GtkWidget *view = cdl_test_ui_named (GTK_WIDGET (wizard), "template-view");
    GtkTextBuffer *buffer = gtk_text_view_get_buffer (GTK_TEXT_VIEW (view));
    g_autofree char *text = NULL;
    GtkTextIter start, end;

    gtk_text_buffer_get_bounds (buffer, &start, &end);
    text = gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
    g_assert_true (g_str_has_prefix (text, "beautiful scenery"));

    /* A slot without its pool holds the step. */
    set_text_view (view, "a photo of {subject}, studio light");
    g_assert_false (gtk_widget_is_sensitive (next));
    g_assert_true (gtk_widget_get_visible (cdl_test_ui_named (GTK_WIDGET (wizard),
                                                              "pools-error-label")));

    gtk_check_button_set_active (GTK_CHECK_BUTTON (cdl_test_ui_named (GTK_WIDGET (wizard),
                                                                      "pool-check")),
                                 TRUE);
    g_assert_true (gtk_widget_is_sensitive (next));
    g_assert_true (label_is (cdl_test_ui_named (GTK_WIDGET (wizard), "slots-label"),
                             "Slots: {subject}"));
  }
  cdl_test_ui_click (next);

  /* Step 3: K and N. */
  g_assert_cmpstr (cdl_task_wizard_get_step (wizard), ==, "counts");
  spin = cdl_test_ui_named (GTK_WIDGET (wizard), "prompts-spin");
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (spin), 5);
  spin = cdl_test_ui_named (GTK_WIDGET (wizard), "seeds-spin");
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (spin), 2);
  g_assert_true (label_is (cdl_test_ui_named (GTK_WIDGET (wizard), "total-label"), "5 × 2 = 10"));
  cdl_test_ui_click (next);

  /* Step 4: the draft is stored and its first prompts shown. */
  g_assert_cmpstr (cdl_task_wizard_get_step (wizard), ==, "preview");
  g_assert_true (cdl_test_ui_iterate_until (wizard_has_task, wizard, WAIT_TIMEOUT_MS));
  cdl_test_ui_collect_named (GTK_WIDGET (wizard), "preview-row", previews);
  g_assert_cmpuint (previews->len, ==, 5);
  g_assert_true (g_str_has_prefix (adw_preferences_row_get_title (g_ptr_array_index (previews, 0)),
                                   "a photo of "));

  cdl_test_ui_click (next);
  cdl_test_ui_wait_window_gone (CDL_TYPE_TASK_WIZARD, NULL);
}

static gboolean
shown_state_is (gpointer data)
{
  Fixture *f = ((gpointer *) data)[0];
  const char *state = ((gpointer *) data)[1];
  CdlTask *task = cdl_tasks_page_get_shown (cdl_window_get_tasks_page (f->window));

  return task != NULL && g_strcmp0 (cdl_task_get_state (task), state) == 0;
}

static gboolean
row_badge_is (gpointer data)
{
  Fixture *f = ((gpointer *) data)[0];
  const char *text = ((gpointer *) data)[1];
  GtkWidget *list = cdl_test_ui_named (GTK_WIDGET (f->window), "tasks-list");
  GtkWidget *badge = cdl_test_ui_find_named (list, "task-state-badge");

  return badge != NULL && label_is (badge, text);
}

typedef struct
{
  CdlTask *task;
  GError  *error;
  gboolean done;
} GetWait;

static void
get_cb (GObject      *object,
        GAsyncResult *result,
        gpointer      user_data)
{
  GetWait *wait = user_data;

  wait->task = cdl_task_service_get_finish (CDL_TASK_SERVICE (object), result, &wait->error);
  wait->done = TRUE;
}

static gboolean
get_done (gpointer data)
{
  return ((GetWait *) data)->done;
}

static void
freeze_task (Fixture *f)
{
  CdlTasksPage *page = cdl_window_get_tasks_page (f->window);
  CdlInstance *instance = cdl_application_get_instance (f->app);
  gpointer draft[] = { f, (gpointer) CDL_TASK_STATE_DRAFT };
  gpointer frozen[] = { f, (gpointer) CDL_TASK_STATE_FROZEN };
  gpointer draft_badge[] = { f, (gpointer) "Draft" };
  gpointer frozen_badge[] = { f, (gpointer) "Frozen" };
  CountWait count = { cdl_tasks_page_get_model (page), 1 };
  GetWait wait = { 0 };
  g_autofree char *id = NULL;
  const CdlTaskData *data;
  g_autoptr(GPtrArray) values = g_ptr_array_new ();
  GString *snapshot = g_string_new (NULL);
  GtkWindow *dialog;

  g_assert_true (cdl_test_ui_iterate_until (model_has, &count, WAIT_TIMEOUT_MS));
  g_assert_true (cdl_test_ui_iterate_until (shown_state_is, draft, WAIT_TIMEOUT_MS));
  g_assert_true (cdl_test_ui_iterate_until (row_badge_is, draft_badge, WAIT_TIMEOUT_MS));
  g_assert_false (gtk_widget_get_visible (cdl_test_ui_named (GTK_WIDGET (page),
                                                             "task-lock-icon")));
  g_assert_cmpuint (cdl_task_get_prompts (cdl_tasks_page_get_shown (page))->len, ==, 5);

  /* The confirmation shows the snapshot it is about to lock. */
  cdl_test_ui_click (cdl_test_ui_named (GTK_WIDGET (page), "freeze-button"));
  dialog = cdl_test_ui_wait_for_window (ADW_TYPE_MESSAGE_DIALOG, "freeze-dialog");
  cdl_test_ui_collect_named (GTK_WIDGET (dialog), "snapshot-row", values);
  for (guint i = 0; i < values->len; i++)
    g_string_append_printf (snapshot, "%s|",
                            adw_action_row_get_subtitle (ADW_ACTION_ROW (values->pdata[i])));
  g_assert_cmpstr (snapshot->str, ==, "sd15, version 1|subject v1|5|2|10|");
  g_string_free (snapshot, TRUE);
  cdl_test_ui_respond (dialog, "freeze");

  g_assert_true (cdl_test_ui_iterate_until (shown_state_is, frozen, WAIT_TIMEOUT_MS));
  g_assert_true (cdl_test_ui_iterate_until (row_badge_is, frozen_badge, WAIT_TIMEOUT_MS));
  g_assert_true (gtk_widget_get_visible (cdl_test_ui_named (GTK_WIDGET (page), "task-lock-icon")));
  g_assert_nonnull (cdl_test_ui_find_named (cdl_test_ui_named (GTK_WIDGET (f->window),
                                                               "tasks-list"),
                                            "task-row-lock"));
  g_assert_false (gtk_widget_get_visible (cdl_test_ui_named (GTK_WIDGET (page), "freeze-button")));

  /* The database agrees: frozen, with 5 prompts of 2 seeds each. */
  id = g_strdup (cdl_task_get_id (cdl_tasks_page_get_shown (page)));
  cdl_task_service_get_async (cdl_instance_get_task_service (instance), id, -1, 0, NULL,
                              get_cb, &wait);
  g_assert_true (cdl_test_ui_iterate_until (get_done, &wait, WAIT_TIMEOUT_MS));
  g_assert_no_error (wait.error);

  data = cdl_task_get_data (wait.task);
  g_assert_cmpstr (data->state, ==, CDL_TASK_STATE_FROZEN);
  g_assert_nonnull (data->frozen_at);
  g_assert_cmpint (data->target_prompts, ==, 5);
  g_assert_cmpint (data->seeds_per_prompt, ==, 2);
  g_assert_cmpint (data->prompt_count, ==, 5);
  g_assert_cmpint (data->seed_count, ==, 10);
  g_assert_cmpstr (data->name, ==, "Still lifes");
  g_assert_cmpuint (data->prompts->len, ==, 5);
  for (guint i = 0; i < data->prompts->len; i++)
    {
      const CdlPrompt *prompt = g_ptr_array_index (data->prompts, i);

      g_assert_cmpuint (prompt->n_seeds, ==, 2);
      g_assert_true (g_str_has_prefix (prompt->text, "a photo of "));
    }

  g_object_unref (wait.task);
}

static gboolean
limits_loaded (gpointer data)
{
  return gtk_widget_is_sensitive (cdl_test_ui_named (GTK_WIDGET (data), "limits-save-button"));
}

typedef struct
{
  CdlSettings *settings;
  GError      *error;
  gboolean     done;
} SettingsWait;

static void
settings_cb (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  SettingsWait *wait = user_data;

  wait->settings = cdl_settings_service_get_finish (CDL_SETTINGS_SERVICE (object), result,
                                                    &wait->error);
  wait->done = TRUE;
}

static gboolean
settings_done (gpointer data)
{
  return ((SettingsWait *) data)->done;
}

static gboolean
batch_limit_saved (gpointer data)
{
  Fixture *f = data;
  CdlInstance *instance = cdl_application_get_instance (f->app);
  SettingsWait wait = { 0 };
  gboolean saved;

  cdl_settings_service_get_async (cdl_instance_get_settings_service (instance), NULL,
                                  settings_cb, &wait);
  g_assert_true (cdl_test_ui_iterate_until (settings_done, &wait, WAIT_TIMEOUT_MS));
  g_assert_no_error (wait.error);

  saved = wait.settings->max_workflow_batch_size == 16 &&
          g_strv_length (wait.settings->forbidden_node_types) == 2;
  cdl_settings_free (wait.settings);

  return saved;
}

/* Tests */

static void
test_limits_refuse_in_place (Fixture *f)
{
  GtkWindow *prefs;
  GtkWidget *save;
  GtkWidget *spin;
  GtkWidget *row;

  g_action_group_activate_action (G_ACTION_GROUP (f->app), "preferences", NULL);
  prefs = cdl_test_ui_wait_for_window (ADW_TYPE_PREFERENCES_WINDOW, NULL);
  adw_preferences_window_set_visible_page_name (ADW_PREFERENCES_WINDOW (prefs), "limits");
  g_assert_true (cdl_test_ui_iterate_until (limits_loaded, prefs, WAIT_TIMEOUT_MS));

  save = cdl_test_ui_named (GTK_WIDGET (prefs), "limits-save-button");
  spin = cdl_test_ui_named (GTK_WIDGET (prefs), "batch-spin");
  row = gtk_widget_get_ancestor (spin, ADW_TYPE_ACTION_ROW);

  /* A batch of 0 is refused on its own row, and Save stays off. */
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (spin), 0);
  g_assert_false (gtk_widget_is_sensitive (save));
  g_assert_true (gtk_widget_has_css_class (row, "error"));
  g_assert_true (g_str_has_prefix (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)), "Must be"));

  gtk_spin_button_set_value (GTK_SPIN_BUTTON (spin), 16);
  g_assert_false (gtk_widget_has_css_class (row, "error"));
  set_text_view (cdl_test_ui_named (GTK_WIDGET (prefs), "forbidden-view"),
                 "SaveAnimatedWEBP, LoadImage\nSaveAnimatedWEBP\n");
  cdl_test_ui_click (save);

  g_assert_true (cdl_test_ui_iterate_until (batch_limit_saved, f, WAIT_TIMEOUT_MS));
  gtk_window_destroy (prefs);
}


static void
test_workflow_to_frozen_task (Fixture *f)
{
  upload_workflow (f);
  upload_invalid_workflow (f);
  create_pool (f);
  run_wizard (f);
  freeze_task (f);
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  /* Warnings fail the test that logged them (checked at tear-down). */
  pg = cdl_test_ui_init_counting_warnings (&argc, &argv);

  cdl_test_ui_add ("/ui/tasks/limits-refuse-in-place", test_limits_refuse_in_place, -1);
  cdl_test_ui_add ("/ui/tasks/workflow-to-frozen-task", test_workflow_to_frozen_task, -1);

  ret = g_test_run ();

  cdl_test_pg_stop (pg);

  return ret;
}
