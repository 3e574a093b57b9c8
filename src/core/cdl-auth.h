/* cdl-auth.h: roles, bearer tokens and their hashes
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* Ordered: a role may do everything the roles below it may. */
typedef enum
{
  CDL_ROLE_ANNOTATOR = 1,
  CDL_ROLE_OPERATOR  = 2,
  CDL_ROLE_ADMIN     = 3,
} CdlRole;

const char *cdl_role_to_string   (CdlRole     role);
gboolean    cdl_role_from_string (const char *str,
                                  CdlRole    *role);
gboolean    cdl_role_allows      (CdlRole     have,
                                  CdlRole     need);

typedef struct
{
  char    *id;
  char    *name;
  CdlRole  role;
} CdlUser;

#define CDL_TYPE_USER (cdl_user_get_type ())
GType    cdl_user_get_type (void) G_GNUC_CONST;
CdlUser *cdl_user_new      (const char *id,
                            const char *name,
                            CdlRole     role);
CdlUser *cdl_user_copy     (const CdlUser *user);
void     cdl_user_free     (CdlUser    *user);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlUser, cdl_user_free)

/* A new token: 256 random bits from the kernel, base64url without padding
 * (43 characters). Aborts if the kernel has no randomness to give. */
char    *cdl_auth_token_generate (void);

/* The form a token is stored in: lower-case hex SHA-256. */
char    *cdl_auth_token_hash     (const char *token);

/* Constant-time comparison of two NUL-terminated strings. */
gboolean cdl_auth_secure_equal   (const char *a,
                                  const char *b);

G_END_DECLS
