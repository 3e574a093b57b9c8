/* cdl-auth.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "core/cdl-auth.h"

#define TOKEN_BYTES 32

static const struct
{
  CdlRole     role;
  const char *name;
} roles[] = {
  { CDL_ROLE_ADMIN, "admin" },
  { CDL_ROLE_OPERATOR, "operator" },
  { CDL_ROLE_ANNOTATOR, "annotator" },
};

const char *
cdl_role_to_string (CdlRole role)
{
  for (guint i = 0; i < G_N_ELEMENTS (roles); i++)
    if (roles[i].role == role)
      return roles[i].name;

  return NULL;
}

gboolean
cdl_role_from_string (const char *str,
                      CdlRole    *role)
{
  for (guint i = 0; str != NULL && i < G_N_ELEMENTS (roles); i++)
    {
      if (strcmp (roles[i].name, str) == 0)
        {
          *role = roles[i].role;
          return TRUE;
        }
    }

  return FALSE;
}

gboolean
cdl_role_allows (CdlRole have,
                 CdlRole need)
{
  return have >= need;
}

G_DEFINE_BOXED_TYPE (CdlUser, cdl_user, cdl_user_copy, cdl_user_free)

CdlUser *
cdl_user_new (const char *id,
              const char *name,
              CdlRole     role)
{
  CdlUser *user = g_new0 (CdlUser, 1);

  user->id = g_strdup (id);
  user->name = g_strdup (name);
  user->role = role;

  return user;
}

CdlUser *
cdl_user_copy (const CdlUser *user)
{
  return cdl_user_new (user->id, user->name, user->role);
}

void
cdl_user_free (CdlUser *user)
{
  if (user == NULL)
    return;

  g_free (user->id);
  g_free (user->name);
  g_free (user);
}

char *
cdl_auth_token_generate (void)
{
  guint8 bytes[TOKEN_BYTES];
  gsize filled = 0;
  g_autofree char *b64 = NULL;
  GString *out;

  while (filled < sizeof bytes)
    {
      ssize_t n = getrandom (bytes + filled, sizeof bytes - filled, 0);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        g_error ("The kernel gave no random bytes for a token: %s",
                 g_strerror (errno));
      filled += n;
    }

  b64 = g_base64_encode (bytes, sizeof bytes);
  memset (bytes, 0, sizeof bytes);

  /* base64url without padding: safe in URLs, QR codes and headers. */
  out = g_string_sized_new (strlen (b64));
  for (const char *p = b64; *p != '\0'; p++)
    {
      if (*p == '+')
        g_string_append_c (out, '-');
      else if (*p == '/')
        g_string_append_c (out, '_');
      else if (*p != '=')
        g_string_append_c (out, *p);
    }

  return g_string_free (out, FALSE);
}

char *
cdl_auth_token_hash (const char *token)
{
  g_return_val_if_fail (token != NULL, NULL);

  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, token, -1);
}

gboolean
cdl_auth_secure_equal (const char *a,
                       const char *b)
{
  gsize la, lb;
  guint8 diff;

  if (a == NULL || b == NULL)
    return FALSE;

  la = strlen (a);
  lb = strlen (b);
  diff = la != lb;

  for (gsize i = 0; i < la; i++)
    diff |= (guint8) a[i] ^ (guint8) b[i % (lb ? lb : 1)];

  return diff == 0;
}
