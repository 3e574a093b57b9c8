/* cdl-abtest.h: A/B test variants and the stable placement of users
 *
 * A user is placed in a variant by a hash of (test id, user id) mapped
 * onto the cumulative weights, so that every instance places a user the
 * same way without asking anyone; the placement is then stored, which
 * keeps it even if the weights change.
 *
 * Pure and thread-safe.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Prefetch batches a variant may ask for. */
#define CDL_ABTEST_PREFETCH_MAX 50
#define CDL_ABTEST_PREFETCH_DEFAULT 20
/* Weights must sum to 1 within this. */
#define CDL_ABTEST_WEIGHT_TOLERANCE 0.001

typedef struct
{
  char     *key;
  double    weight;
  int       prefetch_batches;
  gboolean  prefetch_full;
  char     *media_base_url;    /* NULL: the server's own media links */
} CdlAbVariant;

void       cdl_ab_variant_free          (CdlAbVariant *variant);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlAbVariant, cdl_ab_variant_free)

/* Validates @node, a JSON array of {key, weight, config} (config
 * optional: {prefetch_batches 0..50, prefetch_full, media_base_url}).
 * Returns CdlAbVariant entries, or NULL with CDL_INPUT_ERROR_INVALID whose
 * message names the field. */
GPtrArray *cdl_abtest_parse_variants    (JsonNode      *node,
                                         GError       **error);

/* The variants with every config member filled in, as stored. */
JsonNode  *cdl_abtest_variants_to_json  (GPtrArray     *variants);

/* Adds "config": {...} of @variant to an object being built. */
void       cdl_abtest_add_config        (JsonBuilder   *builder,
                                         const CdlAbVariant *variant);

/* The variant of @variants named @key, or NULL. */
const CdlAbVariant *cdl_abtest_find     (GPtrArray     *variants,
                                         const char    *key);

/* A number in [0, 1) fixed by (test, user): the first 64 bits of
 * SHA-256 ("test_id/user_id"). */
double     cdl_abtest_unit              (const char    *test_id,
                                         const char    *user_id);

/* The index whose cumulative weight range holds @u * (sum of weights);
 * the last variant catches rounding. */
guint      cdl_abtest_pick              (GPtrArray     *variants,
                                         double         u);

G_END_DECLS
