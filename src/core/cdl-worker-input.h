/* cdl-worker-input.h: validated fields of a worker create or update
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define CDL_INPUT_ERROR (cdl_input_error_quark ())

typedef enum
{
  CDL_INPUT_ERROR_INVALID,
} CdlInputError;

GQuark cdl_input_error_quark (void);

typedef enum
{
  CDL_WORKER_FIELD_NAME                = 1 << 0,
  CDL_WORKER_FIELD_BASE_URL            = 1 << 1,
  CDL_WORKER_FIELD_API_KEY             = 1 << 2,
  CDL_WORKER_FIELD_PRIORITY            = 1 << 3,
  CDL_WORKER_FIELD_MAX_CONCURRENT_JOBS = 1 << 4,
  CDL_WORKER_FIELD_TAGS                = 1 << 5,
  CDL_WORKER_FIELD_ENABLED             = 1 << 6,
} CdlWorkerFields;

typedef struct
{
  CdlWorkerFields   set;       /* which of the fields below were given */
  char             *name;
  char             *base_url;  /* normalised: no trailing slash */
  char             *api_key;   /* NULL or "" clears the key on update */
  int               priority;
  int               max_concurrent_jobs;
  char            **tags;
  gboolean          enabled;
} CdlWorkerInput;

/* Limits shared by the REST API and the desktop dialog. */
#define CDL_WORKER_NAME_MAX             128
#define CDL_WORKER_MAX_CONCURRENT_LIMIT 1024
#define CDL_WORKER_PRIORITY_LIMIT       1000000
#define CDL_WORKER_TAGS_MAX             32

CdlWorkerInput *cdl_worker_input_new        (void);
void            cdl_worker_input_free       (CdlWorkerInput  *input);

/* Parses a JSON body. @for_create requires name and base_url (spec 2.1's
 * POST); otherwise only the PATCH fields (enabled, priority,
 * max_concurrent_jobs, tags, plus name, base_url and api_key) are accepted.
 * Errors are CDL_INPUT_ERROR_INVALID with a message that starts with the
 * offending field's name. */
CdlWorkerInput *cdl_worker_input_from_json  (JsonNode        *node,
                                             gboolean         for_create,
                                             GError         **error);

/* Checks the fields that are set; used by the JSON parser and by the
 * desktop dialog, which fills the struct by hand. */
gboolean        cdl_worker_input_validate   (CdlWorkerInput  *input,
                                             gboolean         for_create,
                                             GError         **error);

/* Returns a normalised copy (scheme and host lower-cased, trailing slash
 * dropped) or NULL with an error naming base_url. Only http and https with
 * a host are accepted; no query, fragment or user info. */
char           *cdl_worker_normalize_base_url (const char     *url,
                                               GError        **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlWorkerInput, cdl_worker_input_free)

G_END_DECLS
