/* cdl-user-repo.h: users and their bearer tokens
 *
 * Tokens are stored only as their SHA-256 (cdl_auth_token_hash()).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <libpq-fe.h>

#include "core/cdl-auth.h"

G_BEGIN_DECLS

/* Creates a user, or returns the existing one of that name with its role
 * updated to @role. */
CdlUser  *cdl_user_repo_ensure        (PGconn      *conn,
                                       const char  *name,
                                       CdlRole      role,
                                       GError     **error);
gboolean  cdl_user_repo_add_token     (PGconn      *conn,
                                       const char  *user_id,
                                       const char  *token_hash,
                                       const char  *label,
                                       GError     **error);
/* The user owning a live (not revoked) token, or NULL without error when
 * none does. Touches last_used_at at most once a minute. */
CdlUser  *cdl_user_repo_find_by_token (PGconn      *conn,
                                       const char  *token_hash,
                                       GError     **error);
gboolean  cdl_user_repo_revoke_token  (PGconn      *conn,
                                       const char  *token_hash,
                                       GError     **error);

G_END_DECLS
