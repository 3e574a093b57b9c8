/* cdl-pairing-dialog.h: a QR code that signs a phone in as an annotator
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "services/cdl-auth-service.h"

G_BEGIN_DECLS

#define CDL_TYPE_PAIRING_DIALOG (cdl_pairing_dialog_get_type ())

G_DECLARE_FINAL_TYPE (CdlPairingDialog, cdl_pairing_dialog, CDL, PAIRING_DIALOG, AdwWindow)

/* Asks @auth for a pairing code as soon as it is shown. The link points at
 * the REST server on @port: on 127.0.0.1, or on this computer's address on
 * the local network when the "server-listen-lan" key of @settings is on
 * (the switch in the dialog sets it). */
CdlPairingDialog *cdl_pairing_dialog_new      (GtkWindow        *parent,
                                               CdlAuthService   *auth,
                                               GSettings        *settings,
                                               guint             port);

/* Requests a new code; the old one stays valid until it expires. */
void              cdl_pairing_dialog_refresh  (CdlPairingDialog *self);

/* The link of the current code, NULL while none is shown. */
const char       *cdl_pairing_dialog_get_url  (CdlPairingDialog *self);

/* The QR code of @text: black modules on white, @scale pixels each, with
 * the four-module quiet zone; NULL (and @error set) when it does not fit. */
GdkTexture       *cdl_qr_texture_new          (const char       *text,
                                               guint             scale,
                                               GError          **error);

/* This computer's first IPv4 address on a network (not loopback), or
 * NULL when it has none. */
char             *cdl_lan_address             (void);

G_END_DECLS
