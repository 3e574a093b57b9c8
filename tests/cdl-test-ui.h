/* cdl-test-ui.h: driving the real desktop application in a test
 *
 * The application runs for real, g_application_run () and all, against a
 * database of the test's own; the test body runs from the main loop once
 * the window is there and the instance has started. Widgets are found by
 * their widget name and pressed the way their buttons would. Runs under
 * Xvfb.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "cdl-test-pg.h"
#include "sim/cdl-sim-server.h"
#include "ui/cdl-application.h"
#include "ui/cdl-window.h"

G_BEGIN_DECLS

/* Generous: a loaded CI machine may take seconds to apply the migrations.
 * Waits end as soon as their condition holds. */
#define CDL_TEST_UI_START_TIMEOUT_MS 60000
#define CDL_TEST_UI_WAIT_TIMEOUT_MS  15000

/* g_test_init () with warnings and criticals fatal, GTK kept off the
 * locale, and a PostgreSQL cluster started for the program's tests. */
CdlTestPg *cdl_test_ui_init            (int                *argc,
                                        char             ***argv);

/* Like init, but a warning is counted rather than fatal; the fixture's
 * tear-down fails the test that logged one. */
CdlTestPg *cdl_test_ui_init_counting_warnings (int                *argc,
                                              char             ***argv);

typedef gboolean (*CdlTestUiCondition) (gpointer data);
typedef void     (*CdlTestUiBody)      (CdlApplication *app,
                                        CdlWindow      *window,
                                        gpointer        data);

/* Runs the main loop until @condition holds or @timeout_ms pass. */
gboolean   cdl_test_ui_iterate_until   (CdlTestUiCondition  condition,
                                        gpointer            data,
                                        guint               timeout_ms);

GtkWidget *cdl_test_ui_find_named      (GtkWidget          *root,
                                        const char         *name);
/* Adds every widget under @root (itself included) named @name to @found. */
void       cdl_test_ui_collect_named   (GtkWidget          *root,
                                        const char         *name,
                                        GPtrArray          *found);
/* Like find_named, but a missing widget fails the test. */
GtkWidget *cdl_test_ui_named           (GtkWidget          *root,
                                        const char         *name);

/* Waits for a visible toplevel of @type (and widget name @name, unless
 * NULL). */
GtkWindow *cdl_test_ui_wait_for_window (GType               type,
                                        const char         *name);
/* Waits until no visible toplevel of @type (and name @name) is left. */
void       cdl_test_ui_wait_window_gone (GType              type,
                                         const char        *name);
/* Answers a message dialog as its button would, and waits for it to go. */
void       cdl_test_ui_respond         (GtkWindow          *dialog,
                                        const char         *response);
void       cdl_test_ui_click           (GtkWidget          *button);

/* A fresh application on @conninfo, with a data dir, a secrets file and a
 * REST port of its own; the caller removes @tmpdir with remove_tree. */
CdlApplication *cdl_test_ui_new_app    (const char         *conninfo,
                                        const char         *tmpdir);

/* Runs @app until @body returns, then closes its windows and quits. */
void       cdl_test_ui_run             (CdlApplication     *app,
                                        CdlTestUiBody       body,
                                        gpointer            data);

void       cdl_test_ui_remove_tree     (const char         *path);

/* Paints @widget, @width × @height, with the renderer of its window and
 * saves it as a PNG at @path. */
void       cdl_test_ui_save_screenshot (GtkWidget          *widget,
                                        int                 width,
                                        int                 height,
                                        const char         *path);

/* Setting up through the services, as the other pages would */

/* Parses @json; a syntax error fails the test. */
JsonNode  *cdl_test_ui_parse_json      (const char         *json);

/* Registers the worker @name at @base_url and waits for its first
 * healthy check. */
void       cdl_test_ui_add_worker      (CdlApplication     *app,
                                        const char         *name,
                                        const char         *base_url,
                                        int                 max_concurrent_jobs);

/* The task @task_name of every one of @items × @seeds, on the sd15 test
 * workflow uploaded as @workflow_name and a pool @pool_name of @items;
 * frozen when @freeze. Returns the task's id. */
char      *cdl_test_ui_add_task_full   (CdlApplication     *app,
                                        const char         *workflow_name,
                                        const char         *pool_name,
                                        const char         *task_name,
                                        const char * const *items,
                                        int                 seeds,
                                        gboolean            freeze);
/* The task @name of @prompts numbered prompts × @seeds, its workflow
 * named @name too and its pool subject_@name. */
char      *cdl_test_ui_add_task        (CdlApplication     *app,
                                        const char         *name,
                                        int                 prompts,
                                        int                 seeds,
                                        gboolean            freeze);

/* A test with a fresh application on a database of its own, and a
 * simulated worker when asked for. @window is set while the body runs. */
typedef struct
{
  char           *conninfo;
  char           *tmpdir;
  CdlSimServer   *sim;
  char           *sim_url;
  CdlApplication *app;
  CdlWindow      *window;
} CdlTestUiFixture;

typedef void (*CdlTestUiFixtureBody) (CdlTestUiFixture *f);

/* The worker takes @ms_per_image per image (0: its default; -1: no worker).
 * Needs cdl_test_ui_init () or cdl_test_ui_init_counting_warnings () first. */
void       cdl_test_ui_add             (const char          *path,
                                        CdlTestUiFixtureBody body,
                                        int                  ms_per_image);

G_END_DECLS
