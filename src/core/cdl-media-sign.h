/* cdl-media-sign.h: signed, expiring URLs for stored images
 *
 * A media URL is /media/{key}?exp={unix seconds}&sig={hex}, where sig is
 * HMAC-SHA256 over "{key}\n{exp}" with a secret of the installation.
 * Anyone holding the URL may fetch the object until exp; nobody can make a
 * URL for another key or a later expiry without the secret. Instances
 * behind one CDN or load balancer must share the secret, or a URL made by
 * one is refused by the others.
 *
 * Pure and thread-safe.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The secret is at least this long, in bytes. */
#define CDL_MEDIA_KEY_MIN_LENGTH 16

/* How long a URL stays valid at least, in seconds, and the step expiries
 * are rounded up to: URLs made within one step are identical, so browsers
 * and a CDN can cache them. */
#define CDL_MEDIA_URL_LIFETIME_S 3600

#define CDL_MEDIA_SIGN_ERROR (cdl_media_sign_error_quark ())

typedef enum
{
  CDL_MEDIA_SIGN_ERROR_MALFORMED,  /* exp or sig missing or not well formed */
  CDL_MEDIA_SIGN_ERROR_EXPIRED,
  CDL_MEDIA_SIGN_ERROR_FORGED,     /* the signature does not match */
} CdlMediaSignError;

GQuark    cdl_media_sign_error_quark  (void);

/* The expiry a URL made at @now (unix seconds) gets: the end of the next
 * full lifetime step, so between one and two lifetimes ahead. */
gint64    cdl_media_sign_expiry_for   (gint64        now);

/* Lower-case hex HMAC-SHA256 of "{object_key}\n{expires}". */
char     *cdl_media_sign              (GBytes       *secret,
                                       const char   *object_key,
                                       gint64        expires);

/* "{base}{escaped key}?exp=…&sig=…"; @base is "/media/" or a CDN's
 * "https://cdn.example.com/media/". */
char     *cdl_media_sign_url          (GBytes       *secret,
                                       const char   *base,
                                       const char   *object_key,
                                       gint64        expires);

/* Checks the query values @exp and @sig of a request for @object_key at
 * @now. The signature is compared in constant time. */
gboolean  cdl_media_verify            (GBytes       *secret,
                                       const char   *object_key,
                                       const char   *exp,
                                       const char   *sig,
                                       gint64        now,
                                       GError      **error);

/* TRUE when the two strings are equal; the time taken depends on their
 * lengths only, never on where they differ. */
gboolean  cdl_media_constant_time_equal (const char *a,
                                         const char *b);

G_END_DECLS
