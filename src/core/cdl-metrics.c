/* cdl-metrics.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-metrics"

#include "config.h"

#include <gio/gio.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "core/cdl-metrics.h"

static const double default_buckets[] = {
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

typedef struct
{
  double  value;     /* counters and gauges */
  guint64 *counts;   /* histograms: one per bucket, not cumulative */
  guint64 count;
  double  sum;
} Series;

typedef struct
{
  char          *name;
  char          *help;
  CdlMetricType  type;
  double        *buckets;
  guint          n_buckets;
  GHashTable    *series;   /* labels -> Series */
} Family;

struct _CdlMetrics
{
  GMutex      lock;
  GPtrArray  *families;    /* Family, in declaration order */
  GHashTable *by_name;     /* name -> Family */
};

static void
series_free (gpointer data)
{
  Series *series = data;

  g_free (series->counts);
  g_free (series);
}

static void
family_free (gpointer data)
{
  Family *family = data;

  g_free (family->name);
  g_free (family->help);
  g_free (family->buckets);
  g_hash_table_unref (family->series);
  g_free (family);
}

CdlMetrics *
cdl_metrics_new (void)
{
  CdlMetrics *self = g_new0 (CdlMetrics, 1);

  g_mutex_init (&self->lock);
  self->families = g_ptr_array_new_with_free_func (family_free);
  self->by_name = g_hash_table_new (g_str_hash, g_str_equal);

  return self;
}

void
cdl_metrics_free (CdlMetrics *self)
{
  if (self == NULL)
    return;

  g_hash_table_unref (self->by_name);
  g_ptr_array_unref (self->families);
  g_mutex_clear (&self->lock);
  g_free (self);
}

/* Called with the lock held. */
static Family *
family_lookup (CdlMetrics    *self,
               const char    *name,
               CdlMetricType  type,
               const char    *help,
               const double  *buckets,
               guint          n_buckets)
{
  Family *family = g_hash_table_lookup (self->by_name, name);

  if (family != NULL)
    {
      if (help != NULL && *help != '\0' && (family->help == NULL || *family->help == '\0'))
        {
          g_free (family->help);
          family->help = g_strdup (help);
        }
      return family;
    }

  if (buckets == NULL)
    {
      buckets = default_buckets;
      n_buckets = G_N_ELEMENTS (default_buckets);
    }

  family = g_new0 (Family, 1);
  family->name = g_strdup (name);
  family->help = g_strdup (help ? help : "");
  family->type = type;
  if (type == CDL_METRIC_HISTOGRAM)
    {
      family->buckets = g_memdup2 (buckets, n_buckets * sizeof (double));
      family->n_buckets = n_buckets;
    }
  family->series = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, series_free);
  g_ptr_array_add (self->families, family);
  g_hash_table_insert (self->by_name, family->name, family);

  return family;
}

static Series *
series_lookup (Family     *family,
               const char *labels)
{
  Series *series;

  if (labels == NULL)
    labels = "";

  series = g_hash_table_lookup (family->series, labels);
  if (series == NULL)
    {
      series = g_new0 (Series, 1);
      if (family->type == CDL_METRIC_HISTOGRAM)
        series->counts = g_new0 (guint64, family->n_buckets);
      g_hash_table_insert (family->series, g_strdup (labels), series);
    }

  return series;
}

void
cdl_metrics_declare (CdlMetrics    *self,
                     const char    *name,
                     CdlMetricType  type,
                     const char    *help,
                     const double  *buckets,
                     guint          n_buckets)
{
  g_return_if_fail (self != NULL && name != NULL);

  g_mutex_lock (&self->lock);
  family_lookup (self, name, type, help, buckets, n_buckets);
  g_mutex_unlock (&self->lock);
}

static void
update (CdlMetrics    *self,
        const char    *name,
        CdlMetricType  type,
        const char    *labels,
        double         value)
{
  Family *family;
  Series *series;

  g_return_if_fail (self != NULL && name != NULL);

  g_mutex_lock (&self->lock);
  family = family_lookup (self, name, type, NULL, NULL, 0);
  series = series_lookup (family, labels);

  switch (family->type)
    {
    case CDL_METRIC_COUNTER:
      if (value > 0)
        series->value += value;
      break;

    case CDL_METRIC_GAUGE:
      if (type == CDL_METRIC_COUNTER)
        series->value += value;
      else
        series->value = value;
      break;

    case CDL_METRIC_HISTOGRAM:
      for (guint i = 0; i < family->n_buckets; i++)
        if (value <= family->buckets[i])
          {
            series->counts[i]++;
            break;
          }
      series->count++;
      series->sum += value;
      break;

    default:
      g_assert_not_reached ();
    }
  g_mutex_unlock (&self->lock);
}

void
cdl_metrics_add (CdlMetrics *self,
                 const char *name,
                 const char *labels,
                 double      amount)
{
  update (self, name, CDL_METRIC_COUNTER, labels, amount);
}

void
cdl_metrics_inc (CdlMetrics *self,
                 const char *name,
                 const char *labels)
{
  update (self, name, CDL_METRIC_COUNTER, labels, 1);
}

void
cdl_metrics_set (CdlMetrics *self,
                 const char *name,
                 const char *labels,
                 double      value)
{
  update (self, name, CDL_METRIC_GAUGE, labels, value);
}

void
cdl_metrics_observe (CdlMetrics *self,
                     const char *name,
                     const char *labels,
                     double      value)
{
  update (self, name, CDL_METRIC_HISTOGRAM, labels, value);
}

void
cdl_metrics_reset (CdlMetrics *self,
                   const char *name)
{
  Family *family;

  g_return_if_fail (self != NULL && name != NULL);

  g_mutex_lock (&self->lock);
  family = g_hash_table_lookup (self->by_name, name);
  if (family != NULL)
    g_hash_table_remove_all (family->series);
  g_mutex_unlock (&self->lock);
}

double
cdl_metrics_get (CdlMetrics *self,
                 const char *name,
                 const char *labels)
{
  Family *family;
  Series *series = NULL;
  double value;

  g_return_val_if_fail (self != NULL && name != NULL, 0);

  g_mutex_lock (&self->lock);
  family = g_hash_table_lookup (self->by_name, name);
  if (family != NULL)
    series = g_hash_table_lookup (family->series, labels ? labels : "");
  value = series == NULL ? 0
          : family->type == CDL_METRIC_HISTOGRAM ? (double)series->count : series->value;
  g_mutex_unlock (&self->lock);

  return value;
}

static void
append_number (GString *out,
               double   value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (isinf (value))
    g_string_append (out, value > 0 ? "+Inf" : "-Inf");
  else if (isnan (value))
    g_string_append (out, "NaN");
  else if (value == floor (value) && fabs (value) < 1e15)
    g_string_append_printf (out, "%.0f", value);
  else
    g_string_append (out, g_ascii_dtostr (buf, sizeof buf, value));
}

/* name{labels,extra} value */
static void
append_sample (GString    *out,
               const char *name,
               const char *suffix,
               const char *labels,
               const char *extra,
               double      value)
{
  gboolean has_labels = labels != NULL && *labels != '\0';

  g_string_append (out, name);
  g_string_append (out, suffix);
  if (has_labels || extra != NULL)
    {
      g_string_append_c (out, '{');
      if (has_labels)
        g_string_append (out, labels);
      if (has_labels && extra != NULL)
        g_string_append_c (out, ',');
      if (extra != NULL)
        g_string_append (out, extra);
      g_string_append_c (out, '}');
    }
  g_string_append_c (out, ' ');
  append_number (out, value);
  g_string_append_c (out, '\n');
}

static void
append_help (GString    *out,
             const char *help)
{
  for (const char *p = help; *p; p++)
    {
      if (*p == '\\')
        g_string_append (out, "\\\\");
      else if (*p == '\n')
        g_string_append (out, "\\n");
      else
        g_string_append_c (out, *p);
    }
}

static int
compare_keys (gconstpointer a,
              gconstpointer b,
              gpointer      user_data)
{
  return strcmp (*(const char * const *)a, *(const char * const *)b);
}

static void
render_family (GString      *out,
               const Family *family)
{
  static const char * const type_names[] = { "counter", "gauge", "histogram" };
  g_autofree const char **keys = NULL;
  guint n_keys = 0;

  if (family->help != NULL && *family->help != '\0')
    {
      g_string_append_printf (out, "# HELP %s ", family->name);
      append_help (out, family->help);
      g_string_append_c (out, '\n');
    }
  g_string_append_printf (out, "# TYPE %s %s\n", family->name, type_names[family->type]);

  /* Sorted, so that two scrapes list the series alike. */
  keys = (const char **)g_hash_table_get_keys_as_array (family->series, &n_keys);
  g_qsort_with_data (keys, n_keys, sizeof (char *), compare_keys, NULL);

  for (guint i = 0; i < n_keys; i++)
    {
      const Series *series = g_hash_table_lookup (family->series, keys[i]);
      guint64 cumulative = 0;

      if (family->type != CDL_METRIC_HISTOGRAM)
        {
          append_sample (out, family->name, "", keys[i], NULL, series->value);
          continue;
        }

      for (guint b = 0; b < family->n_buckets; b++)
        {
          char bound[G_ASCII_DTOSTR_BUF_SIZE];
          g_autofree char *le = NULL;

          cumulative += series->counts[b];
          le = g_strdup_printf ("le=\"%s\"",
                                g_ascii_formatd (bound, sizeof bound, "%g",
                                                 family->buckets[b]));
          append_sample (out, family->name, "_bucket", keys[i], le, (double)cumulative);
        }
      append_sample (out, family->name, "_bucket", keys[i], "le=\"+Inf\"",
                     (double)series->count);
      append_sample (out, family->name, "_sum", keys[i], NULL, series->sum);
      append_sample (out, family->name, "_count", keys[i], NULL, (double)series->count);
    }
}

char *
cdl_metrics_render (CdlMetrics *self)
{
  GString *out = g_string_new (NULL);

  g_return_val_if_fail (self != NULL, NULL);

  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->families->len; i++)
    render_family (out, g_ptr_array_index (self->families, i));
  g_mutex_unlock (&self->lock);

  return g_string_free (out, FALSE);
}

char *
cdl_metrics_labels (const char *first_key,
                    ...)
{
  GString *out = g_string_new (NULL);
  const char *key = first_key;
  va_list args;

  va_start (args, first_key);
  while (key != NULL)
    {
      const char *value = va_arg (args, const char *);

      if (out->len > 0)
        g_string_append_c (out, ',');
      g_string_append_printf (out, "%s=\"", key);
      for (const char *p = value ? value : ""; *p; p++)
        {
          if (*p == '\\' || *p == '"')
            g_string_append_c (out, '\\');
          if (*p == '\n')
            g_string_append (out, "\\n");
          else
            g_string_append_c (out, *p);
        }
      g_string_append_c (out, '"');
      key = va_arg (args, const char *);
    }
  va_end (args);

  return g_string_free (out, FALSE);
}

static gboolean
is_name_char (char c,
              gboolean first)
{
  return g_ascii_isalpha (c) || c == '_' || c == ':' || (!first && g_ascii_isdigit (c));
}

/* Reads {k="v",…} at *p; advances past it. */
static gboolean
skip_labels (const char **p)
{
  const char *s = *p + 1;

  while (*s != '}')
    {
      if (!is_name_char (*s, TRUE))
        return FALSE;
      while (is_name_char (*s, FALSE))
        s++;
      if (*s++ != '=' || *s++ != '"')
        return FALSE;
      while (*s != '"')
        {
          if (*s == '\0')
            return FALSE;
          if (*s == '\\')
            {
              s++;
              if (*s != '\\' && *s != '"' && *s != 'n')
                return FALSE;
            }
          s++;
        }
      s++;
      if (*s == ',')
        s++;
      else if (*s != '}')
        return FALSE;
    }
  *p = s + 1;

  return TRUE;
}

static gboolean
check_line (const char *line)
{
  const char *p = line;
  char *end = NULL;

  if (*line == '\0' || *line == '#')
    return TRUE;

  if (!is_name_char (*p, TRUE))
    return FALSE;
  while (is_name_char (*p, FALSE))
    p++;
  if (*p == '{' && !skip_labels (&p))
    return FALSE;
  if (*p++ != ' ')
    return FALSE;

  if (strcmp (p, "+Inf") == 0 || strcmp (p, "-Inf") == 0 || strcmp (p, "NaN") == 0)
    return TRUE;
  g_ascii_strtod (p, &end);

  /* An optional timestamp may follow the value. */
  if (end != p && *end == ' ')
    {
      const char *ts = end + 1;

      g_ascii_strtoll (ts, &end, 10);
      return end != ts && *end == '\0';
    }

  return end != p && *end == '\0';
}

gboolean
cdl_metrics_check_text (const char  *text,
                        GError     **error)
{
  g_auto(GStrv) lines = NULL;

  g_return_val_if_fail (text != NULL, FALSE);

  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (!check_line (lines[i]))
      {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                     "Line %u is not a comment nor `name{labels} value`: %s", i + 1, lines[i]);
        return FALSE;
      }

  return TRUE;
}

static const double ms_buckets[] = {
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
};

static const double ingest_buckets[] = {
  0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
};

CdlMetrics *
cdl_metrics_get_default (void)
{
  static gsize metrics;

  if (g_once_init_enter (&metrics))
    {
      CdlMetrics *m = cdl_metrics_new ();

      cdl_metrics_declare (m, "cdl_workers", CDL_METRIC_GAUGE,
                           "Enabled workers by health status", NULL, 0);
      cdl_metrics_declare (m, "cdl_worker_queue_depth", CDL_METRIC_GAUGE,
                           "Queue length last seen on each enabled worker", NULL, 0);
      cdl_metrics_declare (m, "cdl_jobs_submitted_total", CDL_METRIC_COUNTER,
                           "Jobs this instance submitted to a worker", NULL, 0);
      cdl_metrics_declare (m, "cdl_jobs_succeeded_total", CDL_METRIC_COUNTER,
                           "Jobs this instance saw finish with every image stored", NULL, 0);
      cdl_metrics_declare (m, "cdl_jobs_failed_total", CDL_METRIC_COUNTER,
                           "Jobs this instance saw fail for good", NULL, 0);
      cdl_metrics_declare (m, "cdl_jobs_retried_total", CDL_METRIC_COUNTER,
                           "Jobs this instance put back in the queue for another try",
                           NULL, 0);
      cdl_metrics_declare (m, "cdl_images_stored_total", CDL_METRIC_COUNTER,
                           "Images this instance downloaded and stored", NULL, 0);
      cdl_metrics_declare (m, "cdl_images_done", CDL_METRIC_GAUGE,
                           "Generations in state done, all tasks", NULL, 0);
      cdl_metrics_declare (m, "cdl_annotations", CDL_METRIC_GAUGE,
                           "Annotations stored, all tasks", NULL, 0);
      cdl_metrics_declare (m, "cdl_ingest_seconds", CDL_METRIC_HISTOGRAM,
                           "Time to download, hash and store one image",
                           ingest_buckets, G_N_ELEMENTS (ingest_buckets));
      cdl_metrics_declare (m, "cdl_thumbnail_seconds", CDL_METRIC_HISTOGRAM,
                           "Time to make one thumbnail",
                           ingest_buckets, G_N_ELEMENTS (ingest_buckets));
      cdl_metrics_declare (m, "cdl_http_requests_total", CDL_METRIC_COUNTER,
                           "HTTP requests by route pattern, method and status", NULL, 0);
      cdl_metrics_declare (m, "cdl_http_request_seconds", CDL_METRIC_HISTOGRAM,
                           "HTTP request latency by route pattern",
                           ms_buckets, G_N_ELEMENTS (ms_buckets));
      cdl_metrics_declare (m, "cdl_db_pool_connections", CDL_METRIC_GAUGE,
                           "Database pool connections: size and in use", NULL, 0);
      cdl_metrics_declare (m, "cdl_alerts_firing", CDL_METRIC_GAUGE,
                           "Alerts firing, by kind", NULL, 0);

      /* Series without labels show from the start, at zero. */
      for (guint i = 0; i < m->families->len; i++)
        {
          Family *family = g_ptr_array_index (m->families, i);

          if (family->type == CDL_METRIC_COUNTER && !g_str_has_prefix (family->name, "cdl_http"))
            series_lookup (family, NULL);
        }

      g_once_init_leave (&metrics, (gsize)m);
    }

  return (CdlMetrics *)metrics;
}
