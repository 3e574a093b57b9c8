/* cdl-sim-job.h: what running a graph means to the simulated worker
 *
 * Each output node (SaveImage, PreviewImage) gets a plan read from the
 * nodes it depends on, the nearest one up the links winning: width and
 * height of an Empty…LatentImage, LatentUpscale or ImageScale node,
 * batch_size of the latent, the seed or noise_seed of the sampler or
 * RandomNoise node, LatentBatchSeedBehavior's rule, and a hash of the
 * CLIPTextEncode texts.
 *
 * Image i of a batch of seed S is drawn as:
 *   no LatentBatchSeedBehavior   render (S, batch index i)
 *   seed_behavior "random"       render (S + i, batch index 0)
 *   seed_behavior "fixed"        render (S, batch index 0) for every i
 * so with "random" image i is exactly the image of a batch_size 1 job with
 * seed S + i, and image 0 is always the image of seed S alone.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef enum
{
  CDL_SIM_SEEDS_PER_INDEX,   /* no LatentBatchSeedBehavior node */
  CDL_SIM_SEEDS_RANDOM,
  CDL_SIM_SEEDS_FIXED,
} CdlSimSeedRule;

typedef struct
{
  char           *node_id;
  char           *class_type;
  gboolean        temp;          /* PreviewImage: "temp" images */
  char           *subfolder;     /* from a filename_prefix "dir/name" */
  char           *prefix;
  gboolean        bad_path;      /* the prefix leaves the output folder */
  guint           width;         /* as asked; drawing clamps */
  guint           height;
  guint           batch;
  guint64         seed;
  CdlSimSeedRule  rule;
  guint32         text_hash;
  char           *sampler_id;    /* where errors are reported */
  char           *sampler_type;
} CdlSimOutputPlan;

void       cdl_sim_output_plan_free   (CdlSimOutputPlan   *plan);

/* One plan per id in @outputs, in that order. */
GPtrArray *cdl_sim_job_plan           (JsonNode           *graph,
                                       const char * const *outputs);

/* The seed and batch index image @index is drawn with. */
guint64    cdl_sim_output_plan_image_seed (const CdlSimOutputPlan *plan,
                                           guint                   index,
                                           guint                  *draw_index);

/* The PNG of image @index, with one tEXt chunk per key. */
GBytes    *cdl_sim_output_plan_render (const CdlSimOutputPlan *plan,
                                       guint                   index,
                                       const char * const     *text_keys,
                                       const char * const     *text_values,
                                       GError                **error);

/* The "execution_error" message body of a run of @graph that failed in
 * @plan's sampler. */
JsonNode  *cdl_sim_job_error_event    (JsonNode               *graph,
                                       const char             *prompt_id,
                                       const CdlSimOutputPlan *plan,
                                       const char             *exception_type,
                                       const char             *message);

G_END_DECLS
