/* cdl-sim-server.h: a simulated ComfyUI server
 *
 * Answers ComfyUI's HTTP routes with ComfyUI's JSON shapes (see
 * comfyui-api-observed.md) so that tests, benchmarks and the demo can run
 * without a GPU. Faults can be switched on from the command line or at run
 * time through the control routes under /_sim/.
 *
 * Control routes (they answer even in fail and hang mode, and need no key):
 *
 *   GET  /_sim/state   {"mode", "requests": {"GET /queue": n, …},
 *                       "total_requests", "held_requests",
 *                       "queue": {"running", "pending"},
 *                       "api_key_required", "nodes_excluded": […]}
 *                      "requests" counts every request to a ComfyUI route,
 *                      whatever was answered; "unmatched" counts the rest.
 *   POST /_sim/fault   {"mode": "none"|"fail"|"hang"|"garbage"}
 *                      → {"mode": …}; leaving hang mode answers the held
 *                      requests as they would be answered now.
 *   POST /_sim/queue   {"pending": P, "running": R} drops every queued item
 *                      and queues P pending and R running placeholder
 *                      prompts → the GET /queue body.
 *   POST /_sim/reset   mode none, counters zero, queue and history empty
 *                      → {}; the config below stays.
 *   POST /_sim/config  {"ms_per_image", "error_rate", "partial_rate",
 *                       "oom_pixels", "crash_after", "fault_seed", "mode"},
 *                      any subset → the whole config. GET /_sim/state
 *                      reports it under "config", with the counters
 *                      "accepted", "executed", "history", "interrupts",
 *                      "frees", "last_free" and "output_dir".
 *
 * Execution: accepted prompts run one at a time, ms_per_image (default 50)
 * for every image, and write real PNGs (see cdl-sim-job.h for how seeds
 * map to pictures) named {prefix}_{counter:05}_.png into the output
 * folder. Faults, decided when a job starts:
 *
 *   oom_pixels N      width × height × batch_size above N fails the job with
 *                     ComfyUI's CUDA out-of-memory execution_error.
 *   error_rate P      that share of jobs fail with a RuntimeError. Every
 *                     job draws two numbers from a generator seeded with
 *                     fault_seed (one for errors, one for partial runs), so
 *                     the same seed and the same order fail the same jobs.
 *   partial_rate P    that share of jobs keep only the first half (rounded
 *                     down) of each output node's batch: history says
 *                     success, and "outputs" lists fewer images, or lacks
 *                     the node when none is left.
 *   crash_after N     once N prompts were accepted, the process _exit (1)s
 *                     at the next step of the running job.
 *
 * Every ComfyUI route also answers under /api, as ComfyUI's do.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum
{
  CDL_SIM_FAULT_NONE,   /* answer normally */
  CDL_SIM_FAULT_FAIL,   /* answer every route with HTTP 500 */
  CDL_SIM_FAULT_HANG,   /* accept the request and never answer */
  CDL_SIM_FAULT_GARBAGE, /* answer 200 with a body that is not JSON */
} CdlSimFault;

const char   *cdl_sim_fault_to_string   (CdlSimFault    fault);
gboolean      cdl_sim_fault_from_string (const char    *str,
                                         CdlSimFault   *fault);

#define CDL_TYPE_SIM_SERVER (cdl_sim_server_get_type ())

G_DECLARE_FINAL_TYPE (CdlSimServer, cdl_sim_server, CDL, SIM_SERVER, GObject)

CdlSimServer *cdl_sim_server_new        (void);
/* Listens on 127.0.0.1:@port (0 picks a free port). */
gboolean      cdl_sim_server_listen     (CdlSimServer  *self,
                                         guint          port,
                                         GError       **error);
/* Listens on @address (an IP literal, e.g. "0.0.0.0" or "::1"). */
gboolean      cdl_sim_server_listen_full (CdlSimServer *self,
                                          const char   *address,
                                          guint         port,
                                          GError      **error);
guint         cdl_sim_server_get_port   (CdlSimServer  *self);
/* "http://127.0.0.1:8188", or NULL before listening. */
char         *cdl_sim_server_get_base_url (CdlSimServer *self);
void          cdl_sim_server_set_fault  (CdlSimServer  *self,
                                         CdlSimFault    fault);
CdlSimFault   cdl_sim_server_get_fault  (CdlSimServer  *self);
/* Bearer key the server requires; NULL accepts everyone. */
void          cdl_sim_server_set_api_key (CdlSimServer *self,
                                          const char   *api_key);
/* Node types left out of GET /object_info, as if their custom node
 * package were not installed. */
void          cdl_sim_server_set_nodes_exclude (CdlSimServer       *self,
                                                const char * const *class_types);
/* Same as POST /_sim/queue. */
void          cdl_sim_server_fill_queue (CdlSimServer  *self,
                                         guint          pending,
                                         guint          running);
/* Requests received on @route ("GET /queue", "unmatched"). */
guint         cdl_sim_server_get_request_count (CdlSimServer *self,
                                                const char   *route);

/* Where output images go; NULL (the default) makes a private temporary
 * folder, removed with the server. */
void          cdl_sim_server_set_output_dir   (CdlSimServer *self,
                                               const char   *path);
const char   *cdl_sim_server_get_output_dir   (CdlSimServer *self);
void          cdl_sim_server_set_ms_per_image (CdlSimServer *self,
                                               guint         ms);
void          cdl_sim_server_set_error_rate   (CdlSimServer *self,
                                               double        rate);
void          cdl_sim_server_set_partial_rate (CdlSimServer *self,
                                               double        rate);
/* 0 turns the out-of-memory fault off. */
void          cdl_sim_server_set_oom_pixels   (CdlSimServer *self,
                                               guint64       pixels);
/* Only for a process of its own: the crash takes the process down. */
void          cdl_sim_server_set_crash_after  (CdlSimServer *self,
                                               guint         prompts);
void          cdl_sim_server_set_fault_seed   (CdlSimServer *self,
                                               guint64       seed);
guint         cdl_sim_server_get_history_length (CdlSimServer *self);

G_END_DECLS
