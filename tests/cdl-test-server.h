/* cdl-test-server.h: the real programs behind the integration tests
 *
 * Spawns comfy-datalabel-server and cdl-simworker from the build directory
 * against a database of the PostgreSQL harness, each child killed when the
 * test program dies; takes the admin token from --create-admin; talks HTTP
 * with the {success, data, error} envelope; runs SQL over libpq.
 *
 * CdlTestCluster is a whole fixture of any number of servers and simulated
 * workers on one database; CdlTestApi is one of a single server and its
 * REST API.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <libpq-fe.h>
#include <libsoup/soup.h>

#include "cdl-test-pg.h"
#include "core/cdl-auth.h"
#include "storage/cdl-object-store.h"

G_BEGIN_DECLS

/* A path under $CDL_BUILD_DIR, in a static buffer. */
const char          *cdl_test_build_path     (const char          *rel);

/* A launcher for the programs: stdout piped, @death_signal sent to the
 * child when the test dies, DATABASE_URL set to @conninfo and the secrets
 * kept in @tmpdir; @debug goes to G_MESSAGES_DEBUG. */
GSubprocessLauncher *cdl_test_launcher_new   (const char          *conninfo,
                                              const char          *tmpdir,
                                              const char          *debug,
                                              int                  death_signal);

/* Runs @argv, a server run with --create-admin; returns the token, the
 * last line of its output. */
char                *cdl_test_run_create_admin (GSubprocessLauncher *launcher,
                                                const char * const  *argv);

/* Runs the server with --create-admin root; returns the token. */
char                *cdl_test_create_admin   (GSubprocessLauncher *launcher,
                                              const char          *data_dir);

/* Starts the server of @argv with its output in @log_path and waits up to
 * a minute for its "Listening on" line; @base_url gets the URL without the
 * trailing slash. The launcher pipes stdout again afterwards. */
GSubprocess         *cdl_test_server_spawn   (GSubprocessLauncher *launcher,
                                              const char * const  *argv,
                                              const char          *log_path,
                                              char               **base_url);

/* SIGTERM must end a server with status 0. */
void                 cdl_test_server_stop    (GSubprocess         *proc);

/* Removes @dir and all in it, unless $CDL_TEST_KEEP is set. */
void                 cdl_test_remove_tree    (const char          *dir);

/* Sends one request; returns the parsed answer, NULL when empty. */
JsonNode            *cdl_test_http           (SoupSession         *http,
                                              const char          *method,
                                              const char          *url,
                                              const char          *token,
                                              const char          *body,
                                              guint               *status);

/* The same, with a body of @body_len bytes; @out_msg, unless NULL, gets
 * the message for its headers. */
JsonNode            *cdl_test_http_full      (SoupSession         *http,
                                              const char          *method,
                                              const char          *url,
                                              const char          *token,
                                              const char          *body,
                                              gsize                body_len,
                                              guint               *status,
                                              SoupMessage        **out_msg);

/* Asserts the envelope of a successful answer with @want and returns its
 * data, owned by @root. */
JsonNode            *cdl_test_expect_ok      (JsonNode            *root,
                                              guint                status,
                                              guint                want);

/* Asserts the envelope of a failed answer with @want and that its message
 * mentions @needle, unless @needle is NULL. */
void                 cdl_test_expect_error   (JsonNode            *root,
                                              guint                status,
                                              guint                want,
                                              const char          *needle);

/* Runs @query on a connection of its own and asserts it succeeded. */
PGresult            *cdl_test_sql            (const char          *conninfo,
                                              const char          *query,
                                              int                  n_params,
                                              const char * const  *params);

/* The first column of the first row of @query as an integer. */
gint64               cdl_test_sql_int        (const char          *conninfo,
                                              const char          *query,
                                              const char          *param);

/* A server or a simulated worker and its base URL. */
typedef struct
{
  GSubprocess *proc;
  char        *url;
} CdlTestProc;

void                 cdl_test_proc_free      (gpointer             data);

typedef struct
{
  char        *conninfo;
  char        *tmpdir;
  char        *data_dir;
  char        *storage_dir;
  GPtrArray   *servers;   /* CdlTestProc */
  GPtrArray   *sims;      /* CdlTestProc */
  char        *admin_token;
  SoupSession *http;
  guint        n_logs;
} CdlTestCluster;

/* Takes a fresh database of @pg and a temporary directory named after
 * @tmp_template, and creates the admin. */
void                 cdl_test_cluster_set_up     (CdlTestCluster      *f,
                                                  CdlTestPg           *pg,
                                                  const char          *tmp_template);

/* Stops every server still running, cleanly, then the workers. */
void                 cdl_test_cluster_tear_down  (CdlTestCluster      *f);

/* Starts a server with a 1 s health interval; kept until tear-down. */
CdlTestProc         *cdl_test_start_server       (CdlTestCluster      *f);

/* Starts a simulated worker at 20 ms per image, plus @extra arguments. */
CdlTestProc         *cdl_test_start_sim          (CdlTestCluster      *f,
                                                  const char * const  *extra);

/* Calls the API of @server as the admin; asserts @want and returns the
 * envelope. */
JsonNode            *cdl_test_call               (CdlTestCluster      *f,
                                                  CdlTestProc         *server,
                                                  const char          *method,
                                                  const char          *path,
                                                  const char          *body,
                                                  guint                want);

JsonObject          *cdl_test_data_of            (JsonNode            *root);

/* Adds @sim as a worker and asserts its test probe finds it healthy;
 * returns its id. */
char                *cdl_test_add_worker         (CdlTestCluster      *f,
                                                  CdlTestProc         *server,
                                                  CdlTestProc         *sim,
                                                  const char          *name,
                                                  int                  max_concurrent);

/* Stores a workflow from tests/data/workflows as validated; returns its
 * id. */
char                *cdl_test_add_workflow       (CdlTestCluster      *f,
                                                  const char          *file);
/* Makes and freezes a task of @k prompts × @n seeds on sd15.json, over a
 * pool of its own; returns its id. */
char                *cdl_test_add_frozen_task    (CdlTestCluster      *f,
                                                  CdlTestProc         *server,
                                                  int                  k,
                                                  int                  n);

/* Calls /api/tasks/@task_id/@action on @server; asserts @want. */
JsonNode            *cdl_test_task_call          (CdlTestCluster      *f,
                                                  CdlTestProc         *server,
                                                  const char          *method,
                                                  const char          *task_id,
                                                  const char          *action,
                                                  guint                want);

gint64               cdl_test_progress_done      (CdlTestCluster      *f,
                                                  CdlTestProc         *server,
                                                  const char          *task_id);

/* Polls the progress until the task leaves RUNNING, for at most @seconds;
 * returns its state. */
char                *cdl_test_wait_end           (CdlTestCluster      *f,
                                                  CdlTestProc         *server,
                                                  const char          *task_id,
                                                  guint                seconds);

/* What /_sim/state of @sim answers. */
JsonObject          *cdl_test_sim_state          (CdlTestCluster      *f,
                                                  CdlTestProc         *sim);

/* Posts @body to /_sim/config of @sim. */
void                 cdl_test_sim_config         (CdlTestCluster      *f,
                                                  CdlTestProc         *sim,
                                                  const char          *body);

/* One server and its REST API ---------------------------------------------- */

typedef struct
{
  char           *conninfo;
  char           *tmpdir;
  char           *data_dir;
  char           *storage_dir;
  char           *log_path;
  GSubprocess    *server;
  char           *base_url;
  char           *admin_token;
  SoupSession    *http;
  CdlObjectStore *store;
} CdlTestApi;

/* Takes a fresh database of @pg and a temporary directory named after
 * @tmp_template, creates the admin and starts the server. With
 * @with_store, the server keeps its files in a store the test can reach
 * as f->store, with no media key, media base or export base. */
void                 cdl_test_api_set_up         (CdlTestApi          *f,
                                                  CdlTestPg           *pg,
                                                  const char          *tmp_template,
                                                  gboolean             with_store);

/* A launcher for more runs of the server on the fixture's database and
 * store. */
GSubprocessLauncher *cdl_test_api_launcher       (CdlTestApi          *f);

/* SIGTERM must end the server with status 0. */
void                 cdl_test_api_tear_down      (CdlTestApi          *f);

/* Sends one request to the server's @path. */
JsonNode            *cdl_test_api                (CdlTestApi          *f,
                                                  const char          *method,
                                                  const char          *path,
                                                  const char          *token,
                                                  const char          *body,
                                                  guint               *status);

/* Asserts a successful envelope with @want, as the admin, and returns a
 * copy of its data. */
JsonNode            *cdl_test_api_ok             (CdlTestApi          *f,
                                                  const char          *method,
                                                  const char          *path,
                                                  const char          *body,
                                                  guint                want);

/* The same for @token. */
JsonNode            *cdl_test_api_ok_as          (CdlTestApi          *f,
                                                  const char          *token,
                                                  const char          *method,
                                                  const char          *path,
                                                  const char          *body,
                                                  guint                want);

/* Asserts a failed envelope with @want whose message mentions @needle,
 * unless @needle is NULL. */
void                 cdl_test_api_error          (CdlTestApi          *f,
                                                  const char          *method,
                                                  const char          *path,
                                                  const char          *token,
                                                  const char          *body,
                                                  guint                want,
                                                  const char          *needle);

PGconn              *cdl_test_api_connect        (CdlTestApi          *f);

/* A token for a user @name of @role, made straight in the database. */
char                *cdl_test_api_token_for_role (CdlTestApi          *f,
                                                  const char          *name,
                                                  CdlRole              role);

/* Stores a workflow version straight in the database: a KSampler and a
 * positive CLIPTextEncode whose text is @positive; when not @valid, it
 * carries a forbidden-node problem. Returns its id. */
char                *cdl_test_api_insert_workflow (CdlTestApi         *f,
                                                   const char         *name,
                                                   const char         *positive,
                                                   gboolean            valid);

/* POST /api/variable-pools with @n items "<prefix> <i>"; returns the id. */
char                *cdl_test_api_create_pool    (CdlTestApi          *f,
                                                  const char          *name,
                                                  const char          *mode,
                                                  const char          *prefix,
                                                  guint                n);

/* The body of POST /api/tasks over one or two pools, with @extra members
 * appended unless NULL. */
char                *cdl_test_task_body          (const char          *workflow_id,
                                                  const char          *pool_a,
                                                  const char          *pool_b,
                                                  int                  k,
                                                  int                  n,
                                                  const char          *extra);

/* A task of @k prompts × @n seeds made straight in the database (DONE,
 * frozen), whose first @complete prompts have all their images stored
 * and the next one only its first; the image objects exist in f->store
 * when @files. Returns the task id. */
char                *cdl_test_api_seed_task      (CdlTestApi          *f,
                                                  const char          *name,
                                                  int                  k,
                                                  int                  n,
                                                  int                  complete,
                                                  gboolean             files);

G_END_DECLS
