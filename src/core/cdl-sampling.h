/* cdl-sampling.h: reproducible randomness for tasks
 *
 * Everything here is pure and deterministic: the same rng seed gives the
 * same prompts and seeds on every machine and in every future version, so
 * a data set can be rebuilt from its task row. The generator is
 * xoshiro256** seeded through splitmix64, implemented here rather than
 * taken from GRand, whose algorithm is not promised to stay the same.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

#include "core/cdl-pool.h"

G_BEGIN_DECLS

#define CDL_SAMPLING_ERROR (cdl_sampling_error_quark ())

typedef enum
{
  CDL_SAMPLING_ERROR_TOO_MANY,     /* more prompts asked than the pools give */
  CDL_SAMPLING_ERROR_UNKNOWN_SLOT, /* a {slot} that names no pool */
  CDL_SAMPLING_ERROR_TEMPLATE,     /* unbalanced braces, unused pool … */
  CDL_SAMPLING_ERROR_INVALID,      /* a count or pool out of range */
} CdlSamplingError;

GQuark cdl_sampling_error_quark (void);

/* Seeds and rng seeds live in [0, 2^53): every JSON reader keeps them. */
#define CDL_SEED_LIMIT  (G_GUINT64_CONSTANT (1) << 53)
#define CDL_SEED_MAX    (CDL_SEED_LIMIT - 1)

/* The generator: xoshiro256** state. */
typedef struct
{
  guint64 s[4];
} CdlRng;

/* Seeds the state from @seed with splitmix64. @stream selects an
 * independent sequence for the same seed (stream 0 is plain @seed). */
void     cdl_rng_init          (CdlRng  *rng,
                                guint64  seed,
                                guint64  stream);
guint64  cdl_rng_next          (CdlRng  *rng);
/* Uniform in [0, @bound), without modulo bias; @bound > 0. */
guint64  cdl_rng_below         (CdlRng  *rng,
                                guint64  bound);
/* Uniform in [0, 2^53). */
guint64  cdl_rng_next_seed     (CdlRng  *rng);
/* Fisher–Yates over @n indices. */
void     cdl_rng_shuffle       (CdlRng  *rng,
                                guint32 *items,
                                gsize    n);

/* A fresh rng seed in [0, 2^53) from the system's entropy, for a task
 * created without one. Not deterministic, by design. */
guint64  cdl_sampling_random_seed (void);

/* A pool as the sampler sees it: items borrowed from the caller. */
typedef struct
{
  const char         *name;
  CdlPoolMode         mode;
  const char * const *items;
  guint               n_items;
} CdlSamplePool;

/* How many distinct prompts @pools can give: the smallest no_replacement
 * pool when there is one, else the product of the sizes (G_MAXUINT64 when
 * it does not fit). No pools give one prompt (the template alone). */
guint64  cdl_sampling_capacity (const CdlSamplePool *pools,
                                guint                n_pools);

/* Draws @count distinct combinations: @count × @n_pools item indices,
 * row-major (row i, pool p at [i * n_pools + p]), in draw order.
 * no_replacement pools never repeat an item; when every pool is
 * permutation, no two rows are equal. The product space is never
 * materialised when it is large. CDL_SAMPLING_ERROR_TOO_MANY (the message
 * says how many exist) when @count exceeds the capacity. */
guint32 *cdl_sampling_draw     (const CdlSamplePool *pools,
                                guint                n_pools,
                                guint                count,
                                CdlRng              *rng,
                                GError             **error);

/* Fills @out with @n distinct seeds in [0, 2^53). */
void     cdl_sampling_seeds    (CdlRng              *rng,
                                guint                n,
                                guint64             *out);

/* A prompt template: text with {pool_name} slots; "{{" and "}}" stand for
 * literal braces.
 *
 * With slots, every slot must name one of the pools (else
 * CDL_SAMPLING_ERROR_UNKNOWN_SLOT naming the slot) and every pool must have
 * a slot (else CDL_SAMPLING_ERROR_TEMPLATE naming the pool).
 * Without slots and with pools, the pool items are the whole prompt: the
 * items of the pools are joined with ", " in pool order and the template
 * text is not used. Without slots and without pools, the prompt is the
 * template text (braces unescaped). */
typedef struct _CdlTemplate CdlTemplate;

CdlTemplate *cdl_template_parse     (const char          *text,
                                     const char * const  *pool_names,
                                     guint                n_pools,
                                     GError             **error);
void         cdl_template_free      (CdlTemplate         *tmpl);
gboolean     cdl_template_has_slots (const CdlTemplate   *tmpl);
/* @values: one item per pool, in pool order. */
char        *cdl_template_expand    (const CdlTemplate   *tmpl,
                                     const char * const  *values);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlTemplate, cdl_template_free)

/* The prompts and seeds of a task, generated in memory. */
typedef struct
{
  guint     n_prompts;
  guint     seeds_per_prompt;
  char    **texts;      /* n_prompts */
  char    **variables;  /* n_prompts JSON objects {pool_name: item} */
  guint64  *seeds;      /* n_prompts × seeds_per_prompt, row-major */
} CdlPromptSet;

void          cdl_prompt_set_free (CdlPromptSet *set);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlPromptSet, cdl_prompt_set_free)

/* Generates a task's prompts and seeds from @rng_seed: combinations from
 * stream 0, seeds from stream 1, so that changing N keeps the prompts. */
CdlPromptSet *cdl_sampling_generate (const char          *template_text,
                                     const CdlSamplePool *pools,
                                     guint                n_pools,
                                     guint                n_prompts,
                                     guint                seeds_per_prompt,
                                     guint64              rng_seed,
                                     GError             **error);

/* Feeds one prompt into a running SHA-256 of a task's prompts and seeds,
 * as stored: position, text, variables (the jsonb text) and the seeds in
 * position order. The freeze snapshot records the digest. */
void          cdl_sampling_checksum_add (GChecksum          *checksum,
                                         guint               position,
                                         const char         *text,
                                         const char         *variables,
                                         const guint64      *seeds,
                                         guint               n_seeds);

G_END_DECLS
