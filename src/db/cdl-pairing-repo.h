/* cdl-pairing-repo.h: single-use pairing codes for phones
 *
 * A code is stored only as its SHA-256 (cdl_auth_token_hash()). Plain
 * blocking functions for a cdl_db_run_async() function.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <libpq-fe.h>

#include "core/cdl-auth.h"

G_BEGIN_DECLS

typedef enum
{
  CDL_PAIRING_REDEEMED,   /* was valid; now used */
  CDL_PAIRING_UNKNOWN,    /* no such code, or already used */
  CDL_PAIRING_EXPIRED,
  CDL_PAIRING_ERROR,      /* @error is set */
} CdlPairingOutcome;

/* Stores a code valid for @ttl_s seconds; *@expires_at gets the expiry in
 * seconds since the epoch. @created_by and @label may be NULL. */
gboolean          cdl_pairing_repo_insert  (PGconn      *conn,
                                            const char  *code_hash,
                                            const char  *label,
                                            const char  *created_by,
                                            guint        ttl_s,
                                            gint64      *expires_at,
                                            GError     **error);

/* Marks a live code used, at most once whatever the concurrency; *@label
 * gets its label (may be NULL). */
CdlPairingOutcome cdl_pairing_repo_redeem  (PGconn      *conn,
                                            const char  *code_hash,
                                            char       **label,
                                            GError     **error);

/* Records which annotator a redeemed code made. */
gboolean          cdl_pairing_repo_set_user (PGconn     *conn,
                                             const char *code_hash,
                                             const char *user_id,
                                             GError    **error);

/* The annotator named @name, created when missing. A user of that name
 * with another role is left alone: "@name (@suffix)" is used instead. */
CdlUser          *cdl_pairing_repo_ensure_annotator (PGconn      *conn,
                                                     const char  *name,
                                                     const char  *suffix,
                                                     GError     **error);

G_END_DECLS
