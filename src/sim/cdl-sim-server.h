/* cdl-sim-server.h: a simulated ComfyUI server
 *
 * Answers ComfyUI's HTTP routes with ComfyUI's JSON shapes (see
 * comfyui-api-observed.md) so that tests, benchmarks and the demo can run
 * without a GPU. Faults can be switched on from the command line or at run
 * time through the control routes under /_sim/.
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
} CdlSimFault;

#define CDL_TYPE_SIM_SERVER (cdl_sim_server_get_type ())

G_DECLARE_FINAL_TYPE (CdlSimServer, cdl_sim_server, CDL, SIM_SERVER, GObject)

CdlSimServer *cdl_sim_server_new        (void);
/* Listens on 127.0.0.1:@port (0 picks a free port). */
gboolean      cdl_sim_server_listen     (CdlSimServer  *self,
                                         guint          port,
                                         GError       **error);
guint         cdl_sim_server_get_port   (CdlSimServer  *self);
void          cdl_sim_server_set_fault  (CdlSimServer  *self,
                                         CdlSimFault    fault);
CdlSimFault   cdl_sim_server_get_fault  (CdlSimServer  *self);
/* Bearer key the server requires; NULL accepts everyone. */
void          cdl_sim_server_set_api_key (CdlSimServer *self,
                                          const char   *api_key);

G_END_DECLS
