/* cdl-sim-nodes.h: the node types and model files the simulated worker offers
 *
 * A static table of ComfyUI node definitions, written out in the shapes of
 * GET /object_info: V1 nodes describe combos as [[choices…], {…}], V3 nodes
 * as ["COMBO", {"options": […]}]. The same table will drive the validation
 * of POST /prompt graphs.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  CDL_SIM_GROUP_REQUIRED,
  CDL_SIM_GROUP_OPTIONAL,
  CDL_SIM_GROUP_HIDDEN,
} CdlSimInputGroup;

typedef enum
{
  CDL_SIM_INPUT_LINK,      /* output of another node: MODEL, LATENT … */
  CDL_SIM_INPUT_INT,
  CDL_SIM_INPUT_FLOAT,
  CDL_SIM_INPUT_STRING,
  CDL_SIM_INPUT_BOOLEAN,
  CDL_SIM_INPUT_COMBO,     /* V1 form: [[choices…], {…}] */
  CDL_SIM_INPUT_COMBO_V3,  /* V3 form: ["COMBO", {"options": […]}] */
  CDL_SIM_INPUT_HIDDEN,    /* filled in by the server: PROMPT … */
} CdlSimInputKind;

typedef enum
{
  CDL_SIM_INPUT_FLAG_NONE            = 0,
  CDL_SIM_INPUT_FLAG_CONTROL_AFTER   = 1 << 0, /* control_after_generate */
  CDL_SIM_INPUT_FLAG_MAX_U64         = 1 << 1, /* max is 2^64 - 1 */
  CDL_SIM_INPUT_FLAG_MULTILINE       = 1 << 2,
  CDL_SIM_INPUT_FLAG_DYNAMIC_PROMPTS = 1 << 3,
  CDL_SIM_INPUT_FLAG_IMAGE_UPLOAD    = 1 << 4,
  CDL_SIM_INPUT_FLAG_ADVANCED        = 1 << 5,
} CdlSimInputFlags;

/* The largest seed ComfyUI's samplers accept, as ComfyUI writes it. */
#define CDL_SIM_SEED_MAX_TEXT "18446744073709551615"

typedef struct
{
  const char         *name;
  CdlSimInputGroup    group;
  CdlSimInputKind     kind;
  const char         *type;         /* LINK and HIDDEN: "MODEL", "PROMPT" … */
  const char * const *choices;      /* combos; NULL-terminated */
  const char         *default_str;  /* STRING and combos; NULL: none */
  double              default_num;  /* INT, FLOAT, BOOLEAN (0 or 1) */
  double              min;          /* INT, FLOAT */
  double              max;          /* INT, FLOAT; see FLAG_MAX_U64 */
  double              step;         /* 0: not sent */
  double              round;        /* 0: not sent */
  CdlSimInputFlags    flags;
  const char         *tooltip;      /* NULL: not sent */
} CdlSimInput;

typedef struct
{
  const char         *name;
  const char         *display_name;
  const char         *description;
  const char         *python_module;
  const char         *category;
  const CdlSimInput  *inputs;          /* ends with a NULL name */
  const char * const *outputs;         /* NULL-terminated types */
  const char * const *output_names;    /* NULL: same as outputs */
  const char * const *output_tooltips; /* NULL: not sent */
  gboolean            output_node;
  gboolean            v3;              /* V3 schema node */
  gboolean            api_node;        /* needs a comfy.org account */
} CdlSimNode;

const CdlSimNode   *cdl_sim_nodes_get_all     (guint              *n_nodes);
const CdlSimNode   *cdl_sim_nodes_lookup      (const char         *class_type);
const CdlSimInput  *cdl_sim_node_find_input   (const CdlSimNode   *node,
                                               const char         *name);
guint               cdl_sim_node_get_n_outputs (const CdlSimNode  *node);

/* Appends the node's GET /object_info entry (the {…} after its name) as
 * JSON text, with ComfyUI's separators and integer literals. */
void                cdl_sim_node_append_info  (const CdlSimNode   *node,
                                               GString            *out);
/* The GET /object_info body for every node not named in @exclude. */
char               *cdl_sim_nodes_object_info (const char * const *exclude);

/* GET /models: the model folder names. */
const char * const *cdl_sim_model_folders     (void);
/* GET /models/{folder}: the files of @folder, NULL for an unknown folder. */
const char * const *cdl_sim_model_files       (const char         *folder);

/* Appends @str as a JSON string, escaping non-ASCII like Python's json. */
void                cdl_sim_json_append_string (GString           *out,
                                                const char        *str);

G_END_DECLS
