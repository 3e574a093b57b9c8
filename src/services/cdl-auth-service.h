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

/* The desktop app's user: "desktop:" and the login name, so that it never
 * takes over a user made for the REST API. */
char    *cdl_auth_service_desktop_user_name   (void);

/* Creates the user @name with @role, or returns it (its role set to @role),
 * without issuing a token: for the desktop app, which needs none. */
void     cdl_auth_service_ensure_user_async   (CdlAuthService      *self,
                                               const char          *name,
                                               CdlRole              role,
                                               GCancellable        *cancellable,
                                               GAsyncReadyCallback  callback,
                                               gpointer             user_data);
CdlUser *cdl_auth_service_ensure_user_finish  (CdlAuthService      *self,
                                               GAsyncResult        *result,
                                               GError             **error);

/* Pairing a phone ------------------------------------------------------------ */

/* How long a pairing code stays valid. */
#define CDL_PAIRING_TTL_S 600
/* Redeem attempts allowed per remote address and window. */
#define CDL_PAIR_ATTEMPTS_MAX 10
#define CDL_PAIR_WINDOW_S 60

typedef struct
{
  char      *code;        /* the secret, in clear: shown once */
  char      *url;         /* {public_base}/#pair={code} */
  GDateTime *expires_at;
} CdlPairingCode;

void cdl_pairing_code_free (CdlPairingCode *code);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlPairingCode, cdl_pairing_code_free)

/* A new single-use pairing code (256 random bits, base64url) valid for
 * CDL_PAIRING_TTL_S; only its hash is stored. @created_by (a user id),
 * @label (the annotator's name once paired; 1 to 128 characters) may be
 * NULL; @public_base is where the phone reaches this server, e.g.
 * "http://192.168.1.5:8470". The desktop shows the url as a QR code. */
void            cdl_auth_service_create_pairing_async  (CdlAuthService      *self,
                                                        const char          *created_by,
                                                        const char          *label,
                                                        const char          *public_base,
                                                        GCancellable        *cancellable,
                                                        GAsyncReadyCallback  callback,
                                                        gpointer             user_data);
CdlPairingCode *cdl_auth_service_create_pairing_finish (CdlAuthService      *self,
                                                        GAsyncResult        *result,
                                                        GError             **error);

/* Trades a pairing code for a new bearer token (returned in clear) of an
 * annotator: the one named by the code's label (created when missing),
 * or a new "phone-…" annotator. An unknown or used code is
 * CDL_SERVICE_ERROR_FORBIDDEN, so is an expired one (its message says
 * "expired"); more than CDL_PAIR_ATTEMPTS_MAX attempts from
 * @remote_address in CDL_PAIR_WINDOW_S are CDL_SERVICE_ERROR_RATE_LIMITED.
 * @device labels the token (may be NULL). */
void            cdl_auth_service_redeem_pairing_async  (CdlAuthService      *self,
                                                        const char          *code,
                                                        const char          *device,
                                                        const char          *remote_address,
                                                        GCancellable        *cancellable,
                                                        GAsyncReadyCallback  callback,
                                                        gpointer             user_data);
char           *cdl_auth_service_redeem_pairing_finish (CdlAuthService      *self,
                                                        GAsyncResult        *result,
                                                        CdlUser            **user,
                                                        GError             **error);

/* Revokes @token at once on this instance; other instances notice within
 * the cache time of cdl_auth_service_authenticate_async(). */
void            cdl_auth_service_revoke_token_async    (CdlAuthService      *self,
                                                        const char          *token,
                                                        GCancellable        *cancellable,
                                                        GAsyncReadyCallback  callback,
                                                        gpointer             user_data);
gboolean        cdl_auth_service_revoke_token_finish   (CdlAuthService      *self,
                                                        GAsyncResult        *result,
                                                        GError             **error);

G_END_DECLS
