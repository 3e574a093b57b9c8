/* cdl-dpo.h: one line of a DPO JSONL export
 *
 * A line is one annotator's preference on one batch (the images of one
 * prompt): the chosen image and the rejected ones. Without an explicit
 * rejected index every other image of the batch is rejected. Each image
 * carries what reproduces it exactly: its seed and its index in a native
 * batch, and the SHA-256 of the stored file.
 *
 * Pure and thread-safe.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define CDL_DPO_ERROR (cdl_dpo_error_quark ())

typedef enum
{
  CDL_DPO_ERROR_INVALID,  /* indexes out of range or a batch too small */
} CdlDpoError;

typedef struct
{
  const char *uri;          /* the storage key */
  gint64      seed;
  int         batch_index;
  const char *checksum;     /* SHA-256 hex, may be NULL */
} CdlDpoImage;

typedef struct
{
  const char        *task_id;
  const char        *batch_id;
  const char        *annotator_id;
  const char        *prompt;
  const CdlDpoImage *images;          /* in stored batch order */
  guint              n_images;
  int                chosen_index;
  int                rejected_index;  /* -1: every other image */
  const char        *workflow_id;
  const char        *model;           /* may be NULL */
  const char        *variable_pool_version;  /* may be NULL */
  const char        *created_at;      /* ISO 8601, UTC */
  const char        *uri_base;        /* prefixed to keys; NULL: keys as they are */
} CdlDpoRecord;

GQuark  cdl_dpo_error_quark   (void);

/* The JSON object of @record on one line, without the newline. */
char   *cdl_dpo_line_build    (const CdlDpoRecord  *record,
                               GError             **error);

/* The same preference as pairs in the Pick-a-Pic / Diffusion-DPO layout:
 * one line per (chosen, rejected) pair, each ending in a newline, appended
 * to @out: {caption, jpg_0, jpg_1, label_0, seed_0, seed_1, batch_index_0,
 * batch_index_1, checksum_0, checksum_1, …ids}. label_0 is 1 when jpg_0 is
 * the chosen image, else 0. The chosen image goes first or second by the
 * parity of the two indexes and of the pair's place in the batch, so that
 * neither slot always wins. Returns the number of lines, or -1 with
 * @error set (nothing appended) for an invalid record. */
int     cdl_dpo_pairs_build   (const CdlDpoRecord  *record,
                               GString             *out,
                               GError             **error);

G_END_DECLS
