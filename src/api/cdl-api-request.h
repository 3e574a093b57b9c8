/* cdl-api-request.h: one REST request on its way through the server
 *
 * The server authenticates the caller, parses the JSON body and matches
 * the path parameters before a handler sees the request; the handler calls
 * a service and answers with exactly one of the reply functions, possibly
 * later from a callback (the message stays paused until then).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "core/cdl-auth.h"
#include "services/cdl-instance.h"

G_BEGIN_DECLS

typedef struct _CdlApiRequest CdlApiRequest;

CdlApiRequest     *cdl_api_request_ref          (CdlApiRequest *self);
void               cdl_api_request_unref        (CdlApiRequest *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlApiRequest, cdl_api_request_unref)

CdlInstance       *cdl_api_request_get_instance (CdlApiRequest *self);
SoupServerMessage *cdl_api_request_get_message  (CdlApiRequest *self);
/* The authenticated caller; NULL on public routes. */
const CdlUser     *cdl_api_request_get_user     (CdlApiRequest *self);
/* A {name} segment of the route pattern. */
const char        *cdl_api_request_get_param    (CdlApiRequest *self,
                                                 const char    *name);
/* A query-string value, or NULL. */
const char        *cdl_api_request_get_query    (CdlApiRequest *self,
                                                 const char    *name);
/* The parsed JSON body of POST/PATCH/PUT; NULL for other methods, an
 * empty body, and multipart bodies (read those with
 * soup_multipart_new_from_message() on the message). */
JsonNode          *cdl_api_request_get_body     (CdlApiRequest *self);
/* Cancelled when the client goes away; pass it to services. */
GCancellable      *cdl_api_request_get_cancellable (CdlApiRequest *self);

/* {"success": true, "data": @data, "error": null}; takes @data (may be
 * NULL for a JSON null). */
void cdl_api_request_reply_data   (CdlApiRequest *self,
                                   guint          status,
                                   JsonNode      *data);
/* {"success": false, "data": null, "error": @message} */
void cdl_api_request_reply_error  (CdlApiRequest *self,
                                   guint          status,
                                   const char    *message);
/* Maps a service error to its status (cdl_service_error_http_status()). */
void cdl_api_request_reply_gerror (CdlApiRequest *self,
                                   const GError  *error);

G_END_DECLS
