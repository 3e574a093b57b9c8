/* cdl-comfy-client-private.h: the client's request machinery, for the
 * other files of src/comfy
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "cdl-comfy-client.h"

G_BEGIN_DECLS

typedef struct
{
  guint   status;
  char   *content_type;   /* the Content-Type header, may be NULL */
  GBytes *body;           /* never NULL; may be empty */
  char   *url;            /* as it may be shown: no user:password@ */
} CdlComfyResponse;

void              cdl_comfy_response_free      (CdlComfyResponse    *response);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlComfyResponse, cdl_comfy_response_free)

/* @method {base_url}{path}, with @json_body as an application/json body
 * when not NULL, under the client's time-out. Reads at most @max_bytes of
 * the answer (0: no limit; more is CDL_COMFY_ERROR_BAD_RESPONSE). Any
 * HTTP status comes back as a response; only transport failures are
 * errors (CDL_COMFY_ERROR_*, or G_IO_ERROR_CANCELLED). */
void              cdl_comfy_client_send_async  (CdlComfyClient      *self,
                                                const char          *base_url,
                                                const char          *api_key,
                                                const char          *method,
                                                const char          *path,
                                                GBytes              *json_body,
                                                gsize                max_bytes,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
CdlComfyResponse *cdl_comfy_client_send_finish (CdlComfyClient      *self,
                                                GAsyncResult        *result,
                                                GError             **error);

G_END_DECLS
