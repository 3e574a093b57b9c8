/* cdl-workflow-repo.c: the workflows table
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "cdl-db"

#include "config.h"

#include "core/cdl-json.h"
#include "db/cdl-pq.h"
#include "db/cdl-workflow-repo.h"

#define INSERT_ATTEMPTS 3

/* The columns cdl_workflow_repo_from_row() reads, in its order; the raw
 * columns come last and only in single-row reads. */
#define WORKFLOW_COLUMNS \
  "id, name, version, description, valid, problems::text, max_batch_size," \
  " batch_size, width, height, model, prompt_nodes::text, seed_nodes::text," \
  " forbidden_nodes::text, node_types, has_latent_batch_seed," \
  " runnable_worker_ids, created_by, extract (epoch FROM validated_at)," \
  " extract (epoch FROM created_at)"
#define WORKFLOW_RAW_COLUMNS ", raw_text, raw_definition::text"

enum
{
  COL_ID,
  COL_NAME,
  COL_VERSION,
  COL_DESCRIPTION,
  COL_VALID,
  COL_PROBLEMS,
  COL_MAX_BATCH_SIZE,
  COL_BATCH_SIZE,
  COL_WIDTH,
  COL_HEIGHT,
  COL_MODEL,
  COL_PROMPT_NODES,
  COL_SEED_NODES,
  COL_FORBIDDEN_NODES,
  COL_NODE_TYPES,
  COL_HAS_LATENT_BATCH_SEED,
  COL_RUNNABLE_WORKER_IDS,
  COL_CREATED_BY,
  COL_VALIDATED_AT,
  COL_CREATED_AT,
  COL_RAW_TEXT,
  COL_RAW_DEFINITION,
};

static JsonNode *
parse_column (const PGresult *res,
              int             row,
              int             col)
{
  const char *text = cdl_pq_get_string (res, row, col);

  if (text == NULL)
    return NULL;

  return cdl_json_parse (text, -1, NULL);
}

static char **
strv_from_json (JsonNode *node)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  if (node != NULL && JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);

      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *element = json_array_get_element (array, i);

          if (JSON_NODE_HOLDS_VALUE (element)
              && json_node_get_value_type (element) == G_TYPE_STRING)
            g_strv_builder_add (builder, json_node_get_string (element));
        }
    }

  return g_strv_builder_end (builder);
}

static CdlWorkflow *
cdl_workflow_repo_from_row (const PGresult *res,
                            int             row,
                            gboolean        with_raw)
{
  CdlWorkflowData data = { 0 };
  g_autoptr(JsonNode) problems = parse_column (res, row, COL_PROBLEMS);
  g_autoptr(JsonNode) prompts = parse_column (res, row, COL_PROMPT_NODES);
  g_autoptr(JsonNode) seeds = parse_column (res, row, COL_SEED_NODES);
  g_autoptr(JsonNode) forbidden = parse_column (res, row, COL_FORBIDDEN_NODES);

  data.id = g_strdup (cdl_pq_get_string (res, row, COL_ID));
  data.name = g_strdup (cdl_pq_get_string (res, row, COL_NAME));
  data.version = cdl_pq_get_int (res, row, COL_VERSION);
  data.description = g_strdup (cdl_pq_get_string (res, row, COL_DESCRIPTION));
  data.valid = cdl_pq_get_bool (res, row, COL_VALID);
  data.problems = cdl_workflow_problems_from_json (problems);
  data.max_batch_size = cdl_pq_get_int (res, row, COL_MAX_BATCH_SIZE);
  data.batch_size = cdl_pq_get_int (res, row, COL_BATCH_SIZE);
  data.width = cdl_pq_get_int (res, row, COL_WIDTH);
  data.height = cdl_pq_get_int (res, row, COL_HEIGHT);
  data.model = g_strdup (cdl_pq_get_string (res, row, COL_MODEL));
  data.prompt_nodes = cdl_prompt_nodes_from_json (prompts);
  data.seed_nodes = cdl_seed_nodes_from_json (seeds);
  data.forbidden_nodes = strv_from_json (forbidden);
  data.node_types = cdl_pq_get_strv (res, row, COL_NODE_TYPES);
  data.has_latent_batch_seed = cdl_pq_get_bool (res, row, COL_HAS_LATENT_BATCH_SEED);
  data.runnable_worker_ids = cdl_pq_get_strv (res, row, COL_RUNNABLE_WORKER_IDS);
  data.created_by = g_strdup (cdl_pq_get_string (res, row, COL_CREATED_BY));
  data.validated_at = cdl_pq_get_epoch (res, row, COL_VALIDATED_AT);
  data.created_at = cdl_pq_get_epoch (res, row, COL_CREATED_AT);

  if (with_raw)
    {
      data.raw_text = g_strdup (cdl_pq_get_string (res, row, COL_RAW_TEXT));
      data.raw_definition = parse_column (res, row, COL_RAW_DEFINITION);
    }

  return cdl_workflow_new (&data);
}

typedef JsonNode *(*ToJsonFunc) (gconstpointer item);

static char *
array_text (GPtrArray  *items,
            ToJsonFunc  func)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_array (builder);
  for (guint i = 0; items != NULL && i < items->len; i++)
    json_builder_add_value (builder, func (g_ptr_array_index (items, i)));
  json_builder_end_array (builder);
  root = json_builder_get_root (builder);

  return cdl_json_to_string (root, FALSE);
}

static char *
strv_json_text (char **strv)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_array (builder);
  for (guint i = 0; strv != NULL && strv[i] != NULL; i++)
    json_builder_add_string_value (builder, strv[i]);
  json_builder_end_array (builder);
  root = json_builder_get_root (builder);

  return cdl_json_to_string (root, FALSE);
}

static char *
positive_or_null (int value)
{
  return value > 0 ? g_strdup_printf ("%d", value) : NULL;
}

CdlWorkflow *
cdl_workflow_repo_insert (PGconn                   *conn,
                          const char               *name,
                          const char               *description,
                          const char               *raw_text,
                          const CdlWorkflowReport  *report,
                          const char               *created_by,
                          GError                  **error)
{
  g_autofree char *definition = NULL;
  g_autofree char *problems = NULL;
  g_autofree char *prompts = NULL;
  g_autofree char *seeds = NULL;
  g_autofree char *forbidden = NULL;
  g_autofree char *node_types = NULL;
  g_autofree char *runnable = NULL;
  g_autofree char *max_batch = NULL;
  g_autofree char *batch = NULL;
  g_autofree char *width = NULL;
  g_autofree char *height = NULL;
  const char *params[18];

  g_return_val_if_fail (conn != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (raw_text != NULL, NULL);
  g_return_val_if_fail (report != NULL && report->definition != NULL, NULL);

  definition = cdl_json_to_string (report->definition, FALSE);
  problems = array_text (report->problems, (ToJsonFunc) cdl_workflow_problem_to_json);
  prompts = array_text (report->prompt_nodes, (ToJsonFunc) cdl_prompt_node_to_json);
  seeds = array_text (report->seed_nodes, (ToJsonFunc) cdl_seed_node_to_json);
  forbidden = strv_json_text (report->forbidden_nodes);
  node_types = cdl_pq_strv_literal ((const char * const *) report->node_types);
  runnable = cdl_pq_strv_literal ((const char * const *) report->runnable_worker_ids);
  max_batch = positive_or_null (report->max_batch_size);
  batch = positive_or_null (report->batch_size);
  width = positive_or_null (report->width);
  height = positive_or_null (report->height);

  params[0] = name;
  params[1] = description;
  params[2] = raw_text;
  params[3] = definition;
  params[4] = report->valid ? "true" : "false";
  params[5] = problems;
  params[6] = max_batch;
  params[7] = batch;
  params[8] = width;
  params[9] = height;
  params[10] = report->model;
  params[11] = prompts;
  params[12] = seeds;
  params[13] = forbidden;
  params[14] = node_types;
  params[15] = report->has_latent_batch_seed ? "true" : "false";
  params[16] = runnable;
  params[17] = created_by;

  for (int attempt = 1; ; attempt++)
    {
      g_autoptr(PGresult) res = NULL;
      g_autoptr(GError) local_error = NULL;
      const char *lock_params[1] = { name };

      if (!cdl_pq_begin (conn, error))
        return NULL;

      /* Two uploads of one name take turns for the next version number;
       * the lock ends with the transaction. */
      if (!cdl_pq_command (conn,
                           "SELECT pg_advisory_xact_lock (hashtextextended ("
                           "'workflow:' || $1, 0))",
                           1, lock_params, &local_error))
        goto fail;

      res = cdl_pq_exec (conn,
                         "INSERT INTO workflows (name, version, description,"
                         "   raw_text, raw_definition, valid, problems,"
                         "   max_batch_size, batch_size, width, height, model,"
                         "   prompt_nodes, seed_nodes, forbidden_nodes,"
                         "   node_types, has_latent_batch_seed,"
                         "   runnable_worker_ids, validated_at, created_by)"
                         " SELECT $1, coalesce (max (version), 0) + 1, $2,"
                         "   $3, $4::jsonb, $5::boolean, $6::jsonb,"
                         "   $7::integer, $8::integer, $9::integer,"
                         "   $10::integer, $11, $12::jsonb, $13::jsonb,"
                         "   $14::jsonb, $15::text[], $16::boolean,"
                         "   $17::uuid[], now (), $18::uuid"
                         " FROM workflows WHERE name = $1"
                         " RETURNING " WORKFLOW_COLUMNS WORKFLOW_RAW_COLUMNS,
                         18, params, &local_error);
      if (res == NULL)
        goto fail;

      if (!cdl_pq_commit (conn, &local_error))
        goto fail;

      return cdl_workflow_repo_from_row (res, 0, TRUE);

    fail:
      cdl_pq_rollback (conn);

      /* Another instance without the lock (an older version) may still
       * have taken the number; try again with the next one. */
      if (g_error_matches (local_error, CDL_DB_ERROR, CDL_DB_ERROR_UNIQUE)
          && attempt < INSERT_ATTEMPTS)
        continue;

      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
}

GPtrArray *
cdl_workflow_repo_list (PGconn  *conn,
                        GError **error)
{
  g_autoptr(PGresult) res = NULL;
  GPtrArray *workflows;

  g_return_val_if_fail (conn != NULL, NULL);

  res = cdl_pq_exec (conn,
                     "SELECT " WORKFLOW_COLUMNS " FROM workflows"
                     " ORDER BY created_at DESC, name, version DESC",
                     0, NULL, error);
  if (res == NULL)
    return NULL;

  workflows = g_ptr_array_new_with_free_func (g_object_unref);
  for (int row = 0; row < PQntuples (res); row++)
    g_ptr_array_add (workflows, cdl_workflow_repo_from_row (res, row, FALSE));

  return workflows;
}

CdlWorkflow *
cdl_workflow_repo_get (PGconn      *conn,
                       const char  *id,
                       GError     **error)
{
  g_autoptr(PGresult) res = NULL;
  const char *params[1] = { id };

  g_return_val_if_fail (conn != NULL, NULL);
  g_return_val_if_fail (id != NULL, NULL);

  if (!g_uuid_string_is_valid (id))
    {
      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND,
                   "No workflow with id %s", id);
      return NULL;
    }

  res = cdl_pq_exec (conn,
                     "SELECT " WORKFLOW_COLUMNS WORKFLOW_RAW_COLUMNS
                     " FROM workflows WHERE id = $1",
                     1, params, error);
  if (res == NULL)
    return NULL;

  if (PQntuples (res) == 0)
    {
      g_set_error (error, CDL_DB_ERROR, CDL_DB_ERROR_NOT_FOUND,
                   "No workflow with id %s", id);
      return NULL;
    }

  return cdl_workflow_repo_from_row (res, 0, TRUE);
}
