/* cdl-auth-service.h: users, tokens, and who may do what
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "core/cdl-auth.h"
#include "db/cdl-db.h"

G_BEGIN_DECLS

#define CDL_TYPE_AUTH_SERVICE (cdl_auth_service_get_type ())

G_DECLARE_FINAL_TYPE (CdlAuthService, cdl_auth_service, CDL, AUTH_SERVICE, GObject)

CdlAuthService *cdl_auth_service_new (CdlDb *db);

/* Creates (or re-roles) the user @name and issues a new token for it.
 * Returns the token in clear; only its hash is stored. Blocking: for the
 * command line and tests. */
char    *cdl_auth_service_issue_token_sync (CdlAuthService  *self,
                                            const char      *name,
                                            CdlRole          role,
                                            const char      *label,
                                            GError         **error);

/* Resolves a bearer token to its user: CDL_SERVICE_ERROR_UNAUTHORIZED for
 * an unknown or revoked token. Results are cached briefly in memory (keyed
 * by the token's hash) so that a busy client does not cost a query per
 * request; a revoked token stops working within that time. */
void     cdl_auth_service_authenticate_async  (CdlAuthService      *self,
                                               const char          *token,
                                               GCancellable        *cancellable,
                                               GAsyncReadyCallback  callback,
                                               gpointer             user_data);
CdlUser *cdl_auth_service_authenticate_finish (CdlAuthService      *self,
                                               GAsyncResult        *result,
                                               GError             **error);

G_END_DECLS
