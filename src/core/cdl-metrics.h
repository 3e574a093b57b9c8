/* cdl-metrics.h: a small registry of counters, gauges and histograms
 *
 * Families are named once with their type and help; each series of a
 * family is told apart by a label string such as `route="/api/tasks"`,
 * made with cdl_metrics_labels(). Histograms use fixed buckets.
 * cdl_metrics_render() writes the Prometheus text exposition format
 * (version 0.0.4). Every call is thread-safe.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  CDL_METRIC_COUNTER,
  CDL_METRIC_GAUGE,
  CDL_METRIC_HISTOGRAM,
} CdlMetricType;

typedef struct _CdlMetrics CdlMetrics;

CdlMetrics *cdl_metrics_new             (void);
void        cdl_metrics_free            (CdlMetrics         *self);
/* The process-wide registry, with the product's families declared. */
CdlMetrics *cdl_metrics_get_default     (void);

/* Declares a family; @buckets (ascending upper bounds, +Inf implied) only
 * for histograms, NULL for the default seconds buckets. Declaring again
 * is harmless. */
void        cdl_metrics_declare         (CdlMetrics         *self,
                                         const char         *name,
                                         CdlMetricType       type,
                                         const char         *help,
                                         const double       *buckets,
                                         guint               n_buckets);

/* @labels: NULL or a string from cdl_metrics_labels(). Using a family
 * that was never declared declares it with an empty help. */
void        cdl_metrics_add             (CdlMetrics         *self,
                                         const char         *name,
                                         const char         *labels,
                                         double              amount);
void        cdl_metrics_inc             (CdlMetrics         *self,
                                         const char         *name,
                                         const char         *labels);
void        cdl_metrics_set             (CdlMetrics         *self,
                                         const char         *name,
                                         const char         *labels,
                                         double              value);
void        cdl_metrics_observe         (CdlMetrics         *self,
                                         const char         *name,
                                         const char         *labels,
                                         double              value);
/* Drops every series of a gauge family (before setting it afresh from a
 * query, so that vanished subjects vanish). */
void        cdl_metrics_reset           (CdlMetrics         *self,
                                         const char         *name);
/* The value of one counter or gauge series, 0 when absent (tests). */
double      cdl_metrics_get             (CdlMetrics         *self,
                                         const char         *name,
                                         const char         *labels);

char       *cdl_metrics_render          (CdlMetrics         *self);

/* `k1="v1",k2="v2"` with the values escaped; NULL-terminated pairs. */
char       *cdl_metrics_labels          (const char         *first_key,
                                         ...) G_GNUC_NULL_TERMINATED;

/* Checks that @text reads as the text format: every line is empty, a
 * comment, or `name{labels} value`. FALSE with @error naming the first
 * bad line. */
gboolean    cdl_metrics_check_text      (const char         *text,
                                         GError            **error);

G_END_DECLS
