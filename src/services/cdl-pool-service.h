/* cdl-pool-service.h: the variable pools' use cases
 *
 * Shared by the REST handlers and the desktop: list, show a version,
 * create, edit (a new version) and sample. Results are delivered on the
 * thread-default main context of the caller.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "core/cdl-pool.h"
#include "db/cdl-db.h"

G_BEGIN_DECLS

#define CDL_TYPE_POOL_SERVICE (cdl_pool_service_get_type ())

G_DECLARE_FINAL_TYPE (CdlPoolService, cdl_pool_service, CDL, POOL_SERVICE, GObject)

/* What a sample returns: @count entries drawn from one pool version. */
typedef struct
{
  CdlPool  *pool;       /* the version sampled, with all its items */
  guint64   rng_seed;   /* the seed used (given or drawn) */
  guint64   available;  /* how many distinct entries the pool has */
  char    **items;      /* the sample, in draw order */
} CdlPoolSample;

void cdl_pool_sample_free (CdlPoolSample *sample);
/* {pool_id, name, mode, version, rng_seed, available, count, items} */
JsonNode *cdl_pool_sample_to_json (const CdlPoolSample *sample);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlPoolSample, cdl_pool_sample_free)

CdlPoolService *cdl_pool_service_new (CdlDb *db);

/* GPtrArray of CdlPool (current versions, with items). */
void       cdl_pool_service_list_async    (CdlPoolService       *self,
                                           GCancellable         *cancellable,
                                           GAsyncReadyCallback   callback,
                                           gpointer              user_data);
GPtrArray *cdl_pool_service_list_finish   (CdlPoolService       *self,
                                           GAsyncResult         *result,
                                           GError              **error);

/* @version: 0 for the current one. NOT_FOUND for an unknown pool or
 * version. @id may also be the pool's name. */
void       cdl_pool_service_get_async     (CdlPoolService       *self,
                                           const char           *id,
                                           int                   version,
                                           GCancellable         *cancellable,
                                           GAsyncReadyCallback   callback,
                                           gpointer              user_data);
CdlPool   *cdl_pool_service_get_finish    (CdlPoolService       *self,
                                           GAsyncResult         *result,
                                           GError              **error);

/* Validates @input (400-class errors name the field) and inserts the pool
 * at version 1. A taken name is a CONFLICT. Takes ownership of @input, as
 * does _update_async. */
void       cdl_pool_service_create_async  (CdlPoolService       *self,
                                           CdlPoolInput         *input,
                                           GCancellable         *cancellable,
                                           GAsyncReadyCallback   callback,
                                           gpointer              user_data);
CdlPool   *cdl_pool_service_create_finish (CdlPoolService       *self,
                                           GAsyncResult         *result,
                                           GError              **error);

/* Makes a new version with the items and/or mode of @input; tasks keep
 * the versions they pinned. */
void       cdl_pool_service_update_async  (CdlPoolService       *self,
                                           const char           *id,
                                           CdlPoolInput         *input,
                                           GCancellable         *cancellable,
                                           GAsyncReadyCallback   callback,
                                           gpointer              user_data);
CdlPool   *cdl_pool_service_update_finish (CdlPoolService       *self,
                                           GAsyncResult         *result,
                                           GError              **error);

/* Draws @count distinct items from the pool at @version (0: current),
 * deterministically from @rng_seed when @has_seed (else from a fresh
 * one, reported in the result). More than the pool holds is INVALID with a
 * message that says how many exist. */
void       cdl_pool_service_sample_async  (CdlPoolService       *self,
                                           const char           *id,
                                           int                   version,
                                           guint                 count,
                                           gboolean              has_seed,
                                           guint64               rng_seed,
                                           GCancellable         *cancellable,
                                           GAsyncReadyCallback   callback,
                                           gpointer              user_data);
CdlPoolSample *cdl_pool_service_sample_finish (CdlPoolService   *self,
                                               GAsyncResult     *result,
                                               GError          **error);

/* Signals (emitted on the main context the service was created in):
 *   "pool-changed" (CdlPool *pool): after a create or edit by this
 *   instance.
 */

G_END_DECLS
