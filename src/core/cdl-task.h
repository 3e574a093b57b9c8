/* cdl-task.h: tasks, their prompts and seeds, and the fields of a create
 * or edit
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* States as stored (tasks.state). */
#define CDL_TASK_STATE_DRAFT   "DRAFT"
#define CDL_TASK_STATE_FROZEN  "FROZEN"

/* Limits shared by the REST API and the task wizard. */
#define CDL_TASK_PROMPTS_MAX   1000000
#define CDL_TASK_POOLS_MAX     32
#define CDL_TASK_NAME_MAX      200
#define CDL_TASK_NOTES_MAX     10000
#define CDL_TASK_TEMPLATE_MAX  20000
/* Page sizes of the prompts of a task. */
#define CDL_TASK_PAGE_DEFAULT  100
#define CDL_TASK_PAGE_MAX      1000

/* One prompt of a task with its seeds. */
typedef struct
{
  char      *id;
  guint      position;   /* 0 … K-1 */
  char      *text;
  JsonNode  *variables;  /* {pool_name: item} */
  guint64   *seeds;      /* in position order */
  guint      n_seeds;
} CdlPrompt;

void      cdl_prompt_free    (CdlPrompt *prompt);
/* {id, position, text, variables, seeds: number[]} */
JsonNode *cdl_prompt_to_json (const CdlPrompt *prompt);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlPrompt, cdl_prompt_free)

/* A pool pinned by a task. */
typedef struct
{
  char        *pool_id;
  char        *name;
  char        *mode;       /* "no_replacement" or "permutation" */
  int          version;
} CdlTaskPool;

void cdl_task_pool_free (CdlTaskPool *pool);

typedef struct
{
  char        *id;
  char        *name;             /* may be NULL */
  char        *workflow_id;
  char        *workflow_name;
  int          workflow_version;
  char        *state;            /* CDL_TASK_STATE_… and later states */
  char        *notes;            /* may be NULL */
  char        *prompt_template;  /* NULL: the workflow's positive prompt */
  int          target_prompts;   /* K */
  int          seeds_per_prompt; /* N */
  guint64      rng_seed;
  GPtrArray   *pools;            /* CdlTaskPool in task order; never NULL */
  gint64       prompt_count;
  gint64       seed_count;
  JsonNode    *frozen_snapshot;  /* NULL while DRAFT */
  GDateTime   *frozen_at;        /* NULL while DRAFT */
  char        *created_by;       /* user id; may be NULL */
  GDateTime   *created_at;
  GDateTime   *updated_at;

  /* One page of prompts when the record was read with them, else NULL. */
  GPtrArray   *prompts;          /* CdlPrompt, by position */
  int          next_after;       /* "after" for the next page; -1 at the end */
} CdlTaskData;

void cdl_task_data_clear (CdlTaskData *data);

#define CDL_TYPE_TASK (cdl_task_get_type ())

G_DECLARE_FINAL_TYPE (CdlTask, cdl_task, CDL, TASK, GObject)

/* Takes the contents of @data (which is zeroed). */
CdlTask           *cdl_task_new          (CdlTaskData *data);
const CdlTaskData *cdl_task_get_data     (CdlTask     *self);
const char        *cdl_task_get_id       (CdlTask     *self);
const char        *cdl_task_get_name     (CdlTask     *self);
const char        *cdl_task_get_state    (CdlTask     *self);
gboolean           cdl_task_is_draft     (CdlTask     *self);
/* The page of prompts the record carries, or NULL. */
GPtrArray         *cdl_task_get_prompts  (CdlTask     *self);

/* {id, name, workflow_id, workflow_name, workflow_version, state, notes,
 *  prompt_template, target_prompts, seeds_per_prompt, rng_seed,
 *  pools: [{id, name, mode, version}], counts: {prompts, seeds},
 *  frozen_at, snapshot (summary: no raw definition), created_by,
 *  created_at, updated_at} plus, when the record carries a page,
 *  prompts: Prompt[], seeds: number[][] (the same page's seeds) and
 *  next_after (null at the end). */
JsonNode          *cdl_task_to_json      (CdlTask     *self);

typedef enum
{
  CDL_TASK_FIELD_WORKFLOW_ID      = 1 << 0,
  CDL_TASK_FIELD_POOL_IDS         = 1 << 1,
  CDL_TASK_FIELD_TARGET_PROMPTS   = 1 << 2,
  CDL_TASK_FIELD_SEEDS_PER_PROMPT = 1 << 3,
  CDL_TASK_FIELD_NOTES            = 1 << 4,
  CDL_TASK_FIELD_PROMPT_TEMPLATE  = 1 << 5,
  CDL_TASK_FIELD_NAME             = 1 << 6,
  CDL_TASK_FIELD_RNG_SEED         = 1 << 7,
} CdlTaskFields;

/* The fields whose change makes new prompts and seeds. */
#define CDL_TASK_FIELDS_REGENERATE \
  (CDL_TASK_FIELD_WORKFLOW_ID | CDL_TASK_FIELD_POOL_IDS \
   | CDL_TASK_FIELD_TARGET_PROMPTS | CDL_TASK_FIELD_SEEDS_PER_PROMPT \
   | CDL_TASK_FIELD_PROMPT_TEMPLATE | CDL_TASK_FIELD_RNG_SEED)

typedef struct
{
  CdlTaskFields  set;               /* which of the fields below were given */
  char          *workflow_id;
  char         **pool_ids;          /* ids, or pool names; never NULL once set */
  int            target_prompts;
  int            seeds_per_prompt;
  char          *notes;             /* NULL clears on edit */
  char          *prompt_template;   /* NULL: the workflow's positive prompt */
  char          *name;              /* NULL clears on edit */
  guint64        rng_seed;
} CdlTaskInput;

CdlTaskInput *cdl_task_input_new       (void);
void          cdl_task_input_free      (CdlTaskInput  *input);

/* Parses a JSON body. A create needs workflow_id, variable_pool_ids,
 * target_prompts and seeds_per_prompt; an edit takes any of the fields.
 * Errors are CDL_INPUT_ERROR_INVALID with a message that starts with the
 * offending field's name. Limits that need the database (pool sizes, the
 * batch limit) are checked by the task service. */
CdlTaskInput *cdl_task_input_from_json (JsonNode      *node,
                                        gboolean       for_create,
                                        GError       **error);

/* Checks the fields that are set (types, ranges, lengths). */
gboolean      cdl_task_input_validate  (CdlTaskInput  *input,
                                        gboolean       for_create,
                                        GError       **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlTaskInput, cdl_task_input_free)

G_END_DECLS
