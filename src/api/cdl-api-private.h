/* cdl-api-private.h: what the server and the request share
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "api/cdl-api-request.h"

G_BEGIN_DECLS

struct _CdlApiRequest
{
  gatomicrefcount    ref_count;
  CdlInstance       *instance;
  SoupServerMessage *msg;
  GHashTable        *params;       /* route {name} -> value */
  GHashTable        *query;        /* may be NULL */
  JsonNode          *body;
  CdlUser           *user;
  GCancellable      *cancellable;
  gulong             disconnected_id;
  gboolean           paused;
  gboolean           replied;
};

CdlApiRequest *cdl_api_request_new (CdlInstance       *instance,
                                    SoupServerMessage *msg,
                                    GHashTable        *params,
                                    GHashTable        *query);

/* Pauses the message until a reply arrives. */
void           cdl_api_request_pause (CdlApiRequest *self);

/* Whether an If-None-Match header value lists @etag (or "*"); weak tags
 * compare by their value. In cdl-api-web.c. */
gboolean       cdl_api_etag_matches  (const char    *if_none_match,
                                      const char    *etag);

G_END_DECLS
