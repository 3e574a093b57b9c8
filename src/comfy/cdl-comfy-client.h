/* cdl-comfy-client.h: asynchronous HTTP client for ComfyUI workers
 *
 * Every request is built from the worker's base_url; nothing assumes
 * localhost. An API key, when the worker has one, is sent as
 * "Authorization: Bearer <key>" and never logged.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define CDL_COMFY_ERROR (cdl_comfy_error_quark ())

typedef enum
{
  CDL_COMFY_ERROR_UNREACHABLE,   /* connection refused, DNS, TLS */
  CDL_COMFY_ERROR_TIMEOUT,       /* no answer within the time-out */
  CDL_COMFY_ERROR_HTTP,          /* a status other than 2xx */
  CDL_COMFY_ERROR_BAD_RESPONSE,  /* not JSON, or not the expected shape */
} CdlComfyError;

GQuark cdl_comfy_error_quark (void);

#define CDL_COMFY_DEFAULT_TIMEOUT_S 30

#define CDL_TYPE_COMFY_CLIENT (cdl_comfy_client_get_type ())

G_DECLARE_FINAL_TYPE (CdlComfyClient, cdl_comfy_client, CDL, COMFY_CLIENT, GObject)

CdlComfyClient *cdl_comfy_client_new            (void);
/* Seconds before a request is abandoned (default 30; 0: never). */
void            cdl_comfy_client_set_timeout    (CdlComfyClient      *self,
                                                 guint                seconds);

/* GET {base_url}{path} and parse the JSON body. @path starts with "/" and
 * may carry a query. Errors: CDL_COMFY_ERROR_*. */
void            cdl_comfy_client_get_json_async (CdlComfyClient      *self,
                                                 const char          *base_url,
                                                 const char          *api_key,
                                                 const char          *path,
                                                 GCancellable        *cancellable,
                                                 GAsyncReadyCallback  callback,
                                                 gpointer             user_data);
JsonNode       *cdl_comfy_client_get_json_finish (CdlComfyClient     *self,
                                                  GAsyncResult       *result,
                                                  GError            **error);

typedef struct
{
  int    pending;            /* len (queue_pending); missing key counts 0 */
  int    running;            /* len (queue_running) */
  char  *comfyui_version;    /* from system_stats, may be NULL */
  char  *device_name;        /* first device's name, may be NULL */
  gint64 vram_free;          /* first device's vram_free, -1 if unknown */
} CdlComfyProbe;

void            cdl_comfy_probe_free            (CdlComfyProbe       *probe);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlComfyProbe, cdl_comfy_probe_free)

/* GET /system_stats then GET /queue (both must succeed and have the
 * expected shape). */
void            cdl_comfy_client_probe_async    (CdlComfyClient      *self,
                                                 const char          *base_url,
                                                 const char          *api_key,
                                                 GCancellable        *cancellable,
                                                 GAsyncReadyCallback  callback,
                                                 gpointer             user_data);
CdlComfyProbe  *cdl_comfy_client_probe_finish   (CdlComfyClient      *self,
                                                 GAsyncResult        *result,
                                                 GError             **error);

/* Parses a GET /queue body; exposed for tests and for the scheduler. */
gboolean        cdl_comfy_parse_queue           (JsonNode            *node,
                                                 int                 *pending,
                                                 int                 *running,
                                                 GError             **error);

G_END_DECLS
