/* cdl-shuffle.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-core"

#include "config.h"

#include <string.h>

#include "core/cdl-shuffle.h"

/* SplitMix64: a small generator with a good spread from any seed. */
static guint64
next_random (guint64 *state)
{
  guint64 z;

  *state += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15);
  z = *state;
  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);

  return z ^ (z >> 31);
}

void
cdl_shuffle_order (const char *user_id,
                   const char *batch_id,
                   guint       n,
                   guint      *order)
{
  g_autoptr(GChecksum) checksum = NULL;
  guint8 digest[32];
  gsize digest_len = sizeof digest;
  guint64 state = 0;

  g_return_if_fail (user_id != NULL && batch_id != NULL);
  g_return_if_fail (n == 0 || order != NULL);

  checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (checksum, (const guchar *)user_id, strlen (user_id));
  g_checksum_update (checksum, (const guchar *)"\n", 1);
  g_checksum_update (checksum, (const guchar *)batch_id, strlen (batch_id));
  g_checksum_get_digest (checksum, digest, &digest_len);

  for (guint i = 0; i < 8; i++)
    state = (state << 8) | digest[i];

  for (guint i = 0; i < n; i++)
    order[i] = i;

  /* Fisher–Yates; the modulo bias is negligible for batch sizes. */
  for (guint i = n; i > 1; i--)
    {
      guint j = (guint)(next_random (&state) % i);
      guint tmp = order[i - 1];

      order[i - 1] = order[j];
      order[j] = tmp;
    }
}

gboolean
cdl_shuffle_is_permutation (const gint64 *order,
                            guint         n)
{
  g_autofree gboolean *seen = g_new0 (gboolean, MAX (n, 1));

  for (guint i = 0; i < n; i++)
    {
      if (order[i] < 0 || order[i] >= (gint64)n || seen[order[i]])
        return FALSE;
      seen[order[i]] = TRUE;
    }

  return TRUE;
}
