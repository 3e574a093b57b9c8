/* cdl-health-policy.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "core/cdl-health-policy.h"

CdlHealthState
cdl_health_policy_apply (CdlHealthState state,
                         gboolean       probe_ok)
{
  CdlHealthState next = state;

  if (probe_ok)
    {
      next.status = CDL_WORKER_STATUS_HEALTHY;
      next.consecutive_failures = 0;
      return next;
    }

  /* Saturate rather than overflow on a worker that stays down for years. */
  if (next.consecutive_failures < G_MAXINT)
    next.consecutive_failures++;

  if (next.consecutive_failures >= CDL_HEALTH_FAILURES_TO_UNHEALTHY)
    next.status = CDL_WORKER_STATUS_UNHEALTHY;

  return next;
}
