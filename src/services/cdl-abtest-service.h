/* cdl-abtest-service.h: A/B tests of the annotation page
 *
 * A test has variants {key, weight, config}; an annotator is placed in one
 * by a stable hash of (test, user) over the cumulative weights (see
 * core/cdl-abtest.h) and stays there: the placement is stored at the first
 * assign, so later calls, other instances and changed weights agree. Once
 * a test expired, its users keep their variant and nobody new joins.
 *
 * Results are delivered on the thread-default main context of the caller.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "core/cdl-abtest.h"
#include "db/cdl-db.h"

G_BEGIN_DECLS

/* Events per POST /api/ab-events. */
#define CDL_ABTEST_EVENTS_MAX 100

typedef struct
{
  char         *test_id;
  char         *test_name;
  CdlAbVariant *variant;
} CdlAbAssignment;

void      cdl_ab_assignment_free    (CdlAbAssignment *assignment);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlAbAssignment, cdl_ab_assignment_free)

/* {test_id, test_name, variant, config} */
JsonNode *cdl_ab_assignment_to_json (const CdlAbAssignment *assignment);

#define CDL_TYPE_ABTEST_SERVICE (cdl_abtest_service_get_type ())

G_DECLARE_FINAL_TYPE (CdlAbtestService, cdl_abtest_service, CDL, ABTEST_SERVICE, GObject)

CdlAbtestService *cdl_abtest_service_new (CdlDb *db);

/* Creates a test from {name, variants, expires_at}: errors name the
 * field (CDL_SERVICE_ERROR_INVALID), a taken name is
 * CDL_SERVICE_ERROR_CONFLICT. Returns the test as JSON: {id, name,
 * variants, expires_at, created_at, expired}. */
void      cdl_abtest_service_create_async   (CdlAbtestService     *self,
                                             JsonNode             *body,
                                             GCancellable         *cancellable,
                                             GAsyncReadyCallback   callback,
                                             gpointer              user_data);
JsonNode *cdl_abtest_service_create_finish  (CdlAbtestService     *self,
                                             GAsyncResult         *result,
                                             GError              **error);

/* {"tests": [...]} */
void      cdl_abtest_service_list_async     (CdlAbtestService     *self,
                                             GCancellable         *cancellable,
                                             GAsyncReadyCallback   callback,
                                             gpointer              user_data);
JsonNode *cdl_abtest_service_list_finish    (CdlAbtestService     *self,
                                             GAsyncResult         *result,
                                             GError              **error);

/* The variant of @user_id in the test @test_name, placing the user first
 * if needed. CDL_SERVICE_ERROR_NOT_FOUND for an unknown test or user,
 * CDL_SERVICE_ERROR_GONE for a new user of an expired test. */
void             cdl_abtest_service_assign_async  (CdlAbtestService     *self,
                                                   const char           *test_name,
                                                   const char           *user_id,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
CdlAbAssignment *cdl_abtest_service_assign_finish (CdlAbtestService     *self,
                                                   GAsyncResult         *result,
                                                   GError              **error);
/* The same, blocking (desktop tools, tests). */
CdlAbAssignment *cdl_abtest_service_assign_sync   (CdlAbtestService     *self,
                                                   const char           *test_name,
                                                   const char           *user_id,
                                                   GCancellable         *cancellable,
                                                   GError              **error);

/* The user's stored variant, without placing anyone: NULL with no error
 * when the user is not in the test; CDL_SERVICE_ERROR_NOT_FOUND for an
 * unknown test. */
void             cdl_abtest_service_lookup_async  (CdlAbtestService     *self,
                                                   const char           *test_name,
                                                   const char           *user_id,
                                                   GCancellable         *cancellable,
                                                   GAsyncReadyCallback   callback,
                                                   gpointer              user_data);
CdlAbAssignment *cdl_abtest_service_lookup_finish (CdlAbtestService     *self,
                                                   GAsyncResult         *result,
                                                   GError              **error);

/* Records {test_name, events: [{kind, value}]} of @user_id under the
 * user's variant: kind "decision" or "image_wait" with value {ms,
 * batch_id?}, or "prefetch" with value {hit}. At most
 * CDL_ABTEST_EVENTS_MAX; a user not in the test is
 * CDL_SERVICE_ERROR_CONFLICT. Returns how many were stored. */
void      cdl_abtest_service_record_async   (CdlAbtestService     *self,
                                             const char           *user_id,
                                             JsonNode             *body,
                                             GCancellable         *cancellable,
                                             GAsyncReadyCallback   callback,
                                             gpointer              user_data);
gint64    cdl_abtest_service_record_finish  (CdlAbtestService     *self,
                                             GAsyncResult         *result,
                                             GError              **error);

/* {test, variants: [{key, users, labels, decision_ms: {median, n},
 * image_wait_ms: {median, n}, prefetch: {hits, misses}}]}; a median is
 * null when its n is 0. */
void      cdl_abtest_service_results_async  (CdlAbtestService     *self,
                                             const char           *test_id,
                                             GCancellable         *cancellable,
                                             GAsyncReadyCallback   callback,
                                             gpointer              user_data);
JsonNode *cdl_abtest_service_results_finish (CdlAbtestService     *self,
                                             GAsyncResult         *result,
                                             GError              **error);

G_END_DECLS
