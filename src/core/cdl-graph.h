/* cdl-graph.h: setting a workflow's prompt, seed and batch for one job
 *
 * The orchestrator sends the frozen graph with exactly these inputs
 * changed and nothing else: no node is added, removed or rewired.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct
{
  GPtrArray  *prompt_nodes;   /* CdlPromptNode (core/cdl-workflow.h) */
  const char *positive_text;  /* NULL: leave the positive prompts as they are */
  const char *negative_text;  /* NULL: leave the negative prompts */
  GPtrArray  *seed_nodes;     /* CdlSeedNode */
  gint64      seed;           /* < 0: leave the seeds */
  int         batch_size;     /* 0: leave the latent batch size */
  int         width;          /* 0: leave; the pilot may lower it */
  int         height;
} CdlGraphPatch;

/* Returns a deep copy of @graph (an API-format object) with @patch
 * applied. Fails when an input to set is missing or is a link rather than
 * a value, naming the node, since the job would not be what was asked. */
JsonNode *cdl_graph_patch (JsonNode             *graph,
                           const CdlGraphPatch  *patch,
                           GError              **error);

/* The node ids of the latent images whose batch_size / width / height the
 * patch sets (EmptyLatentImage, EmptySD3LatentImage and the like). */
GPtrArray *cdl_graph_latent_nodes (JsonNode *graph);

G_END_DECLS
