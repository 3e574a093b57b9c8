/* cdl-workflow-repo.h: the workflows table
 *
 * Plain blocking functions, to be called from a cdl_db_run_async() function
 * with the connection it was given.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <libpq-fe.h>

#include "core/cdl-workflow.h"

G_BEGIN_DECLS

/* Stores a new version of the workflow @name: version is one more than the
 * highest stored for that name. Concurrent uploads of one name are
 * serialised by a transaction-scoped advisory lock on the name, and a
 * unique (name, version) clash is retried. @raw_text is kept byte for
 * byte; the report gives raw_definition and everything derived. The
 * report must have a definition (not a not_json report). */
CdlWorkflow *cdl_workflow_repo_insert (PGconn                  *conn,
                                       const char              *name,
                                       const char              *description,
                                       const char              *raw_text,
                                       const CdlWorkflowReport *report,
                                       const char              *created_by,
                                       GError                 **error);

/* All versions, newest first, without raw_text and raw_definition.
 * Elements are CdlWorkflow, owned by the array. */
GPtrArray   *cdl_workflow_repo_list   (PGconn                  *conn,
                                       GError                 **error);

/* One version with everything, raw_definition included (a JsonNode in
 * cdl_workflow_get_data ()->raw_definition). For the task engine:
 * id, name, version, valid, raw_definition, prompt_nodes, seed_nodes,
 * has_latent_batch_seed, model, width, height, batch_size are all in
 * CdlWorkflowData. CDL_DB_ERROR_NOT_FOUND for an unknown or malformed id. */
CdlWorkflow *cdl_workflow_repo_get    (PGconn                  *conn,
                                       const char              *id,
                                       GError                 **error);

G_END_DECLS
