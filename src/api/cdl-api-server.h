/* cdl-api-server.h: the REST and web server every instance embeds
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "api/cdl-api-request.h"

G_BEGIN_DECLS

/* Bodies larger than this are refused with 413 before they are read. */
#define CDL_API_DEFAULT_MAX_BODY (8 * 1024 * 1024)

typedef void (*CdlApiHandler) (CdlApiRequest *request);

/* 0: public route, no token needed. */
#define CDL_API_PUBLIC 0

#define CDL_TYPE_API_SERVER (cdl_api_server_get_type ())

G_DECLARE_FINAL_TYPE (CdlApiServer, cdl_api_server, CDL, API_SERVER, GObject)

CdlApiServer *cdl_api_server_new          (CdlInstance   *instance);
void          cdl_api_server_set_max_body (CdlApiServer  *self,
                                           gsize          max_body);
/* Listens on @address (an IPv4 or IPv6 literal, or "localhost") and
 * @port (0 picks a free one). */
gboolean      cdl_api_server_listen       (CdlApiServer  *self,
                                           const char    *address,
                                           guint          port,
                                           GError       **error);
guint         cdl_api_server_get_port     (CdlApiServer  *self);
/* "http://127.0.0.1:8470" */
char         *cdl_api_server_get_url      (CdlApiServer  *self);
void          cdl_api_server_disconnect   (CdlApiServer  *self);

/* @pattern: "/api/workers/{id}/test"; @min_role: a CdlRole, or
 * CDL_API_PUBLIC. */
void          cdl_api_server_add_route    (CdlApiServer  *self,
                                           const char    *method,
                                           const char    *pattern,
                                           int            min_role,
                                           CdlApiHandler  handler);

/* Route tables, one per resource. */
void          cdl_api_workers_register    (CdlApiServer  *self);
void          cdl_api_pools_register      (CdlApiServer  *self);
void          cdl_api_tasks_register      (CdlApiServer  *self);
void          cdl_api_settings_register   (CdlApiServer  *self);
void          cdl_api_workflows_register  (CdlApiServer  *self);
void          cdl_api_annotations_register (CdlApiServer *self);
void          cdl_api_media_register      (CdlApiServer  *self);
void          cdl_api_export_register     (CdlApiServer  *self);
void          cdl_api_runs_register       (CdlApiServer  *self);
void          cdl_api_pilot_register      (CdlApiServer  *self);
void          cdl_api_pairing_register    (CdlApiServer  *self);
void          cdl_api_abtests_register    (CdlApiServer  *self);
void          cdl_api_web_register        (CdlApiServer  *self);
void          cdl_api_ops_register        (CdlApiServer  *self);

/* /metrics and /healthz without a token on their own address (see
 * cdl-api-ops.c); NULL with @error when it cannot listen. */
SoupServer   *cdl_api_ops_listen_metrics  (CdlInstance   *instance,
                                           const char    *address,
                                           guint          port,
                                           GError       **error);

/* Answers @msg with the page file web/@name (ETag, no-cache, 304). */
void          cdl_api_web_serve           (SoupServerMessage *msg,
                                           const char        *name);

G_END_DECLS
