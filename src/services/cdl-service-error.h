/* cdl-service-error.h: the errors a use case reports to its callers
 *
 * The REST layer maps each code to an HTTP status; the desktop shows the
 * message as it is, so messages are sentences a person can act on.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define CDL_SERVICE_ERROR (cdl_service_error_quark ())

typedef enum
{
  CDL_SERVICE_ERROR_INVALID,            /* 400: bad input, message names the field */
  CDL_SERVICE_ERROR_UNAUTHORIZED,       /* 401 */
  CDL_SERVICE_ERROR_FORBIDDEN,          /* 403 */
  CDL_SERVICE_ERROR_NOT_FOUND,          /* 404 */
  CDL_SERVICE_ERROR_CONFLICT,           /* 409: state conflict */
  CDL_SERVICE_ERROR_NO_HEALTHY_WORKER,  /* 409 */
  CDL_SERVICE_ERROR_TOO_LARGE,          /* 413 */
  CDL_SERVICE_ERROR_RATE_LIMITED,       /* 429 */
  CDL_SERVICE_ERROR_UNAVAILABLE,        /* 503: database or storage down */
  CDL_SERVICE_ERROR_FAILED,             /* 500 */
  CDL_SERVICE_ERROR_GONE,               /* 410: existed, no longer offered */
} CdlServiceError;

GQuark   cdl_service_error_quark   (void);

/* Turns an error from a lower layer (CDL_INPUT_ERROR, CDL_DB_ERROR, ...)
 * into a CDL_SERVICE_ERROR in place, keeping or rewording the message.
 * Already-service errors pass through. */
void     cdl_service_error_translate (GError **error);

/* HTTP status for a CDL_SERVICE_ERROR code (500 for anything else). */
guint    cdl_service_error_http_status (const GError *error);

G_END_DECLS
