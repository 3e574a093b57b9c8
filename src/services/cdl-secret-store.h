/* cdl-secret-store.h: where worker API keys and the database password live
 *
 * Never in PostgreSQL and never in a log. The desktop uses the user's
 * keyring through libsecret; the headless server uses a file readable by
 * its owner only (mode 0600, refused when it is more open).
 *
 * The calls block (D-Bus or file I/O): call them from a thread.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define CDL_TYPE_SECRET_STORE (cdl_secret_store_get_type ())

G_DECLARE_FINAL_TYPE (CdlSecretStore, cdl_secret_store, CDL, SECRET_STORE, GObject)

/* A JSON object file {"<key name>": "<secret>"}, created 0600. */
CdlSecretStore *cdl_secret_store_new_for_file     (const char      *path);
/* The user's keyring, items tagged with this application's schema. */
CdlSecretStore *cdl_secret_store_new_for_keyring  (void);

/* @name: "worker:<uuid>" or "database". Returns NULL without error when
 * nothing is stored. */
char           *cdl_secret_store_lookup (CdlSecretStore  *self,
                                         const char      *name,
                                         GError         **error);
/* Stores @secret; NULL or "" removes it. */
gboolean        cdl_secret_store_store  (CdlSecretStore  *self,
                                         const char      *name,
                                         const char      *secret,
                                         GError         **error);

G_END_DECLS
