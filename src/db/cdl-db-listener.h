/* cdl-db-listener.h: PostgreSQL LISTEN/NOTIFY on the main loop
 *
 * One dedicated connection per instance, watched on the main context, so
 * that every open window hears about changes that any instance makes.
 * After the connection breaks it is re-opened with a growing delay, and
 * "resync" tells listeners that notifications may have been missed.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define CDL_TYPE_DB_LISTENER (cdl_db_listener_get_type ())

G_DECLARE_FINAL_TYPE (CdlDbListener, cdl_db_listener, CDL, DB_LISTENER, GObject)

/* @channels: the NOTIFY channels to LISTEN on (our own constant names). */
CdlDbListener *cdl_db_listener_new          (const char         *conninfo,
                                             const char * const *channels);
/* Connects in a thread, then watches the socket on the thread-default main
 * context of the caller. */
void           cdl_db_listener_start        (CdlDbListener      *self);
void           cdl_db_listener_stop         (CdlDbListener      *self);
gboolean       cdl_db_listener_is_connected (CdlDbListener      *self);

/* Signals:
 *   "notification" (const char *channel, const char *payload)
 *   "resync" (): the connection was re-established after a break; reload
 *                whatever the notifications would have told.
 */

G_END_DECLS
