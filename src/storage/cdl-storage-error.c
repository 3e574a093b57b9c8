/* cdl-storage-error.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-storage"

#include "config.h"

#include "storage/cdl-storage-error.h"

G_DEFINE_QUARK (cdl-storage-error-quark, cdl_storage_error)
