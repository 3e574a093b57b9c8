/* cdl-simworker-main.c: a ComfyUI-compatible simulated worker
 *
 * Prints "cdl-simworker listening on http://ADDRESS:PORT" once it listens,
 * so that a test or script that starts it with --port 0 learns the port.
 * Accepted prompts run and write PNGs; see cdl-sim-server.h for the
 * faults and the control routes that change them at run time.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-sim"

#include "config.h"

#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>

#include <glib-unix.h>

#include "sim/cdl-sim-server.h"

static gboolean
quit_cb (gpointer user_data)
{
  GMainLoop *loop = user_data;

  g_main_loop_quit (loop);

  return G_SOURCE_CONTINUE;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(CdlSimServer) server = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autofree char *bind = NULL;
  g_autofree char *api_key = NULL;
  g_autofree char *nodes_exclude = NULL;
  g_autofree char *base_url = NULL;
  g_autofree char *output_dir = NULL;
  g_auto(GStrv) exclude = NULL;
  gint port = 8188;
  gint ms_per_image = 50;
  gint crash_after = 0;
  gint64 oom_pixels = 0;
  gint64 fault_seed = 0;
  double error_rate = 0;
  double partial_rate = 0;
  gboolean fail = FALSE;
  gboolean hang = FALSE;
  gboolean garbage = FALSE;
  gboolean version = FALSE;
  guint sigterm_id;
  guint sigint_id;
  const GOptionEntry entries[] = {
    { "port", 'p', 0, G_OPTION_ARG_INT, &port,
      "Port to listen on; 0 picks a free one (default 8188)", "PORT" },
    { "bind", 'b', 0, G_OPTION_ARG_STRING, &bind,
      "IP address to listen on (default 127.0.0.1)", "ADDRESS" },
    { "fail", 0, 0, G_OPTION_ARG_NONE, &fail,
      "Answer every ComfyUI route with HTTP 500", NULL },
    { "hang", 0, 0, G_OPTION_ARG_NONE, &hang,
      "Accept requests and never answer them", NULL },
    { "garbage", 0, 0, G_OPTION_ARG_NONE, &garbage,
      "Answer every ComfyUI route with a body that is not JSON", NULL },
    { "output-dir", 'o', 0, G_OPTION_ARG_FILENAME, &output_dir,
      "Folder for output images (default: a private temporary one)", "DIR" },
    { "ms-per-image", 0, 0, G_OPTION_ARG_INT, &ms_per_image,
      "Time each image takes (default 50)", "MS" },
    { "error-rate", 0, 0, G_OPTION_ARG_DOUBLE, &error_rate,
      "Share of jobs that fail with a RuntimeError (0 to 1)", "P" },
    { "partial-rate", 0, 0, G_OPTION_ARG_DOUBLE, &partial_rate,
      "Share of jobs that keep only half of their images (0 to 1)", "P" },
    { "oom-pixels", 0, 0, G_OPTION_ARG_INT64, &oom_pixels,
      "Fail jobs above width × height × batch N with CUDA OOM", "N" },
    { "crash-after", 0, 0, G_OPTION_ARG_INT, &crash_after,
      "Exit abruptly during a job once N prompts were accepted", "N" },
    { "fault-seed", 0, 0, G_OPTION_ARG_INT64, &fault_seed,
      "Seed of the draws that pick failing jobs (default 0)", "SEED" },
    { "api-key", 0, 0, G_OPTION_ARG_STRING, &api_key,
      "Require \"Authorization: Bearer KEY\"", "KEY" },
    { "nodes-exclude", 0, 0, G_OPTION_ARG_STRING, &nodes_exclude,
      "Leave these node types out of /object_info", "TYPE,TYPE…" },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version,
      "Print the version and exit", NULL },
    { NULL }
  };

  setlocale (LC_ALL, "");

  context = g_option_context_new (NULL);
  g_option_context_set_summary (context,
      "A simulated ComfyUI worker: ComfyUI's HTTP routes and JSON shapes,\n"
      "no GPU. Faults can also be switched at run time: POST /_sim/config.");
  g_option_context_add_main_entries (context, entries, NULL);

  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("cdl-simworker: %s\n", error->message);
      return EXIT_FAILURE;
    }

  if (version)
    {
      g_print ("cdl-simworker %s\n", PACKAGE_VERSION);
      return EXIT_SUCCESS;
    }

  if (port < 0 || port > G_MAXUINT16)
    {
      g_printerr ("cdl-simworker: --port must be from 0 to 65535\n");
      return EXIT_FAILURE;
    }

  if (fail + hang + garbage > 1)
    {
      g_printerr ("cdl-simworker: --fail, --hang and --garbage exclude "
                  "each other\n");
      return EXIT_FAILURE;
    }

  if (ms_per_image < 0 || crash_after < 0 || oom_pixels < 0 || fault_seed < 0 ||
      !(error_rate >= 0 && error_rate <= 1) ||
      !(partial_rate >= 0 && partial_rate <= 1))
    {
      g_printerr ("cdl-simworker: rates go from 0 to 1, and times, counts "
                  "and seeds cannot be negative\n");
      return EXIT_FAILURE;
    }

  server = cdl_sim_server_new ();

  if (fail)
    cdl_sim_server_set_fault (server, CDL_SIM_FAULT_FAIL);
  else if (hang)
    cdl_sim_server_set_fault (server, CDL_SIM_FAULT_HANG);
  else if (garbage)
    cdl_sim_server_set_fault (server, CDL_SIM_FAULT_GARBAGE);

  if (output_dir != NULL &&
      g_mkdir_with_parents (output_dir, 0755) != 0)
    {
      g_printerr ("cdl-simworker: cannot create %s: %s\n", output_dir,
                  g_strerror (errno));
      return EXIT_FAILURE;
    }

  cdl_sim_server_set_output_dir (server, output_dir);
  cdl_sim_server_set_ms_per_image (server, (guint) ms_per_image);
  cdl_sim_server_set_error_rate (server, error_rate);
  cdl_sim_server_set_partial_rate (server, partial_rate);
  cdl_sim_server_set_oom_pixels (server, (guint64) oom_pixels);
  cdl_sim_server_set_crash_after (server, (guint) crash_after);
  cdl_sim_server_set_fault_seed (server, (guint64) fault_seed);

  cdl_sim_server_set_api_key (server, api_key);

  if (nodes_exclude != NULL)
    {
      exclude = g_strsplit (nodes_exclude, ",", -1);
      for (guint i = 0; exclude[i] != NULL; i++)
        g_strstrip (exclude[i]);
      cdl_sim_server_set_nodes_exclude (server, (const char * const *) exclude);
    }

  if (!cdl_sim_server_listen_full (server, bind ? bind : "127.0.0.1",
                                   (guint) port, &error))
    {
      g_printerr ("cdl-simworker: %s\n", error->message);
      return EXIT_FAILURE;
    }

  loop = g_main_loop_new (NULL, FALSE);
  sigterm_id = g_unix_signal_add (SIGTERM, quit_cb, loop);
  sigint_id = g_unix_signal_add (SIGINT, quit_cb, loop);

  base_url = cdl_sim_server_get_base_url (server);
  g_print ("cdl-simworker listening on %s\n", base_url);
  fflush (stdout);

  g_main_loop_run (loop);

  g_source_remove (sigterm_id);
  g_source_remove (sigint_id);

  return EXIT_SUCCESS;
}
