/* cdl-service-error.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <json-glib/json-glib.h>

#include "comfy/cdl-comfy-client.h"
#include "core/cdl-worker-input.h"
#include "db/cdl-pq.h"
#include "services/cdl-service-error.h"
#include "storage/cdl-storage-error.h"

G_DEFINE_QUARK (cdl-service-error-quark, cdl_service_error)

static CdlServiceError
code_for_db_error (int code)
{
  switch ((CdlDbError)code)
    {
    case CDL_DB_ERROR_NOT_FOUND:
      return CDL_SERVICE_ERROR_NOT_FOUND;
    case CDL_DB_ERROR_UNIQUE:
    case CDL_DB_ERROR_FROZEN:
      return CDL_SERVICE_ERROR_CONFLICT;
    case CDL_DB_ERROR_CONSTRAINT:
      return CDL_SERVICE_ERROR_INVALID;
    case CDL_DB_ERROR_CONNECTION:
    case CDL_DB_ERROR_EMBEDDED:
      return CDL_SERVICE_ERROR_UNAVAILABLE;
    case CDL_DB_ERROR_FAILED:
    default:
      return CDL_SERVICE_ERROR_FAILED;
    }
}

void
cdl_service_error_translate (GError **error)
{
  GError *e;
  CdlServiceError code;
  g_autofree char *message = NULL;

  if (error == NULL || *error == NULL)
    return;

  e = *error;
  if (e->domain == CDL_SERVICE_ERROR)
    return;

  if (e->domain == CDL_INPUT_ERROR || e->domain == JSON_PARSER_ERROR)
    code = CDL_SERVICE_ERROR_INVALID;
  else if (e->domain == CDL_DB_ERROR)
    code = code_for_db_error (e->code);
  else if (e->domain == CDL_STORAGE_ERROR)
    code = e->code == CDL_STORAGE_ERROR_INVALID_KEY
           || e->code == CDL_STORAGE_ERROR_UNSUPPORTED_FORMAT
           || e->code == CDL_STORAGE_ERROR_DECODE_FAILED
           || e->code == CDL_STORAGE_ERROR_IMAGE_TOO_LARGE
           ? CDL_SERVICE_ERROR_INVALID : CDL_SERVICE_ERROR_UNAVAILABLE;
  else if (g_error_matches (e, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    code = CDL_SERVICE_ERROR_UNAVAILABLE;
  else
    code = CDL_SERVICE_ERROR_FAILED;

  if (code == CDL_SERVICE_ERROR_UNAVAILABLE && e->domain == CDL_DB_ERROR)
    message = g_strdup_printf ("The database is unavailable: %s", e->message);
  else
    message = g_strdup (e->message);

  g_clear_error (error);
  g_set_error_literal (error, CDL_SERVICE_ERROR, code, message);
}

guint
cdl_service_error_http_status (const GError *error)
{
  if (error == NULL || error->domain != CDL_SERVICE_ERROR)
    return 500;

  switch ((CdlServiceError)error->code)
    {
    case CDL_SERVICE_ERROR_INVALID:
      return 400;
    case CDL_SERVICE_ERROR_UNAUTHORIZED:
      return 401;
    case CDL_SERVICE_ERROR_FORBIDDEN:
      return 403;
    case CDL_SERVICE_ERROR_NOT_FOUND:
      return 404;
    case CDL_SERVICE_ERROR_CONFLICT:
    case CDL_SERVICE_ERROR_NO_HEALTHY_WORKER:
      return 409;
    case CDL_SERVICE_ERROR_TOO_LARGE:
      return 413;
    case CDL_SERVICE_ERROR_RATE_LIMITED:
      return 429;
    case CDL_SERVICE_ERROR_GONE:
      return 410;
    case CDL_SERVICE_ERROR_UNAVAILABLE:
      return 503;
    case CDL_SERVICE_ERROR_FAILED:
    default:
      return 500;
    }
}
