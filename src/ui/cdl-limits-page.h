/* cdl-limits-page.h: the generation limits, a page of the preferences
 *
 * Reads the admin settings that every instance shares through the
 * settings service and saves them back; a refused value is shown on its
 * row.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "services/cdl-settings-service.h"

G_BEGIN_DECLS

#define CDL_TYPE_LIMITS_PAGE (cdl_limits_page_get_type ())

G_DECLARE_FINAL_TYPE (CdlLimitsPage, cdl_limits_page, CDL, LIMITS_PAGE, AdwPreferencesPage)

CdlLimitsPage *cdl_limits_page_new  (CdlSettingsService *service);

/* Saves the fields as they are; the same as the Save button. */
void           cdl_limits_page_save (CdlLimitsPage      *self);

G_END_DECLS
