/* cdl-settings-repo.h: the settings table
 *
 * Plain blocking functions, to be called from a cdl_db_run_async() function
 * with the connection it was given.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <json-glib/json-glib.h>
#include <libpq-fe.h>

#include "core/cdl-settings.h"

G_BEGIN_DECLS

/* Every key: the stored value, or the default for a missing row. A stored
 * value that no longer passes validation is logged and replaced by the
 * default, so a bad row never stops the product. */
CdlSettings *cdl_settings_repo_load   (PGconn      *conn,
                                       GError     **error);

/* In one transaction (rows locked): loads, applies @patch with
 * cdl_settings_apply_patch() and writes the keys it names. Returns the
 * full settings after the change. CDL_INPUT_ERROR_INVALID for a bad
 * patch, with a message that starts with the key name. */
CdlSettings *cdl_settings_repo_update (PGconn      *conn,
                                       JsonNode    *patch,
                                       GError     **error);

G_END_DECLS
