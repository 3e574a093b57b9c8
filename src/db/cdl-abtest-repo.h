/* cdl-abtest-repo.h: A/B tests, sticky assignments, events and results
 *
 * Plain blocking functions for a cdl_db_run_async() function.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <libpq-fe.h>

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  char     *id;
  char     *name;
  char     *variants;     /* the stored JSON array */
  gint64    expires_at;   /* seconds since the epoch; 0: never */
  gint64    created_at;
  gboolean  expired;      /* by the database's clock */
} CdlAbTestRow;

void          cdl_ab_test_row_free      (CdlAbTestRow *row);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlAbTestRow, cdl_ab_test_row_free)

/* CDL_DB_ERROR_UNIQUE when the name is taken. @expires_at 0: never. */
CdlAbTestRow *cdl_abtest_repo_insert     (PGconn      *conn,
                                          const char  *name,
                                          const char  *variants,
                                          gint64       expires_at,
                                          GError     **error);

/* By name, or by id when @name is NULL; NULL without an error when there
 * is none. */
CdlAbTestRow *cdl_abtest_repo_find       (PGconn      *conn,
                                          const char  *name,
                                          const char  *id,
                                          GError     **error);

/* Every test, newest first (CdlAbTestRow). */
GPtrArray    *cdl_abtest_repo_list       (PGconn      *conn,
                                          GError     **error);

/* The user's variant in the test, or NULL (*@user_exists says whether
 * the user exists at all); NULL with @error on failure. */
char         *cdl_abtest_repo_assignment (PGconn      *conn,
                                          const char  *test_id,
                                          const char  *user_id,
                                          gboolean    *user_exists,
                                          GError     **error);

/* Stores @variant_key for the user unless the user already has one;
 * returns the stored one, so that racing callers agree. */
char         *cdl_abtest_repo_assign     (PGconn      *conn,
                                          const char  *test_id,
                                          const char  *user_id,
                                          const char  *variant_key,
                                          GError     **error);

/* Adds events: @kinds and @values (JSON texts) of the same length. */
gboolean      cdl_abtest_repo_add_events (PGconn              *conn,
                                          const char          *test_id,
                                          const char          *user_id,
                                          const char          *variant_key,
                                          const char * const  *kinds,
                                          const char * const  *values,
                                          GError             **error);

typedef struct
{
  gint64  users;
  gint64  labels;
  double  decision_median;   /* NAN when decision_n is 0 */
  gint64  decision_n;
  double  wait_median;
  gint64  wait_n;
  gint64  prefetch_hits;
  gint64  prefetch_misses;
} CdlAbVariantResult;

/* Figures of each of @keys (in that order) in the test; labels are the
 * annotations of the variant's users sent with that variant_key. Returns
 * an array of g_strv_length (@keys) results, free with g_free(). */
CdlAbVariantResult *cdl_abtest_repo_results (PGconn              *conn,
                                             const char          *test_id,
                                             const char * const  *keys,
                                             GError             **error);

G_END_DECLS
