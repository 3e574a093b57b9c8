/* cdl-sim-prompt.h: POST /prompt validation, as ComfyUI does it
 *
 * A graph first has every node checked for a known class_type (the first
 * failure rejects the whole prompt), then needs at least one output node,
 * then each output is validated with everything it depends on: required
 * inputs present, combo values in their list, numbers inside min/max,
 * links to nodes that exist and give the right type. Outputs that pass
 * run; the errors of the others come back as "node_errors".
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct
{
  /* NULL when at least one output is valid; otherwise "invalid_prompt",
   * "prompt_no_outputs" or "prompt_outputs_failed_validation". */
  char      *error_type;
  char      *message;
  char      *details;
  JsonNode  *node_errors;   /* {node_id: {errors, dependent_outputs,
                               class_type}}, always an object */
  GStrv      good_outputs;  /* output node ids that will run */
} CdlSimValidation;

void              cdl_sim_validation_free (CdlSimValidation   *validation);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlSimValidation, cdl_sim_validation_free)

/* @graph must be a JSON object; @exclude lists node types that are not
 * installed. */
CdlSimValidation *cdl_sim_prompt_validate (JsonNode           *graph,
                                           const char * const *exclude);

/* The error object of a 400 answer: {"type", "message", "details",
 * "extra_info": {}}. */
JsonNode         *cdl_sim_validation_error_to_json (const CdlSimValidation *validation);

/* Python's repr () of a float: the shortest text that reads back the same,
 * with ".0" on whole numbers. */
char             *cdl_sim_format_float    (double              value);

G_END_DECLS
