/* test-ui-annotate.c: labelling in the gallery, the Export and Quality pages
 *
 * Starts the real application against a database of its own, makes a
 * frozen task through the services and stores real PNG images (and their
 * thumbnails) for it as ingestion does: files in the application's store,
 * rows through cdl_generation_repo_insert(). Then it labels batches on the
 * Annotate page by the actions its keys are bound to (a reject, a spam,
 * an undo), checks the rows in PostgreSQL (indexes in stored order), saves
 * the export to a file and compares its lines with the database, verifies
 * the checksums with a file removed, and reads the Quality page. Runs
 * under Xvfb.
 *
 * With CDL_SCREENSHOT_DIR set, it saves annotate.png, export.png and
 * quality.png there.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>
#include <glib/gstdio.h>
#include <adwaita.h>

#include "cdl-test-pg.h"
#include "cdl-test-ui.h"
#include "core/cdl-shuffle.h"
#include "db/cdl-job-repo.h"
#include "db/cdl-pq.h"
#include "storage/cdl-storage-key.h"
#include "storage/cdl-thumbnailer.h"
#include "ui/cdl-annotate-page.h"
#include "ui/cdl-application.h"
#include "ui/cdl-export-page.h"
#include "ui/cdl-image-tile.h"
#include "ui/cdl-quality-page.h"
#include "ui/cdl-window.h"
#include "ui/cdl-zoom-view.h"

#define PROMPTS 4
#define SEEDS   4
#define SIDE    384

static CdlTestPg *pg;

typedef CdlTestUiFixture Fixture;

/* A task with stored images ------------------------------------------------------ */

static const char * const subjects[PROMPTS] = {
  "a lighthouse at dusk", "a red fox in the snow", "a bowl of lemons", "a sailing boat",
};

static char *
add_frozen_task (Fixture *f)
{
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func (g_free);

  for (int i = 0; i < PROMPTS; i++)
    g_ptr_array_add (items, g_strdup_printf ("watercolour of %s", subjects[i]));
  g_ptr_array_add (items, NULL);

  return cdl_test_ui_add_task_full (f->app, "gallery", "subject", "Watercolours",
                                    (const char * const *) items->pdata, SEEDS, TRUE);
}

static PGresult *
sql (Fixture            *f,
     const char         *query,
     int                 n_params,
     const char * const *params)
{
  PGconn *conn = PQconnectdb (f->conninfo);
  g_autoptr(GError) error = NULL;
  PGresult *res;

  g_assert_cmpint (PQstatus (conn), ==, CONNECTION_OK);
  res = cdl_pq_exec (conn, query, n_params, params, &error);
  g_assert_no_error (error);
  PQfinish (conn);

  return res;
}

/* A PNG in its own colours: a soft gradient and a disc, so that images
 * of a batch differ at a glance. */
static GBytes *
painted_png (guint prompt,
             guint image)
{
  g_autofree guchar *pixels = g_malloc (SIDE * SIDE * 4);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  double hue = (prompt * SEEDS + image) * 0.61803;

  for (guint y = 0; y < SIDE; y++)
    for (guint x = 0; x < SIDE; x++)
      {
        guchar *p = pixels + (y * SIDE + x) * 4;
        double dx = x - SIDE * (0.3 + 0.1 * image), dy = y - SIDE * (0.55 - 0.05 * prompt);
        gboolean disc = dx * dx + dy * dy < (SIDE / 5.0) * (SIDE / 5.0);
        double t = (double) y / SIDE;
        float r, g, b;

        gtk_hsv_to_rgb (fmod (hue + (disc ? 0.5 : 0.08 * t), 1.0), disc ? 0.55 : 0.45,
                        disc ? 0.95 : 0.95 - 0.35 * t, &r, &g, &b);
        p[0] = r * 255;
        p[1] = g * 255;
        p[2] = b * 255;
        p[3] = 255;
      }

  bytes = g_bytes_new_take (g_steal_pointer (&pixels), SIDE * SIDE * 4);
  texture = gdk_memory_texture_new (SIDE, SIDE, GDK_MEMORY_R8G8B8A8, bytes, SIDE * 4);

  return gdk_texture_save_to_png_bytes (texture);
}

/* Stores every image of the task with its thumbnail, as ingestion does. */
static void
store_images (Fixture    *f,
              const char *task_id)
{
  CdlObjectStore *store = cdl_instance_get_object_store (cdl_application_get_instance (f->app));
  g_autoptr(CdlThumbnailer) thumbnailer = cdl_thumbnailer_new (1);
  const char *params[1] = { task_id };
  g_autoptr(PGresult) seeds = sql (f, "SELECT s.id, s.seed_value, s.position, p.id,"
                                      "  p.position"
                                      " FROM seeds s JOIN prompts p ON p.id = s.prompt_id"
                                      " WHERE p.task_id = $1 ORDER BY p.position, s.position",
                                   1, params);
  PGconn *conn = PQconnectdb (f->conninfo);
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();

  g_assert_cmpint (PQntuples (seeds), ==, PROMPTS * SEEDS);
  for (int i = 0; i < PQntuples (seeds); i++)
    {
      const char *prompt_id = cdl_pq_get_string (seeds, i, 3);
      gint64 seed = cdl_pq_get_int64 (seeds, i, 1);
      int position = cdl_pq_get_int (seeds, i, 2);
      g_autoptr(GError) error = NULL;
      g_autofree char *key = cdl_storage_key_for_image (task_id, prompt_id, seed, 0, now, &error);
      g_autofree char *thumb = cdl_storage_key_thumbnail_for_image (key, &error);
      g_autoptr(GBytes) png = painted_png (cdl_pq_get_int (seeds, i, 4), position);
      g_autoptr(CdlThumbnail) small = NULL;
      g_autoptr(CdlObjectInfo) info = NULL;
      g_autoptr(CdlObjectInfo) thumb_info = NULL;
      g_autofree char *gen_id = NULL;
      CdlGenerationInput in = { 0 };
      gboolean inserted = FALSE;

      g_assert_no_error (error);
      small = cdl_thumbnailer_make_thumbnail (thumbnailer, png, NULL, &error);
      g_assert_no_error (error);
      info = cdl_object_store_put_bytes (store, key, png, NULL, &error);
      g_assert_no_error (error);
      thumb_info = cdl_object_store_put_bytes (store, thumb, small->data, NULL, &error);
      g_assert_no_error (error);

      in.task_id = task_id;
      in.prompt_id = prompt_id;
      in.seed_id = cdl_pq_get_string (seeds, i, 0);
      in.seed_value = seed;
      in.batch_index = 0;
      in.image_uri = key;
      in.thumb_uri = thumb;
      in.checksum = info->sha256;
      in.bytes = g_bytes_get_size (png);
      in.width = SIDE;
      in.height = SIDE;
      gen_id = cdl_generation_repo_insert (conn, &in, &inserted, &error);
      g_assert_no_error (error);
      g_assert_true (inserted);
    }

  PQfinish (conn);
}

static gboolean
never (gpointer data)
{
  return FALSE;
}

static void
find_toast_buttons (GtkWidget *root,
                    gboolean   in_toast,
                    GPtrArray *found)
{
  in_toast = in_toast || g_strcmp0 (gtk_widget_get_css_name (root), "toast") == 0;
  if (in_toast && GTK_IS_BUTTON (root))
    g_ptr_array_add (found, g_object_ref (root));

  for (GtkWidget *child = gtk_widget_get_first_child (root);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    find_toast_buttons (child, in_toast, found);
}

/* Closes the toasts as their buttons would: without focus they stay. */
static void
dismiss_toasts (GtkWidget *root)
{
  g_autoptr(GPtrArray) buttons = g_ptr_array_new_with_free_func (g_object_unref);

  find_toast_buttons (root, FALSE, buttons);
  for (guint i = 0; i < buttons->len; i++)
    g_signal_emit_by_name (g_ptr_array_index (buttons, i), "clicked");
}

/* Screenshots ------------------------------------------------------------------- */

static void
save_screenshot (Fixture    *f,
                 const char *name)
{
  const char *dir = g_getenv ("CDL_SCREENSHOT_DIR");
  g_autofree char *path = NULL;
  int width = gtk_widget_get_width (GTK_WIDGET (f->window));
  int height = gtk_widget_get_height (GTK_WIDGET (f->window));

  if (dir == NULL)
    return;

  /* Queued toasts show one after another. */
  for (guint i = 0; i < 5; i++)
    {
      dismiss_toasts (GTK_WIDGET (f->window));
      cdl_test_ui_iterate_until (never, NULL, 400);
    }

  /* A frame or two, so that everything is laid out and drawn. */
  for (guint i = 0; i < 20; i++)
    g_main_context_iteration (NULL, FALSE);
  g_test_message ("Window of %d × %d", width, height);
  path = g_build_filename (dir, name, NULL);
  cdl_test_ui_save_screenshot (adw_application_window_get_content (
                                 ADW_APPLICATION_WINDOW (f->window)),
                               width, height, path);
}

/* Waiting on the pages -------------------------------------------------------------- */

typedef struct
{
  CdlAnnotatePage *page;
  const char      *view;
  const char      *not_batch;
} PageWait;

static gboolean
page_settled (gpointer data)
{
  PageWait *wait = data;

  return !cdl_annotate_page_is_busy (wait->page) &&
         g_strcmp0 (cdl_annotate_page_get_view (wait->page), wait->view) == 0 &&
         (wait->not_batch == NULL ||
          g_strcmp0 (cdl_annotate_page_get_batch_id (wait->page), wait->not_batch) != 0);
}

static void
wait_view (CdlAnnotatePage *page,
           const char      *view,
           const char      *not_batch)
{
  PageWait wait = { page, view, not_batch };

  if (!cdl_test_ui_iterate_until (page_settled, &wait, CDL_TEST_UI_WAIT_TIMEOUT_MS))
    g_error ("The Annotate page shows %s (busy %d), not %s",
             cdl_annotate_page_get_view (page), cdl_annotate_page_is_busy (page), view);
}

static gboolean
tiles_full (gpointer data)
{
  GtkWidget *grid = data;

  for (GtkWidget *child = gtk_widget_get_first_child (grid);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    if (!cdl_image_tile_is_full (CDL_IMAGE_TILE (child)))
      return FALSE;

  return gtk_widget_get_first_child (grid) != NULL;
}

/* The order the batch is shown in: the service's shuffle for this user. */
static void
shown_order (CdlAnnotatePage *page,
             guint           *order)
{
  cdl_shuffle_order (cdl_annotate_page_get_user_id (page), cdl_annotate_page_get_batch_id (page),
                     SEEDS, order);
}

static void
press (CdlAnnotatePage *page,
       const char      *action,
       int              position)
{
  if (position < 0)
    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), action, NULL));
  else
    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), action, "i", position));
}

static gboolean
export_idle (gpointer data)
{
  return !cdl_export_page_is_busy (CDL_EXPORT_PAGE (data));
}

static gboolean
quality_idle (gpointer data)
{
  return !cdl_quality_page_is_busy (CDL_QUALITY_PAGE (data));
}

static char *
int_array (const guint *values,
           guint        n)
{
  g_autoptr(GString) s = g_string_new ("{");

  for (guint i = 0; i < n; i++)
    g_string_append_printf (s, "%s%u", i > 0 ? "," : "", values[i]);
  g_string_append_c (s, '}');

  return g_string_free (g_steal_pointer (&s), FALSE);
}

/* The test ------------------------------------------------------------------------ */

static void
test_label_export_quality (Fixture *f)
{
  GtkWidget *root = GTK_WIDGET (f->window);
  CdlAnnotatePage *page = CDL_ANNOTATE_PAGE (cdl_test_ui_named (root, "annotate-page"));
  g_autofree char *task_id = add_frozen_task (f);
  g_autofree char *b1 = NULL, *b2 = NULL, *b3 = NULL, *b4 = NULL;
  g_autofree char *order1_text = NULL;
  g_autofree char *desktop_name = NULL;
  guint order1[SEEDS], order3[SEEDS], order4[SEEDS];
  const char *user_id;
  GtkListBoxRow *row;
  GtkWidget *list;
  GtkLabel *progress;

  gtk_window_set_default_size (GTK_WINDOW (f->window), 1280, 800);

  /* A frozen task without images: nothing to label yet. */
  cdl_window_set_visible_page (f->window, "annotate");
  wait_view (page, "empty", NULL);

  store_images (f, task_id);
  press (page, "annotate.reload", -1);
  wait_view (page, "tasks", NULL);
  list = cdl_test_ui_named (root, "annotate-task-list");
  row = gtk_list_box_get_row_at_index (GTK_LIST_BOX (list), 0);
  g_assert_nonnull (row);
  g_assert_cmpstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)), ==,
                   "Watercolours");
  g_signal_emit_by_name (list, "row-activated", row);
  wait_view (page, "gallery", NULL);
  progress = GTK_LABEL (cdl_test_ui_named (root, "annotate-progress"));

  user_id = cdl_annotate_page_get_user_id (page);
  g_assert_nonnull (user_id);
  {
    const char *params[1] = { user_id };
    g_autoptr(PGresult) user = sql (f, "SELECT name, role FROM users WHERE id = $1", 1, params);

    desktop_name = g_strdup_printf ("desktop:%s", g_get_user_name ());
    g_assert_cmpint (PQntuples (user), ==, 1);
    g_assert_cmpstr (cdl_pq_get_string (user, 0, 0), ==, desktop_name);
    g_assert_cmpstr (cdl_pq_get_string (user, 0, 1), ==, "admin");
  }

  /* The full images arrive, decoded off the main thread. */
  g_assert_true (cdl_test_ui_iterate_until (tiles_full, cdl_test_ui_named (root, "annotate-grid"),
                                            CDL_TEST_UI_WAIT_TIMEOUT_MS));
  g_assert_cmpstr (gtk_label_get_label (progress), ==,
                   "0 of 4 labelled");

  /* Batch 1: Shift+2 rejects the second image shown, 1 chooses the first. */
  b1 = g_strdup (cdl_annotate_page_get_batch_id (page));
  shown_order (page, order1);
  press (page, "annotate.reject", 1);
  gtk_widget_grab_focus (gtk_widget_get_next_sibling (gtk_widget_get_first_child (
                           cdl_test_ui_named (root, "annotate-grid"))));
  save_screenshot (f, "annotate.png");

  /* Space zooms the focused image, Escape closes the zoom. */
  {
    GtkWidget *zoom = cdl_test_ui_named (root, "annotate-zoom");

    press (page, "annotate.zoom", -1);
    g_assert_true (gtk_widget_get_mapped (zoom));
    cdl_zoom_view_set_zoom (CDL_ZOOM_VIEW (zoom), 3.0, 10, 10);
    g_assert_cmpfloat (cdl_zoom_view_get_zoom (CDL_ZOOM_VIEW (zoom)), ==, 3.0);
    press (page, "annotate.close-zoom", -1);
    g_assert_false (gtk_widget_get_mapped (zoom));
  }
  press (page, "annotate.choose", 0);
  wait_view (page, "gallery", b1);

  /* Batch 2: S marks it spam. */
  b2 = g_strdup (cdl_annotate_page_get_batch_id (page));
  press (page, "annotate.spam", -1);
  wait_view (page, "gallery", b2);

  /* Batch 3: 3 chooses, Z takes it back and shows the batch again, 4. */
  b3 = g_strdup (cdl_annotate_page_get_batch_id (page));
  shown_order (page, order3);
  press (page, "annotate.choose", 2);
  wait_view (page, "gallery", b3);
  b4 = g_strdup (cdl_annotate_page_get_batch_id (page));
  press (page, "annotate.undo", -1);
  wait_view (page, "gallery", b4);
  g_assert_cmpstr (cdl_annotate_page_get_batch_id (page), ==, b3);
  {
    const char *params[2] = { user_id, b3 };
    g_autoptr(PGresult) gone = sql (f, "SELECT count (*) FROM annotations"
                                       " WHERE user_id = $1 AND batch_id = $2", 2, params);

    g_assert_cmpint (cdl_pq_get_int64 (gone, 0, 0), ==, 0);
  }
  press (page, "annotate.choose", 3);
  wait_view (page, "gallery", b3);

  /* Batch 4 (the one leased before the undo comes back), then nothing left. */
  g_assert_cmpstr (cdl_annotate_page_get_batch_id (page), ==, b4);
  shown_order (page, order4);
  press (page, "annotate.choose", 1);
  wait_view (page, "done", NULL);
  g_assert_cmpstr (gtk_label_get_label (progress), ==,
                   "4 of 4 labelled");

  /* The rows, indexes in stored order. */
  {
    const char *params[1] = { user_id };
    g_autoptr(PGresult) rows = sql (f, "SELECT batch_id, chosen_index, rejected_index, spam,"
                                       "  shown_order::text, decision_ms"
                                       " FROM annotations WHERE user_id = $1", 1, params);
    guint seen = 0;

    g_assert_cmpint (PQntuples (rows), ==, 4);
    order1_text = int_array (order1, SEEDS);
    for (int i = 0; i < PQntuples (rows); i++)
      {
        const char *batch = cdl_pq_get_string (rows, i, 0);

        g_assert_cmpint (cdl_pq_get_int (rows, i, 5), >=, 0);
        g_assert_false (PQgetisnull (rows, i, 5));
        if (g_strcmp0 (batch, b1) == 0)
          {
            g_assert_cmpint (cdl_pq_get_int (rows, i, 1), ==, order1[0]);
            g_assert_cmpint (cdl_pq_get_int (rows, i, 2), ==, order1[1]);
            g_assert_false (cdl_pq_get_bool (rows, i, 3));
            g_assert_cmpstr (cdl_pq_get_string (rows, i, 4), ==, order1_text);
          }
        else if (g_strcmp0 (batch, b2) == 0)
          {
            g_assert_true (PQgetisnull (rows, i, 1));
            g_assert_true (PQgetisnull (rows, i, 2));
            g_assert_true (cdl_pq_get_bool (rows, i, 3));
          }
        else if (g_strcmp0 (batch, b3) == 0)
          {
            g_assert_cmpint (cdl_pq_get_int (rows, i, 1), ==, order3[3]);
            g_assert_true (PQgetisnull (rows, i, 2));
            g_assert_false (cdl_pq_get_bool (rows, i, 3));
          }
        else
          {
            g_assert_cmpstr (batch, ==, b4);
            g_assert_cmpint (cdl_pq_get_int (rows, i, 1), ==, order4[1]);
          }
        seen++;
      }
    g_assert_cmpuint (seen, ==, 4);
  }

  /* Export: the file holds one line per non-spam label, as stored. */
  {
    CdlExportPage *export = CDL_EXPORT_PAGE (cdl_test_ui_named (root, "export-page"));
    g_autofree char *out = g_build_filename (f->tmpdir, "export.jsonl", NULL);
    g_autoptr(GFile) file = g_file_new_for_path (out);
    g_autofree char *contents = NULL;
    g_autofree char *preview = NULL;
    g_auto(GStrv) lines = NULL;
    const char *params[2] = { user_id, task_id };
    g_autoptr(PGresult) rows = NULL;
    guint n_lines;

    cdl_window_set_visible_page (f->window, "export");
    g_assert_true (cdl_test_ui_iterate_until (export_idle, export, CDL_TEST_UI_WAIT_TIMEOUT_MS));
    g_assert_true (cdl_export_page_select_task (export, task_id));
    g_assert_true (cdl_test_ui_iterate_until (export_idle, export, CDL_TEST_UI_WAIT_TIMEOUT_MS));
    preview = cdl_export_page_get_preview (export);
    g_assert_nonnull (strstr (preview, "\"chosen\""));

    cdl_export_page_save_to_file (export, file);
    g_assert_true (cdl_test_ui_iterate_until (export_idle, export, CDL_TEST_UI_WAIT_TIMEOUT_MS));
    g_assert_cmpint (cdl_export_page_get_saved_lines (export), ==, 3);
    g_assert_true (g_file_get_contents (out, &contents, NULL, NULL));
    lines = g_strsplit (contents, "\n", -1);
    n_lines = g_strv_length (lines);
    g_assert_cmpuint (n_lines, ==, 4);
    g_assert_cmpstr (lines[3], ==, "");
    g_assert_true (g_str_has_prefix (preview, lines[0]));

    rows = sql (f, "SELECT a.batch_id, g.image_uri"
                   " FROM annotations a JOIN generations g ON g.prompt_id = a.prompt_id"
                   " JOIN seeds s ON s.id = g.seed_id"
                   " WHERE a.user_id = $1 AND a.task_id = $2 AND NOT a.spam"
                   "   AND s.position = a.chosen_index", 2, params);
    g_assert_cmpint (PQntuples (rows), ==, 3);
    for (guint i = 0; i < 3; i++)
      {
        g_autoptr(JsonNode) node = cdl_test_ui_parse_json (lines[i]);
        JsonObject *obj = json_node_get_object (node);
        const char *batch = json_object_get_string_member (obj, "batch_id");
        const char *uri = json_object_get_string_member (json_object_get_object_member (obj,
                                                                                        "chosen"),
                                                         "uri");
        gboolean found = FALSE;

        g_assert_cmpstr (json_object_get_string_member (obj, "annotator_id"), ==, user_id);
        g_assert_cmpstr (json_object_get_string_member (obj, "task_id"), ==, task_id);
        for (int r = 0; r < PQntuples (rows); r++)
          if (g_strcmp0 (cdl_pq_get_string (rows, r, 0), batch) == 0)
            {
              g_assert_cmpstr (cdl_pq_get_string (rows, r, 1), ==, uri);
              found = TRUE;
            }
        g_assert_true (found);
        /* Batch 1 rejected one image; the others reject the rest. */
        g_assert_cmpuint (json_array_get_length (json_object_get_array_member (obj, "rejected")),
                          ==, g_strcmp0 (batch, b1) == 0 ? 1 : SEEDS - 1);
      }

    /* Pairs: one line per (chosen, rejected) pair, 1 + 3 + 3 of them. */
    {
      g_autofree char *pairs_out = g_build_filename (f->tmpdir, "pairs.jsonl", NULL);
      g_autoptr(GFile) pairs_file = g_file_new_for_path (pairs_out);
      g_autofree char *pairs = NULL;
      g_auto(GStrv) pair_lines = NULL;

      cdl_export_page_set_format (export, CDL_EXPORT_PAIRS);
      g_assert_true (cdl_test_ui_iterate_until (export_idle, export,
                                                CDL_TEST_UI_WAIT_TIMEOUT_MS));
      cdl_export_page_save_to_file (export, pairs_file);
      g_assert_true (cdl_test_ui_iterate_until (export_idle, export,
                                                CDL_TEST_UI_WAIT_TIMEOUT_MS));
      g_assert_cmpint (cdl_export_page_get_saved_lines (export), ==, 1 + 2 * (SEEDS - 1));
      g_assert_true (g_file_get_contents (pairs_out, &pairs, NULL, NULL));
      pair_lines = g_strsplit (pairs, "\n", -1);
      g_assert_cmpuint (g_strv_length (pair_lines), ==, 2 + 2 * (SEEDS - 1));
      for (guint i = 0; pair_lines[i + 1] != NULL; i++)
        {
          g_autoptr(JsonNode) node = cdl_test_ui_parse_json (pair_lines[i]);

          g_assert_true (json_object_has_member (json_node_get_object (node), "label_0"));
        }
      cdl_export_page_set_format (export, CDL_EXPORT_DPO);
      g_assert_true (cdl_test_ui_iterate_until (export_idle, export,
                                                CDL_TEST_UI_WAIT_TIMEOUT_MS));
    }

    /* Checksums: all good, then one file gone. */
    cdl_export_page_verify (export);
    g_assert_true (cdl_test_ui_iterate_until (export_idle, export, CDL_TEST_UI_WAIT_TIMEOUT_MS));
    g_assert_cmpstr (cdl_export_page_get_verify_result (export), ==,
                     "All 12 images match their checksums");
    save_screenshot (f, "export.png");
    {
      CdlInstance *instance = cdl_application_get_instance (f->app);
      CdlObjectStore *store = cdl_instance_get_object_store (instance);
      g_autoptr(GError) error = NULL;
      const char *gone = cdl_pq_get_string (rows, 0, 1);

      g_assert_true (cdl_object_store_delete (store, gone, NULL, &error));
      g_assert_no_error (error);
    }
    cdl_export_page_verify (export);
    g_assert_true (cdl_test_ui_iterate_until (export_idle, export, CDL_TEST_UI_WAIT_TIMEOUT_MS));
    g_assert_cmpstr (cdl_export_page_get_verify_result (export), ==,
                     "1 missing, 0 mismatched, 0 unreadable");
    g_assert_nonnull (cdl_test_ui_find_named (root, "export-problem"));
  }

  /* Quality: the desktop user's figures. */
  {
    CdlQualityPage *quality = CDL_QUALITY_PAGE (cdl_test_ui_named (root, "quality-page"));
    GtkWidget *annotator;

    cdl_window_set_visible_page (f->window, "quality");
    g_assert_true (cdl_test_ui_iterate_until (quality_idle, quality,
                                              CDL_TEST_UI_WAIT_TIMEOUT_MS));
    g_assert_true (cdl_quality_page_select_task (quality, task_id));
    g_assert_true (cdl_test_ui_iterate_until (quality_idle, quality, CDL_TEST_UI_WAIT_TIMEOUT_MS));
    annotator = cdl_test_ui_named (GTK_WIDGET (quality), "quality-annotator");
    g_assert_cmpstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (annotator)), ==,
                     desktop_name);
    g_assert_nonnull (strstr (adw_expander_row_get_subtitle (ADW_EXPANDER_ROW (annotator)),
                              "4 labels"));
    g_assert_nonnull (strstr (adw_expander_row_get_subtitle (ADW_EXPANDER_ROW (annotator)),
                              "25 % spam"));
    adw_expander_row_set_expanded (ADW_EXPANDER_ROW (annotator), TRUE);
    save_screenshot (f, "quality.png");
  }
}

/* A label given elsewhere (on the phone) to the batch on screen, then a
 * different one on the desktop: the undo brings the first one back. */

typedef struct
{
  CdlAnnotationService *annotations;
  JsonNode             *row;
} Submission;

static void
submitted_elsewhere_cb (GObject      *source,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  Submission *submission = user_data;
  g_autoptr(GError) error = NULL;

  submission->row = cdl_annotation_service_submit_finish (submission->annotations, result,
                                                          NULL, &error);
  g_assert_no_error (error);
}

static gboolean
submission_done (gpointer data)
{
  return ((Submission *) data)->row != NULL;
}

static void
test_undo_restores (Fixture *f)
{
  GtkWidget *root = GTK_WIDGET (f->window);
  CdlAnnotatePage *page = CDL_ANNOTATE_PAGE (cdl_test_ui_named (root, "annotate-page"));
  CdlAnnotationService *annotations =
    cdl_instance_get_annotation_service (cdl_application_get_instance (f->app));
  g_autofree char *task_id = add_frozen_task (f);
  g_autofree char *b1 = NULL, *b2 = NULL;
  g_autoptr(JsonNode) body = NULL;
  Submission submission = { annotations, NULL };
  const char *user_id;
  const char *params[2];
  guint order[SEEDS];
  GtkWidget *list;

  store_images (f, task_id);
  cdl_window_set_visible_page (f->window, "annotate");
  wait_view (page, "tasks", NULL);
  list = cdl_test_ui_named (root, "annotate-task-list");
  g_signal_emit_by_name (list, "row-activated", gtk_list_box_get_row_at_index (GTK_LIST_BOX (list),
                                                                               0));
  wait_view (page, "gallery", NULL);
  user_id = cdl_annotate_page_get_user_id (page);
  b1 = g_strdup (cdl_annotate_page_get_batch_id (page));
  shown_order (page, order);

  /* The same user labels the batch on screen elsewhere. */
  {
    g_autofree char *json = g_strdup_printf ("{\"task_id\": \"%s\", \"batch_id\": \"%s\","
                                             " \"chosen_index\": %u, \"rejected_index\": %u,"
                                             " \"spam\": false, \"decision_ms\": 1234}",
                                             task_id, b1, order[2], order[0]);

    body = cdl_test_ui_parse_json (json);
  }
  cdl_annotation_service_submit_async (annotations, user_id, body, NULL,
                                       submitted_elsewhere_cb, &submission);
  g_assert_true (cdl_test_ui_iterate_until (submission_done, &submission,
                                            CDL_TEST_UI_WAIT_TIMEOUT_MS));
  g_clear_pointer (&submission.row, json_node_unref);

  /* A different label here replaces it... */
  press (page, "annotate.choose", 1);
  wait_view (page, "gallery", b1);
  b2 = g_strdup (cdl_annotate_page_get_batch_id (page));
  params[0] = user_id;
  params[1] = b1;
  {
    g_autoptr(PGresult) rows = sql (f, "SELECT chosen_index, rejected_index, spam, decision_ms"
                                       " FROM annotations WHERE user_id = $1 AND batch_id = $2",
                                    2, params);

    g_assert_cmpint (PQntuples (rows), ==, 1);
    g_assert_cmpint (cdl_pq_get_int (rows, 0, 0), ==, order[1]);
    g_assert_true (PQgetisnull (rows, 0, 1));
  }

  /* ... and the undo puts the earlier one back rather than none. */
  press (page, "annotate.undo", -1);
  wait_view (page, "gallery", b2);
  g_assert_cmpstr (cdl_annotate_page_get_batch_id (page), ==, b1);
  {
    g_autoptr(PGresult) rows = sql (f, "SELECT chosen_index, rejected_index, spam, decision_ms"
                                       " FROM annotations WHERE user_id = $1 AND batch_id = $2",
                                    2, params);

    g_assert_cmpint (PQntuples (rows), ==, 1);
    g_assert_cmpint (cdl_pq_get_int (rows, 0, 0), ==, order[2]);
    g_assert_cmpint (cdl_pq_get_int (rows, 0, 1), ==, order[0]);
    g_assert_false (cdl_pq_get_bool (rows, 0, 2));
    g_assert_cmpint (cdl_pq_get_int (rows, 0, 3), ==, 1234);
  }
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  pg = cdl_test_ui_init (&argc, &argv);

  cdl_test_ui_add ("/ui/annotate/label-export-quality", test_label_export_quality, -1);
  cdl_test_ui_add ("/ui/annotate/undo-restores", test_undo_restores, -1);

  ret = g_test_run ();

  cdl_test_pg_stop (pg);

  return ret;
}
