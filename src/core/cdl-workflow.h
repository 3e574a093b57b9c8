/* cdl-workflow.h: ComfyUI API-format workflows, their validation report
 * and the stored record
 *
 * The validator is pure (GLib and json-glib only, no I/O) and takes any
 * bytes: it never crashes on bad input, it reports problems.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

#include "core/cdl-settings.h"

G_BEGIN_DECLS

/* Stable problem codes (the "code" member of a problem). */
#define CDL_WORKFLOW_NOT_JSON             "not_json"
#define CDL_WORKFLOW_NOT_API_FORMAT       "not_api_format"
#define CDL_WORKFLOW_UI_FORMAT            "ui_format"
#define CDL_WORKFLOW_BAD_NODE             "bad_node"            /* no class_type / inputs object */
#define CDL_WORKFLOW_DANGLING_LINK        "dangling_link"       /* link to a missing node */
#define CDL_WORKFLOW_MISSING_OUTPUT       "missing_output"      /* link to a missing output */
#define CDL_WORKFLOW_CYCLE                "cycle"
#define CDL_WORKFLOW_NO_SAMPLER           "no_sampler"
#define CDL_WORKFLOW_NO_OUTPUT_NODE       "no_output_node"
#define CDL_WORKFLOW_FORBIDDEN_NODE       "forbidden_node"      /* admin list or ControlNet */
#define CDL_WORKFLOW_API_NODE             "api_node"            /* paid API / partner node */
#define CDL_WORKFLOW_MISSING_NODE_TYPE    "missing_node_type"   /* on every healthy worker */
#define CDL_WORKFLOW_NO_RUNNABLE_WORKER   "no_runnable_worker"  /* no worker has every type */
#define CDL_WORKFLOW_BATCH_TOO_LARGE      "batch_too_large"
#define CDL_WORKFLOW_RESOLUTION           "resolution_out_of_range"
#define CDL_WORKFLOW_SEED_MISSING         "seed_missing"        /* no seed input to set */

typedef struct
{
  char *node_id;     /* NULL for a problem of the whole graph */
  char *class_type;  /* NULL when unknown */
  char *code;        /* one of the codes above */
  char *message;     /* a sentence a person can act on */
} CdlWorkflowProblem;

typedef enum
{
  CDL_PROMPT_ROLE_POSITIVE,
  CDL_PROMPT_ROLE_NEGATIVE,
} CdlPromptRole;

const char *cdl_prompt_role_to_string (CdlPromptRole role);

/* A text encoder reached from a sampler's positive or negative input. */
typedef struct
{
  char          *node_id;
  char          *class_type;
  CdlPromptRole  role;
  char          *input;      /* the input that holds the text: "text" */
  char          *text;       /* its value in the upload; NULL if linked */
} CdlPromptNode;

/* An input that carries the noise seed: KSampler "seed",
 * KSamplerAdvanced "noise_seed", RandomNoise "noise_seed", … */
typedef struct
{
  char *node_id;
  char *class_type;
  char *input;               /* "seed" or "noise_seed" */
} CdlSeedNode;

void      cdl_workflow_problem_free   (CdlWorkflowProblem *problem);
void      cdl_prompt_node_free        (CdlPromptNode      *node);
void      cdl_seed_node_free          (CdlSeedNode        *node);
JsonNode *cdl_workflow_problem_to_json (const CdlWorkflowProblem *problem);
/* {node_id, class_type, role, input, text} */
JsonNode *cdl_prompt_node_to_json     (const CdlPromptNode *node);
/* {node_id, class_type, input} */
JsonNode *cdl_seed_node_to_json       (const CdlSeedNode  *node);
/* Readers of the stored JSON arrays; members that do not fit are skipped.
 * Elements are owned by the returned array. */
GPtrArray *cdl_workflow_problems_from_json (JsonNode *array);
GPtrArray *cdl_prompt_nodes_from_json      (JsonNode *array);
GPtrArray *cdl_seed_nodes_from_json        (JsonNode *array);

/* What the validator found. */
typedef struct
{
  gboolean    valid;                 /* no problems */
  GPtrArray  *problems;              /* CdlWorkflowProblem, graph order */
  JsonNode   *definition;            /* the parsed JSON; NULL when not JSON */
  GPtrArray  *prompt_nodes;          /* CdlPromptNode */
  GPtrArray  *seed_nodes;            /* CdlSeedNode */
  gboolean    has_latent_batch_seed; /* a LatentBatchSeedBehavior node */
  char       *model;                 /* ckpt_name / unet_name; may be NULL */
  int         width;                 /* of the latent; 0 when unknown */
  int         height;
  int         batch_size;            /* largest latent batch; 0 when unknown */
  int         max_batch_size;        /* the settings' limit it was checked against */
  char      **node_types;            /* distinct class_types, sorted */
  char      **forbidden_nodes;       /* node ids flagged forbidden_node or api_node */
  char      **runnable_worker_ids;   /* workers offering every node type, sorted;
                                      * NULL when no worker catalog was given */
} CdlWorkflowReport;

void       cdl_workflow_report_free    (CdlWorkflowReport *report);

/* TRUE when the report carries @code (for tests and callers). */
gboolean   cdl_workflow_report_has     (const CdlWorkflowReport *report,
                                        const char              *code);

/* Validates and inspects the raw upload @text (@length bytes, or -1 for
 * NUL-terminated).
 *
 * @worker_node_types: NULL, or worker id (char *) → set of class names
 *   (a GHashTable of char * used as a set) from the healthy workers'
 *   /object_info. NULL or empty skips the missing_node_type check.
 * @object_info: NULL, or the JSON object of GET /object_info (class →
 *   details). With it, links are checked against each node's "output"
 *   list and "api_node": true marks partner nodes; without it a built-in
 *   list of known partner nodes is used.
 *
 * A PreviewImage alone is not an output: it writes to ComfyUI's temp
 * folder, which is not kept, so no_output_node asks for a SaveImage-type
 * node. Never returns NULL. */
CdlWorkflowReport *cdl_workflow_validate (const char        *text,
                                          gssize             length,
                                          const CdlSettings *settings,
                                          GHashTable        *worker_node_types,
                                          JsonObject        *object_info);

/* Whether a class_type is a known sampler / seed-carrying / output node. */
gboolean   cdl_workflow_is_sampler     (const char *class_type);
gboolean   cdl_workflow_is_output_node (const char *class_type);
/* The built-in list of API/partner node classes (for use without
 * /object_info). */
gboolean   cdl_workflow_is_known_api_node (const char *class_type);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlWorkflowProblem, cdl_workflow_problem_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlWorkflowReport, cdl_workflow_report_free)

/* A stored workflow version, as the repository reads it. */
typedef struct
{
  char        *id;
  char        *name;
  int          version;               /* 1, 2, … per name */
  char        *description;           /* may be NULL */
  gboolean     valid;
  GPtrArray   *problems;              /* CdlWorkflowProblem; never NULL */
  int          max_batch_size;        /* limit at validation time */
  int          batch_size;            /* 0 when unknown */
  int          width;                 /* 0 when unknown */
  int          height;
  char        *model;                 /* may be NULL */
  GPtrArray   *prompt_nodes;          /* CdlPromptNode; never NULL */
  GPtrArray   *seed_nodes;            /* CdlSeedNode; never NULL */
  char       **forbidden_nodes;       /* node ids; never NULL */
  char       **node_types;            /* never NULL */
  gboolean     has_latent_batch_seed;
  char       **runnable_worker_ids;   /* never NULL */
  char        *raw_text;              /* the upload byte for byte; NULL in lists */
  JsonNode    *raw_definition;        /* NULL in lists */
  char        *created_by;            /* user id; may be NULL */
  GDateTime   *validated_at;
  GDateTime   *created_at;
} CdlWorkflowData;

void cdl_workflow_data_clear (CdlWorkflowData *data);

#define CDL_TYPE_WORKFLOW (cdl_workflow_get_type ())

G_DECLARE_FINAL_TYPE (CdlWorkflow, cdl_workflow, CDL, WORKFLOW, GObject)

/* Takes the contents of @data (which is zeroed). */
CdlWorkflow           *cdl_workflow_new            (CdlWorkflowData *data);
const CdlWorkflowData *cdl_workflow_get_data       (CdlWorkflow     *self);
const char            *cdl_workflow_get_id         (CdlWorkflow     *self);
const char            *cdl_workflow_get_name       (CdlWorkflow     *self);
int                    cdl_workflow_get_version    (CdlWorkflow     *self);
const char            *cdl_workflow_get_description (CdlWorkflow    *self);
gboolean               cdl_workflow_get_valid      (CdlWorkflow     *self);
GDateTime             *cdl_workflow_get_created_at (CdlWorkflow     *self);
/* The raw graph; NULL on records from a list. */
JsonNode              *cdl_workflow_get_raw_definition (CdlWorkflow *self);

/* {id, name, version, description, valid, problems[], max_batch_size,
 *  prompt_nodes, seed_nodes, forbidden_nodes, node_types,
 *  has_latent_batch_seed, model, width, height, batch_size,
 *  runnable_worker_ids, created_by, validated_at, created_at} plus
 * raw_definition when @with_raw and the record has it. */
JsonNode              *cdl_workflow_to_json        (CdlWorkflow     *self,
                                                    gboolean         with_raw);

G_END_DECLS
