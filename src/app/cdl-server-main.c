/* cdl-server-main.c: comfy-datalabel-server, the headless engine
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-server"

#include "config.h"

#include <gio/gunixoutputstream.h>
#include <glib-unix.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "api/cdl-api-server.h"
#include "app/cdl-server-config.h"
#include "services/cdl-instance.h"

typedef struct
{
  char     *bind;
  int       port;
  char     *data_dir;
  char     *storage_dir;
  char     *create_admin;
  char     *format;
  char     *output;
  double    health_interval;
  gboolean  version;
  char     *config;
  gboolean  check_config;
  char     *metrics_bind;
} Options;

static void
options_clear (Options *opts)
{
  g_clear_pointer (&opts->bind, g_free);
  g_clear_pointer (&opts->data_dir, g_free);
  g_clear_pointer (&opts->storage_dir, g_free);
  g_clear_pointer (&opts->create_admin, g_free);
  g_clear_pointer (&opts->format, g_free);
  g_clear_pointer (&opts->output, g_free);
  g_clear_pointer (&opts->config, g_free);
  g_clear_pointer (&opts->metrics_bind, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Options, options_clear)

static gboolean
quit_cb (gpointer user_data)
{
  GMainLoop *loop = user_data;

  g_message ("Stopping");
  cdl_server_sd_notify ("STOPPING=1");
  g_main_loop_quit (loop);

  return G_SOURCE_REMOVE;
}

/* DATABASE_URL wins; otherwise libpq's own PG* variables, when any is set,
 * configure the connection through an empty conninfo. NULL: embedded. */
static char *
configured_conninfo (void)
{
  static const char * const pg_vars[] = {
    "PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE",
  };
  const char *url = g_getenv ("DATABASE_URL");

  if (url != NULL && *url != '\0')
    return g_strdup (url);

  for (guint i = 0; i < G_N_ELEMENTS (pg_vars); i++)
    if (g_getenv (pg_vars[i]) != NULL)
      return g_strdup ("");

  return NULL;
}

static int
create_admin (CdlInstance *instance,
              const char  *name)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *token = NULL;

  token = cdl_auth_service_issue_token_sync (cdl_instance_get_auth_service (instance),
                                             name, CDL_ROLE_ADMIN, "command line", &error);
  if (token == NULL)
    {
      g_printerr ("Cannot create the admin %s: %s\n", name, error->message);
      return EXIT_FAILURE;
    }

  g_print ("Created a token for the admin %s. Keep it safe: it is shown only once.\n", name);
  g_print ("%s\n", token);

  return EXIT_SUCCESS;
}

/* comfy-datalabel-server export-dpo TASK_ID [--format dpo|pairs]
 * [--output FILE]: the same JSONL as GET /api/tasks/{id}/export/dpo. */
static int
export_dpo (CdlInstance *instance,
            const char  *task_id,
            const char  *format,
            const char  *output)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GOutputStream) stream = NULL;
  g_autoptr(GFile) file = NULL;
  CdlExportFormat kind = CDL_EXPORT_DPO;
  gint64 lines;

  if (task_id == NULL)
    {
      g_printerr ("Usage: comfy-datalabel-server export-dpo TASK_ID [--format dpo|pairs]"
                  " [--output FILE]\n");
      return EXIT_FAILURE;
    }
  if (format != NULL && g_strcmp0 (format, "pairs") == 0)
    kind = CDL_EXPORT_PAIRS;
  else if (format != NULL && g_strcmp0 (format, "dpo") != 0)
    {
      g_printerr ("--format must be dpo or pairs\n");
      return EXIT_FAILURE;
    }

  if (output != NULL)
    {
      file = g_file_new_for_commandline_arg (output);
      stream = G_OUTPUT_STREAM (g_file_replace (file, NULL, FALSE, G_FILE_CREATE_NONE, NULL,
                                                &error));
      if (stream == NULL)
        {
          g_printerr ("Cannot write %s: %s\n", output, error->message);
          return EXIT_FAILURE;
        }
    }
  else
    {
      stream = g_unix_output_stream_new (STDOUT_FILENO, FALSE);
    }

  lines = cdl_annotation_service_export_to_stream (
    cdl_instance_get_annotation_service (instance), task_id, kind, stream, NULL, &error);
  if (lines < 0 || !g_output_stream_close (stream, NULL, &error))
    {
      g_printerr ("The export failed: %s\n", error->message);
      return EXIT_FAILURE;
    }

  if (output != NULL)
    g_printerr ("Wrote %" G_GINT64_FORMAT " lines to %s\n", lines, output);

  return EXIT_SUCCESS;
}

/* The file fills what the command line left unset. */
static gboolean
merge_config (Options          *opts,
              CdlServerConfig  *config,
              gboolean          port_given,
              GError          **error)
{
  if (!cdl_server_config_load (config, opts->config, error)
      || !cdl_server_config_apply_password (config, error))
    return FALSE;

#define TAKE(field, from) \
  if (opts->field == NULL && config->from != NULL) \
    opts->field = g_strdup (config->from)
  TAKE (bind, bind);
  TAKE (data_dir, data_dir);
  TAKE (storage_dir, storage_dir);
  TAKE (metrics_bind, metrics_bind);
#undef TAKE

  if (!port_given && config->port >= 0)
    opts->port = config->port;
  if (opts->health_interval == 0 && config->health_interval > 0)
    opts->health_interval = config->health_interval;

  return TRUE;
}

/* --check-config: the file was read; now the database. */
static int
check_config (const char *conninfo)
{
  g_autoptr(CdlDb) db = NULL;
  g_autoptr(GError) error = NULL;

  if (conninfo == NULL)
    {
      g_print ("Configuration OK; no database is configured, so the embedded one will "
               "be used\n");
      return EXIT_SUCCESS;
    }

  db = cdl_db_new (conninfo, 1);
  if (!cdl_db_open (db, &error))
    {
      g_printerr ("The configuration reads, but the database does not answer: %s\n",
                  error->message);
      return EXIT_FAILURE;
    }

  g_print ("Configuration OK; the database answers\n");
  return EXIT_SUCCESS;
}

int
main (int   argc,
      char *argv[])
{
  g_auto(Options) opts = { .port = 8470 };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlInstance) instance = NULL;
  g_autoptr(CdlApiServer) server = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autofree char *conninfo = NULL;
  g_autofree char *url = NULL;
  g_autoptr(SoupServer) metrics_server = NULL;
  g_auto(CdlServerConfig) config;
  CdlInstanceOptions instance_opts = { 0 };
  const GOptionEntry entries[] = {
    { "bind", 0, 0, G_OPTION_ARG_STRING, &opts.bind,
      "Address to listen on (default 127.0.0.1)", "ADDR" },
    { "port", 0, 0, G_OPTION_ARG_INT, &opts.port,
      "Port to listen on (default 8470; 0 picks a free one)", "N" },
    { "data-dir", 0, 0, G_OPTION_ARG_FILENAME, &opts.data_dir,
      "Directory for the embedded database, files and secrets", "DIR" },
    { "storage-dir", 0, 0, G_OPTION_ARG_FILENAME, &opts.storage_dir,
      "Root of the image store (default DATA-DIR/storage; a NAS mount shared by all "
      "instances works)", "DIR" },
    { "create-admin", 0, 0, G_OPTION_ARG_STRING, &opts.create_admin,
      "Create an admin and print a new token as the last line, then exit", "NAME" },
    { "health-interval", 0, 0, G_OPTION_ARG_DOUBLE, &opts.health_interval,
      "Seconds between worker health checks (default 30)", "SECONDS" },
    { "format", 0, 0, G_OPTION_ARG_STRING, &opts.format,
      "With export-dpo: dpo (default) or pairs", "FORMAT" },
    { "output", 0, 0, G_OPTION_ARG_FILENAME, &opts.output,
      "With export-dpo: the file to write (default: standard output)", "FILE" },
    { "version", 0, 0, G_OPTION_ARG_NONE, &opts.version,
      "Print the version and exit", NULL },
    { "config", 0, 0, G_OPTION_ARG_FILENAME, &opts.config,
      "Read settings from this key file (options given here win)", "FILE" },
    { "check-config", 0, 0, G_OPTION_ARG_NONE, &opts.check_config,
      "Check the configuration and the database connection, then exit", NULL },
    { "metrics-bind", 0, 0, G_OPTION_ARG_STRING, &opts.metrics_bind,
      "Also serve /metrics and /healthz without a token on this private address",
      "ADDR:PORT" },
    { NULL }
  };

  setlocale (LC_ALL, "");
  cdl_server_config_init (&config);

  context = g_option_context_new ("[export-dpo TASK_ID] - ComfyUI DataLabel headless server");
  g_option_context_set_summary (context,
    "Runs the REST API, the annotation web page and the orchestrator without a GUI.\n"
    "The database comes from DATABASE_URL or the PG* variables when set; otherwise\n"
    "an embedded PostgreSQL cluster is kept in the data directory.");
  g_option_context_add_main_entries (context, entries, NULL);

  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\nRun %s --help to see the options.\n", error->message, argv[0]);
      return EXIT_FAILURE;
    }

  if (opts.version)
    {
      g_print ("comfy-datalabel-server %s\n", PACKAGE_VERSION);
      return EXIT_SUCCESS;
    }

  if (opts.config != NULL && !merge_config (&opts, &config, opts.port != 8470, &error))
    {
      g_printerr ("%s\n", error->message);
      return EXIT_FAILURE;
    }
  else if (opts.check_config && opts.config == NULL)
    {
      g_printerr ("--check-config needs --config FILE\n");
      return EXIT_FAILURE;
    }

  if (opts.port < 0 || opts.port > 65535)
    {
      g_printerr ("--port must be between 0 and 65535\n");
      return EXIT_FAILURE;
    }

  if (opts.health_interval < 0 || opts.health_interval > 86400)
    {
      g_printerr ("--health-interval must be between 0 and 86400 seconds\n");
      return EXIT_FAILURE;
    }

  conninfo = configured_conninfo ();
  if (conninfo == NULL && config.database_url != NULL)
    conninfo = g_strdup (config.database_url);

  if (opts.check_config)
    return check_config (conninfo);

  instance_opts.data_dir = opts.data_dir;
  instance_opts.storage_dir = opts.storage_dir;
  instance_opts.conninfo = conninfo;
  instance_opts.health_interval_ms = (guint)(opts.health_interval * 1000);
  instance_opts.alerts.webhook_url = config.webhook_url;
  instance_opts.alerts.log_warnings = TRUE;
  if (config.storage_min_free_mb > 0)
    instance_opts.alerts.storage_min_free = (guint64)config.storage_min_free_mb << 20;
  if (config.stall_seconds > 0)
    instance_opts.alerts.stall_s = (guint)config.stall_seconds;
  if (config.alert_interval > 0)
    instance_opts.alerts.interval_ms = (guint)config.alert_interval * 1000;
  instance_opts.drain_ms = config.shutdown_timeout >= 0
                           ? (guint)(config.shutdown_timeout * 1000) : 20000;
  if (g_getenv ("CDL_SECRETS_FILE") != NULL)
    instance_opts.secrets = cdl_secret_store_new_for_file (g_getenv ("CDL_SECRETS_FILE"));

  instance = cdl_instance_new (&instance_opts);
  g_clear_object (&instance_opts.secrets);

  if (!cdl_instance_start_sync (instance, &error))
    {
      g_printerr ("Cannot start: %s\n", error->message);
      return EXIT_FAILURE;
    }

  if (opts.create_admin != NULL)
    {
      int status = create_admin (instance, opts.create_admin);

      cdl_instance_shutdown (instance);
      return status;
    }

  if (argc >= 2 && g_strcmp0 (argv[1], "export-dpo") == 0)
    {
      int status = export_dpo (instance, argc == 3 ? argv[2] : NULL, opts.format, opts.output);

      cdl_instance_shutdown (instance);
      return status;
    }

  server = cdl_api_server_new (instance);
  if (!cdl_api_server_listen (server, opts.bind, opts.port, &error))
    {
      g_printerr ("Cannot listen on %s:%d: %s\n", opts.bind ? opts.bind : "127.0.0.1",
                  opts.port, error->message);
      cdl_instance_shutdown (instance);
      return EXIT_FAILURE;
    }

  if (opts.metrics_bind != NULL)
    {
      g_autofree char *host = NULL;
      guint port = 0;

      if (!cdl_server_parse_address (opts.metrics_bind, &host, &port, &error)
          || (metrics_server = cdl_api_ops_listen_metrics (instance, host, port,
                                                           &error)) == NULL)
        {
          g_printerr ("Cannot serve metrics on %s: %s\n", opts.metrics_bind, error->message);
          cdl_instance_shutdown (instance);
          return EXIT_FAILURE;
        }
      g_message ("Serving /metrics and /healthz on %s", opts.metrics_bind);
    }

  cdl_instance_start_services (instance);

  url = cdl_api_server_get_url (server);
  g_message ("Listening on %s/", url);
  cdl_server_sd_notify ("READY=1");

  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGTERM, quit_cb, loop);
  g_unix_signal_add (SIGINT, quit_cb, loop);
  g_main_loop_run (loop);

  /* The scheduler stops taking work first; images already downloading
   * get a few seconds, and every other job is left for recovery. */
  cdl_api_server_disconnect (server);
  if (metrics_server != NULL)
    soup_server_disconnect (metrics_server);
  cdl_instance_shutdown (instance);

  return EXIT_SUCCESS;
}
