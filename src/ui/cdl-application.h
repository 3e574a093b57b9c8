/* cdl-application.h: the desktop program's GtkApplication
 *
 * Reads the settings, starts one CdlInstance (embedded or configured
 * database, services, health monitor) off the main thread and tells its
 * windows when that is done or why it failed.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "services/cdl-demo-service.h"
#include "services/cdl-instance.h"

G_BEGIN_DECLS

typedef enum
{
  CDL_APPLICATION_STATE_STARTING,
  CDL_APPLICATION_STATE_READY,
  CDL_APPLICATION_STATE_FAILED,
} CdlApplicationState;

#define CDL_TYPE_APPLICATION_STATE (cdl_application_state_get_type ())
GType cdl_application_state_get_type (void);

#define CDL_TYPE_APPLICATION (cdl_application_get_type ())

G_DECLARE_FINAL_TYPE (CdlApplication, cdl_application, CDL, APPLICATION, AdwApplication)

CdlApplication      *cdl_application_new                (void);

CdlApplicationState  cdl_application_get_state          (CdlApplication *self);
/* Why the last start failed; NULL unless the state is FAILED. */
const GError        *cdl_application_get_start_error    (CdlApplication *self);

/* The running instance, or NULL before startup has begun. Its services may
 * be used once the state is READY. Front ends that live beside the windows
 * (the embedded REST server) start from here. */
CdlInstance         *cdl_application_get_instance       (CdlApplication *self);

GSettings           *cdl_application_get_settings       (CdlApplication *self);
CdlSecretStore      *cdl_application_get_secret_store   (CdlApplication *self);

/* One line for people: where the data lives, never with a password. */
const char          *cdl_application_get_database_label (CdlApplication *self);

/* Whether the instance runs (or is starting) its own embedded cluster. */
gboolean             cdl_application_uses_embedded_database (CdlApplication *self);

/* Stops the instance that failed to start and starts a new one with the
 * current settings. */
void                 cdl_application_restart_instance   (CdlApplication *self);

/* The local simulated worker of "Start a Demo Worker", made on first use
 * once the instance is READY (NULL before); stopped when the app quits. */
CdlDemoService      *cdl_application_get_demo_service   (CdlApplication *self);

G_END_DECLS
