/* cdl-task-repo.h: the tasks, task_pools, prompts and seeds tables
 *
 * Plain blocking functions, to be called from a cdl_db_run_async() function
 * with the connection it was given. The functions that write expect the
 * caller to hold a transaction.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <libpq-fe.h>

#include "core/cdl-sampling.h"
#include "core/cdl-task.h"

G_BEGIN_DECLS

/* Tasks newest first, with counts and pools, without prompts. Elements are
 * CdlTask, owned by the array. */
GPtrArray *cdl_task_repo_list     (PGconn              *conn,
                                   GError             **error);

/* One task; with @lock, its row is locked FOR UPDATE. No prompts.
 * CDL_DB_ERROR_NOT_FOUND for an unknown or malformed id. */
CdlTask   *cdl_task_repo_get      (PGconn              *conn,
                                   const char          *id,
                                   gboolean             lock,
                                   GError             **error);

/* One page of prompts with their seeds: positions greater than @after
 * (-1 for the first page), at most @limit, by position (keyset paging).
 * Sets *@next_after to the last position when more follow, else -1.
 * Elements are CdlPrompt. */
GPtrArray *cdl_task_repo_get_prompts (PGconn           *conn,
                                      const char       *task_id,
                                      int               after,
                                      guint             limit,
                                      int              *next_after,
                                      GError          **error);

/* Inserts the task row (state DRAFT) from @data's workflow_id, name,
 * notes, prompt_template, target_prompts, seeds_per_prompt, rng_seed,
 * settings and created_by; returns its id. */
char      *cdl_task_repo_insert   (PGconn              *conn,
                                   const CdlTaskData   *data,
                                   JsonNode            *settings,
                                   GError             **error);

/* The settings the task's prompts were generated under (tasks.settings). */
JsonNode  *cdl_task_repo_get_settings (PGconn            *conn,
                                       const char        *task_id,
                                       GError           **error);

/* Writes the task's row fields from @data (name, notes, workflow_id,
 * prompt_template, target_prompts, seeds_per_prompt, rng_seed); NULL
 * @settings keeps the stored ones. */
gboolean   cdl_task_repo_update   (PGconn              *conn,
                                   const char          *id,
                                   const CdlTaskData   *data,
                                   JsonNode            *settings,
                                   GError             **error);

/* Replaces the pinned pools: @pools are CdlPool at the pinned versions, in
 * task order. */
gboolean   cdl_task_repo_set_pools (PGconn             *conn,
                                    const char         *task_id,
                                    GPtrArray          *pools,
                                    GError            **error);

/* Replaces the prompts and seeds of a DRAFT task with @set, streamed with
 * COPY. The freeze triggers refuse it for a frozen task
 * (CDL_DB_ERROR_FROZEN). */
gboolean   cdl_task_repo_replace_prompts (PGconn             *conn,
                                          const char         *task_id,
                                          const CdlPromptSet *set,
                                          GError            **error);

/* SHA-256 (hex) of the stored prompts and seeds, as
 * cdl_sampling_checksum_add() defines it. */
char      *cdl_task_repo_checksum (PGconn              *conn,
                                   const char          *task_id,
                                   GError             **error);

/* Moves a DRAFT task to FROZEN with @snapshot. CDL_DB_ERROR_FROZEN when it
 * is no longer DRAFT. */
gboolean   cdl_task_repo_freeze   (PGconn              *conn,
                                   const char          *task_id,
                                   JsonNode            *snapshot,
                                   GError             **error);

G_END_DECLS
