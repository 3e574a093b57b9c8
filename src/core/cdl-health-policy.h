/* cdl-health-policy.h: when a worker's health changes
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "core/cdl-worker.h"

G_BEGIN_DECLS

/* Two consecutive failed probes turn a worker UNHEALTHY; one clean probe
 * turns it HEALTHY again. */
#define CDL_HEALTH_FAILURES_TO_UNHEALTHY 2

typedef struct
{
  CdlWorkerStatus status;
  int             consecutive_failures;
} CdlHealthState;

/* Returns the state after a probe whose outcome is @probe_ok. */
CdlHealthState cdl_health_policy_apply (CdlHealthState state,
                                        gboolean       probe_ok);

G_END_DECLS
