/* cdl-media-sign.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-core"

#include "config.h"

#include <string.h>

#include "core/cdl-media-sign.h"

G_DEFINE_QUARK (cdl-media-sign-error-quark, cdl_media_sign_error)

gint64
cdl_media_sign_expiry_for (gint64 now)
{
  return (now / CDL_MEDIA_URL_LIFETIME_S + 2) * CDL_MEDIA_URL_LIFETIME_S;
}

char *
cdl_media_sign (GBytes     *secret,
                const char *object_key,
                gint64      expires)
{
  g_autoptr(GHmac) hmac = NULL;
  g_autofree char *exp = NULL;
  gsize len = 0;
  const guint8 *data;

  g_return_val_if_fail (secret != NULL, NULL);
  g_return_val_if_fail (object_key != NULL, NULL);

  data = g_bytes_get_data (secret, &len);
  exp = g_strdup_printf ("%" G_GINT64_FORMAT, expires);

  hmac = g_hmac_new (G_CHECKSUM_SHA256, data, len);
  g_hmac_update (hmac, (const guchar *)object_key, strlen (object_key));
  g_hmac_update (hmac, (const guchar *)"\n", 1);
  g_hmac_update (hmac, (const guchar *)exp, strlen (exp));

  return g_strdup (g_hmac_get_string (hmac));
}

char *
cdl_media_sign_url (GBytes     *secret,
                    const char *base,
                    const char *object_key,
                    gint64      expires)
{
  g_autofree char *sig = NULL;
  g_autofree char *escaped = NULL;

  g_return_val_if_fail (base != NULL, NULL);

  sig = cdl_media_sign (secret, object_key, expires);
  escaped = g_uri_escape_string (object_key, "/", FALSE);

  return g_strdup_printf ("%s%s?exp=%" G_GINT64_FORMAT "&sig=%s",
                          base, escaped, expires, sig);
}

gboolean
cdl_media_constant_time_equal (const char *a,
                               const char *b)
{
  gsize len_a, len_b;
  guint8 diff;

  g_return_val_if_fail (a != NULL && b != NULL, FALSE);

  len_a = strlen (a);
  len_b = strlen (b);
  if (len_a != len_b)
    return FALSE;

  /* Every byte is looked at whatever the earlier ones held. */
  diff = 0;
  for (gsize i = 0; i < len_a; i++)
    diff |= (guint8)a[i] ^ (guint8)b[i];

  return diff == 0;
}

gboolean
cdl_media_verify (GBytes      *secret,
                  const char  *object_key,
                  const char  *exp,
                  const char  *sig,
                  gint64       now,
                  GError     **error)
{
  g_autofree char *want = NULL;
  g_autofree char *sig_lower = NULL;
  guint64 expires = 0;

  g_return_val_if_fail (secret != NULL && object_key != NULL, FALSE);

  if (exp == NULL || sig == NULL
      || !g_ascii_string_to_unsigned (exp, 10, 0, G_MAXINT64, &expires, NULL)
      || strlen (sig) != 64)
    {
      g_set_error_literal (error, CDL_MEDIA_SIGN_ERROR, CDL_MEDIA_SIGN_ERROR_MALFORMED,
                           "This media link is not signed");
      return FALSE;
    }

  sig_lower = g_ascii_strdown (sig, -1);
  want = cdl_media_sign (secret, object_key, (gint64)expires);

  /* The signature first: an expiry check that answered before it would
   * tell a forger nothing, but there is no reason to order them so. */
  if (!cdl_media_constant_time_equal (want, sig_lower))
    {
      g_set_error_literal (error, CDL_MEDIA_SIGN_ERROR, CDL_MEDIA_SIGN_ERROR_FORGED,
                           "This media link's signature is not valid");
      return FALSE;
    }

  if ((gint64)expires < now)
    {
      g_set_error_literal (error, CDL_MEDIA_SIGN_ERROR, CDL_MEDIA_SIGN_ERROR_EXPIRED,
                           "This media link has expired; reload the batch for a new one");
      return FALSE;
    }

  return TRUE;
}
