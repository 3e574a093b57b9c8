/* cdl-shuffle.h: the order in which an annotator sees a batch
 *
 * To counter position bias, each annotator sees the images of a batch in
 * an order of their own. The order is derived from (user, batch) alone, so
 * reloading the batch shows the same order on every device and instance,
 * and nothing needs storing until the annotation records what was shown.
 *
 * Pure and thread-safe.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Fills @order[0 .. n-1] with a permutation of 0 .. n-1: order[p] is the
 * stored index shown at position p. */
void      cdl_shuffle_order          (const char  *user_id,
                                      const char  *batch_id,
                                      guint        n,
                                      guint       *order);

/* TRUE when @order holds each of 0 .. n-1 exactly once. */
gboolean  cdl_shuffle_is_permutation (const gint64 *order,
                                      guint         n);

G_END_DECLS
