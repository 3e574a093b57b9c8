/* cdl-sampling.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-core"

#include "config.h"

#include <string.h>

#include "core/cdl-sampling.h"

G_DEFINE_QUARK (cdl-sampling-error-quark, cdl_sampling_error)

/* The generator ---------------------------------------------------------- */

static inline guint64
rotl (guint64 x,
      int     k)
{
  return (x << k) | (x >> (64 - k));
}

/* One step of splitmix64: advances *@x and returns the mixed output. */
static guint64
splitmix64 (guint64 *x)
{
  guint64 z;

  *x += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15);
  z = *x;
  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);

  return z ^ (z >> 31);
}

void
cdl_rng_init (CdlRng  *rng,
              guint64  seed,
              guint64  stream)
{
  guint64 x = seed;

  g_return_if_fail (rng != NULL);

  /* Another stream starts from the seed mixed with the stream number, so
   * that streams of nearby seeds do not overlap. */
  if (stream != 0)
    {
      guint64 s = stream;

      x ^= splitmix64 (&s);
    }

  for (guint i = 0; i < 4; i++)
    rng->s[i] = splitmix64 (&x);

  /* splitmix64 is a bijection of its counter, so four consecutive outputs
   * are never all zero; xoshiro's only forbidden state cannot occur. */
}

guint64
cdl_rng_next (CdlRng *rng)
{
  guint64 *s = rng->s;
  guint64 result = rotl (s[1] * 5, 7) * 9;
  guint64 t = s[1] << 17;

  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl (s[3], 45);

  return result;
}

guint64
cdl_rng_below (CdlRng  *rng,
               guint64  bound)
{
  unsigned __int128 m;
  guint64 low;

  g_return_val_if_fail (bound > 0, 0);

  /* Multiply-and-shift with rejection of the few values that would make
   * some results more likely than others. */
  m = (unsigned __int128) cdl_rng_next (rng) * bound;
  low = (guint64) m;
  if (low < bound)
    {
      guint64 threshold = (0 - bound) % bound;

      while (low < threshold)
        {
          m = (unsigned __int128) cdl_rng_next (rng) * bound;
          low = (guint64) m;
        }
    }

  return (guint64) (m >> 64);
}

guint64
cdl_rng_next_seed (CdlRng *rng)
{
  return cdl_rng_next (rng) >> 11;
}

void
cdl_rng_shuffle (CdlRng  *rng,
                 guint32 *items,
                 gsize    n)
{
  for (gsize i = n; i > 1; i--)
    {
      gsize j = (gsize) cdl_rng_below (rng, i);
      guint32 tmp = items[i - 1];

      items[i - 1] = items[j];
      items[j] = tmp;
    }
}

guint64
cdl_sampling_random_seed (void)
{
  guint64 high = g_random_int ();
  guint64 low = g_random_int ();

  return ((high << 32) | low) & CDL_SEED_MAX;
}

/* Drawing combinations ---------------------------------------------------- */

static gboolean
too_many (GError  **error,
          guint64   capacity,
          guint     count)
{
  g_set_error (error, CDL_SAMPLING_ERROR, CDL_SAMPLING_ERROR_TOO_MANY,
               "%u prompts were asked for, but the pools give only %" G_GUINT64_FORMAT
               " distinct ones", count, capacity);
  return FALSE;
}

guint64
cdl_sampling_capacity (const CdlSamplePool *pools,
                       guint                n_pools)
{
  guint64 product = 1;
  guint64 smallest = G_MAXUINT64;
  gboolean overflow = FALSE;

  for (guint p = 0; p < n_pools; p++)
    {
      guint64 n = pools[p].n_items;

      if (pools[p].mode == CDL_POOL_MODE_NO_REPLACEMENT)
        smallest = MIN (smallest, n);

      if (n == 0)
        product = 0;
      else if (!overflow && product > G_MAXUINT64 / n)
        overflow = TRUE;
      else
        product *= n;
    }

  if (smallest != G_MAXUINT64)
    return smallest;

  if (product == 0)
    return 0;

  return overflow ? G_MAXUINT64 : product;
}

/* A set of rows of the output, by content: open addressing over row
 * numbers + 1 (0 is an empty slot). */
typedef struct
{
  guint32       *slots;
  gsize          mask;
  const guint32 *rows;
  guint          width;
} RowSet;

static guint64
row_hash (const guint32 *row,
          guint          width)
{
  guint64 h = G_GUINT64_CONSTANT (0xcbf29ce484222325);

  for (guint i = 0; i < width; i++)
    {
      h ^= row[i];
      h *= G_GUINT64_CONSTANT (0x100000001b3);
      h ^= h >> 29;
    }

  return h;
}

/* Inserts row @r unless an equal row is already in the set; returns
 * whether it was inserted. */
static gboolean
row_set_add (RowSet *set,
             guint   r)
{
  const guint32 *row = set->rows + (gsize) r * set->width;
  gsize i = row_hash (row, set->width) & set->mask;

  while (set->slots[i] != 0)
    {
      const guint32 *other = set->rows + (gsize) (set->slots[i] - 1) * set->width;

      if (memcmp (row, other, set->width * sizeof (guint32)) == 0)
        return FALSE;
      i = (i + 1) & set->mask;
    }

  set->slots[i] = r + 1;
  return TRUE;
}

/* Every pool permutation and the product space at most twice @count:
 * shuffle the space's ranks and unrank the first @count. */
static void
draw_dense (const CdlSamplePool *pools,
            guint                n_pools,
            guint                count,
            guint64              space,
            CdlRng              *rng,
            guint32             *out)
{
  g_autofree guint64 *ranks = g_new (guint64, space);

  for (guint64 i = 0; i < space; i++)
    ranks[i] = i;

  for (guint i = 0; i < count; i++)
    {
      guint64 j = i + cdl_rng_below (rng, space - i);
      guint64 rank = ranks[j];

      ranks[j] = ranks[i];
      ranks[i] = rank;

      /* Mixed radix, the last pool varying fastest. */
      for (guint p = n_pools; p > 0; p--)
        {
          out[(gsize) i * n_pools + p - 1] = (guint32) (rank % pools[p - 1].n_items);
          rank /= pools[p - 1].n_items;
        }
    }
}

/* Every pool permutation and the space large: draw tuples and reject the
 * ones seen, which is cheap while @count is at most half the space. */
static void
draw_sparse (const CdlSamplePool *pools,
             guint                n_pools,
             guint                count,
             CdlRng              *rng,
             guint32             *out)
{
  RowSet set = { 0 };
  gsize size = 16;

  while (size < (gsize) count * 2)
    size <<= 1;

  set.slots = g_new0 (guint32, size);
  set.mask = size - 1;
  set.rows = out;
  set.width = n_pools;

  for (guint i = 0; i < count; i++)
    {
      do
        {
          for (guint p = 0; p < n_pools; p++)
            out[(gsize) i * n_pools + p] = (guint32) cdl_rng_below (rng, pools[p].n_items);
        }
      while (!row_set_add (&set, i));
    }

  g_free (set.slots);
}

guint32 *
cdl_sampling_draw (const CdlSamplePool *pools,
                   guint                n_pools,
                   guint                count,
                   CdlRng              *rng,
                   GError             **error)
{
  g_autofree guint32 *out = NULL;
  gboolean any_no_replacement = FALSE;
  guint64 capacity;

  g_return_val_if_fail (n_pools == 0 || pools != NULL, NULL);
  g_return_val_if_fail (rng != NULL, NULL);

  if (count == 0)
    {
      g_set_error (error, CDL_SAMPLING_ERROR, CDL_SAMPLING_ERROR_INVALID,
                   "At least one prompt must be asked for");
      return NULL;
    }

  for (guint p = 0; p < n_pools; p++)
    {
      if (pools[p].n_items == 0)
        {
          g_set_error (error, CDL_SAMPLING_ERROR, CDL_SAMPLING_ERROR_TOO_MANY,
                       "Pool %s has no items", pools[p].name);
          return NULL;
        }
      if (pools[p].mode == CDL_POOL_MODE_NO_REPLACEMENT)
        any_no_replacement = TRUE;
    }

  capacity = cdl_sampling_capacity (pools, n_pools);
  if (count > capacity)
    {
      too_many (error, capacity, count);
      return NULL;
    }

  /* One extra element so that zero pools still give a valid pointer. */
  out = g_new0 (guint32, (gsize) count * n_pools + 1);

  if (n_pools == 0)
    return g_steal_pointer (&out);

  if (any_no_replacement)
    {
      /* The no_replacement pools make every row distinct by themselves;
       * permutation pools beside them draw freely. Pool by pool, so that a
       * pool's draws do not depend on the sizes of the others. */
      for (guint p = 0; p < n_pools; p++)
        {
          guint n = pools[p].n_items;

          if (pools[p].mode == CDL_POOL_MODE_NO_REPLACEMENT)
            {
              g_autofree guint32 *order = g_new (guint32, n);

              for (guint i = 0; i < n; i++)
                order[i] = i;

              for (guint i = 0; i < count; i++)
                {
                  guint j = i + (guint) cdl_rng_below (rng, n - i);
                  guint32 tmp = order[j];

                  order[j] = order[i];
                  order[i] = tmp;
                  out[(gsize) i * n_pools + p] = tmp;
                }
            }
          else
            {
              for (guint i = 0; i < count; i++)
                out[(gsize) i * n_pools + p] = (guint32) cdl_rng_below (rng, n);
            }
        }
    }
  else if (capacity != G_MAXUINT64 && capacity <= (guint64) count * 2)
    {
      draw_dense (pools, n_pools, count, capacity, rng, out);
    }
  else
    {
      draw_sparse (pools, n_pools, count, rng, out);
    }

  return g_steal_pointer (&out);
}

void
cdl_sampling_seeds (CdlRng  *rng,
                    guint    n,
                    guint64 *out)
{
  g_autoptr(GHashTable) seen = NULL;

  /* Batches are small; a hash set only pays off for large ones. */
  if (n > 64)
    seen = g_hash_table_new (g_int64_hash, g_int64_equal);

  for (guint i = 0; i < n; i++)
    {
      gboolean dup;

      do
        {
          out[i] = cdl_rng_next_seed (rng);
          dup = FALSE;

          if (seen != NULL)
            dup = g_hash_table_contains (seen, &out[i]);
          else
            for (guint j = 0; j < i && !dup; j++)
              dup = out[j] == out[i];
        }
      while (dup);

      if (seen != NULL)
        g_hash_table_add (seen, &out[i]);
    }
}

/* Templates ---------------------------------------------------------------- */

typedef struct
{
  char *literal;  /* NULL for a slot */
  guint pool;
} Segment;

struct _CdlTemplate
{
  GArray *segments;   /* Segment */
  guint   n_pools;
  char   *plain;      /* the unescaped text */
  gboolean has_slots;
};

static void
segment_clear (gpointer data)
{
  Segment *segment = data;

  g_free (segment->literal);
}

void
cdl_template_free (CdlTemplate *tmpl)
{
  if (tmpl == NULL)
    return;

  g_array_unref (tmpl->segments);
  g_free (tmpl->plain);
  g_free (tmpl);
}

static void
add_literal (CdlTemplate *tmpl,
             GString     *literal)
{
  Segment segment = { 0 };

  if (literal->len == 0)
    return;

  segment.literal = g_strndup (literal->str, literal->len);
  g_array_append_val (tmpl->segments, segment);
  g_string_truncate (literal, 0);
}

CdlTemplate *
cdl_template_parse (const char          *text,
                    const char * const  *pool_names,
                    guint                n_pools,
                    GError             **error)
{
  g_autoptr(CdlTemplate) tmpl = g_new0 (CdlTemplate, 1);
  g_autoptr(GString) literal = g_string_new (NULL);
  g_autoptr(GString) plain = g_string_new (NULL);
  g_autofree gboolean *used = g_new0 (gboolean, n_pools + 1);
  const char *p;

  g_return_val_if_fail (text != NULL, NULL);
  g_return_val_if_fail (n_pools == 0 || pool_names != NULL, NULL);

  tmpl->segments = g_array_new (FALSE, TRUE, sizeof (Segment));
  g_array_set_clear_func (tmpl->segments, segment_clear);
  tmpl->n_pools = n_pools;

  for (p = text; *p != '\0'; p++)
    {
      if (p[0] == '{' && p[1] == '{')
        {
          g_string_append_c (literal, '{');
          g_string_append_c (plain, '{');
          p++;
        }
      else if (p[0] == '}' && p[1] == '}')
        {
          g_string_append_c (literal, '}');
          g_string_append_c (plain, '}');
          p++;
        }
      else if (p[0] == '}')
        {
          g_set_error (error, CDL_SAMPLING_ERROR, CDL_SAMPLING_ERROR_TEMPLATE,
                       "The template has a } at character %ld that closes no slot; "
                       "write }} for a literal brace", (long) (p - text) + 1);
          return NULL;
        }
      else if (p[0] == '{')
        {
          const char *end = strpbrk (p + 1, "{}");
          g_autofree char *name = NULL;
          Segment segment = { 0 };
          guint pool = n_pools;

          if (end == NULL || *end != '}')
            {
              g_set_error (error, CDL_SAMPLING_ERROR, CDL_SAMPLING_ERROR_TEMPLATE,
                           "The template has a { at character %ld that is not closed; "
                           "write {{ for a literal brace", (long) (p - text) + 1);
              return NULL;
            }

          name = g_strndup (p + 1, end - p - 1);
          for (guint i = 0; i < n_pools && pool == n_pools; i++)
            if (g_strcmp0 (pool_names[i], name) == 0)
              pool = i;

          if (pool == n_pools)
            {
              g_autoptr(GString) known = g_string_new (NULL);

              for (guint i = 0; i < n_pools; i++)
                g_string_append_printf (known, "%s%s", i > 0 ? ", " : "", pool_names[i]);

              g_set_error (error, CDL_SAMPLING_ERROR, CDL_SAMPLING_ERROR_UNKNOWN_SLOT,
                           "The template slot {%s} names no pool of this task "
                           "(its pools: %s)", name, n_pools > 0 ? known->str : "none");
              return NULL;
            }

          add_literal (tmpl, literal);
          segment.pool = pool;
          g_array_append_val (tmpl->segments, segment);
          g_string_append_printf (plain, "{%s}", name);
          used[pool] = TRUE;
          tmpl->has_slots = TRUE;
          p = end;
        }
      else
        {
          g_string_append_c (literal, *p);
          g_string_append_c (plain, *p);
        }
    }

  add_literal (tmpl, literal);

  if (tmpl->has_slots)
    {
      for (guint i = 0; i < n_pools; i++)
        if (!used[i])
          {
            g_set_error (error, CDL_SAMPLING_ERROR, CDL_SAMPLING_ERROR_TEMPLATE,
                         "The template has no {%s} slot for pool %s; add the slot "
                         "or leave the pool out", pool_names[i], pool_names[i]);
            return NULL;
          }
    }

  tmpl->plain = g_string_free (g_steal_pointer (&plain), FALSE);

  return g_steal_pointer (&tmpl);
}

gboolean
cdl_template_has_slots (const CdlTemplate *tmpl)
{
  g_return_val_if_fail (tmpl != NULL, FALSE);

  return tmpl->has_slots;
}

char *
cdl_template_expand (const CdlTemplate  *tmpl,
                     const char * const *values)
{
  GString *out;

  g_return_val_if_fail (tmpl != NULL, NULL);

  if (!tmpl->has_slots)
    {
      if (tmpl->n_pools == 0)
        {
          out = g_string_new (NULL);
          for (guint i = 0; i < tmpl->segments->len; i++)
            g_string_append (out, g_array_index (tmpl->segments, Segment, i).literal);
          return g_string_free (out, FALSE);
        }

      out = g_string_new (NULL);
      for (guint p = 0; p < tmpl->n_pools; p++)
        {
          if (p > 0)
            g_string_append (out, ", ");
          g_string_append (out, values[p]);
        }
      return g_string_free (out, FALSE);
    }

  out = g_string_new (NULL);
  for (guint i = 0; i < tmpl->segments->len; i++)
    {
      const Segment *segment = &g_array_index (tmpl->segments, Segment, i);

      if (segment->literal != NULL)
        g_string_append (out, segment->literal);
      else
        g_string_append (out, values[segment->pool]);
    }

  return g_string_free (out, FALSE);
}

/* Generation --------------------------------------------------------------- */

void
cdl_prompt_set_free (CdlPromptSet *set)
{
  if (set == NULL)
    return;

  for (guint i = 0; set->texts != NULL && i < set->n_prompts; i++)
    g_free (set->texts[i]);
  for (guint i = 0; set->variables != NULL && i < set->n_prompts; i++)
    g_free (set->variables[i]);
  g_free (set->texts);
  g_free (set->variables);
  g_free (set->seeds);
  g_free (set);
}

static void
append_json_string (GString    *out,
                    const char *text)
{
  g_string_append_c (out, '"');

  for (const guchar *p = (const guchar *) text; *p != '\0'; p++)
    {
      switch (*p)
        {
        case '"':
          g_string_append (out, "\\\"");
          break;
        case '\\':
          g_string_append (out, "\\\\");
          break;
        case '\n':
          g_string_append (out, "\\n");
          break;
        case '\r':
          g_string_append (out, "\\r");
          break;
        case '\t':
          g_string_append (out, "\\t");
          break;
        default:
          if (*p < 0x20)
            g_string_append_printf (out, "\\u%04x", *p);
          else
            g_string_append_c (out, (char) *p);
        }
    }

  g_string_append_c (out, '"');
}

CdlPromptSet *
cdl_sampling_generate (const char          *template_text,
                       const CdlSamplePool *pools,
                       guint                n_pools,
                       guint                n_prompts,
                       guint                seeds_per_prompt,
                       guint64              rng_seed,
                       GError             **error)
{
  g_autoptr(CdlPromptSet) set = NULL;
  g_autoptr(CdlTemplate) tmpl = NULL;
  g_autofree guint32 *rows = NULL;
  g_autofree const char **names = g_new0 (const char *, n_pools + 1);
  g_autofree const char **values = g_new0 (const char *, n_pools + 1);
  g_autoptr(GString) vars = g_string_new (NULL);
  CdlRng rng;

  g_return_val_if_fail (n_pools == 0 || pools != NULL, NULL);

  if (seeds_per_prompt == 0)
    {
      g_set_error (error, CDL_SAMPLING_ERROR, CDL_SAMPLING_ERROR_INVALID,
                   "At least one seed per prompt is needed");
      return NULL;
    }

  for (guint p = 0; p < n_pools; p++)
    names[p] = pools[p].name;

  tmpl = cdl_template_parse (template_text != NULL ? template_text : "", names, n_pools, error);
  if (tmpl == NULL)
    return NULL;

  if (n_pools == 0 && *tmpl->plain == '\0')
    {
      g_set_error (error, CDL_SAMPLING_ERROR, CDL_SAMPLING_ERROR_TEMPLATE,
                   "The prompt is empty: give a template or some pools");
      return NULL;
    }

  cdl_rng_init (&rng, rng_seed, 0);
  rows = cdl_sampling_draw (pools, n_pools, n_prompts, &rng, error);
  if (rows == NULL)
    return NULL;

  set = g_new0 (CdlPromptSet, 1);
  set->n_prompts = n_prompts;
  set->seeds_per_prompt = seeds_per_prompt;
  set->texts = g_new0 (char *, n_prompts);
  set->variables = g_new0 (char *, n_prompts);
  set->seeds = g_new (guint64, (gsize) n_prompts * seeds_per_prompt);

  for (guint i = 0; i < n_prompts; i++)
    {
      g_string_truncate (vars, 0);
      g_string_append_c (vars, '{');

      for (guint p = 0; p < n_pools; p++)
        {
          values[p] = pools[p].items[rows[(gsize) i * n_pools + p]];
          if (p > 0)
            g_string_append (vars, ", ");
          append_json_string (vars, pools[p].name);
          g_string_append (vars, ": ");
          append_json_string (vars, values[p]);
        }

      g_string_append_c (vars, '}');
      set->texts[i] = cdl_template_expand (tmpl, values);
      set->variables[i] = g_strndup (vars->str, vars->len);
    }

  /* Seeds from their own stream: N can change without moving prompts. */
  cdl_rng_init (&rng, rng_seed, 1);
  for (guint i = 0; i < n_prompts; i++)
    cdl_sampling_seeds (&rng, seeds_per_prompt,
                        set->seeds + (gsize) i * seeds_per_prompt);

  return g_steal_pointer (&set);
}

void
cdl_sampling_checksum_add (GChecksum     *checksum,
                           guint          position,
                           const char    *text,
                           const char    *variables,
                           const guint64 *seeds,
                           guint          n_seeds)
{
  char buf[32];
  int len;

  /* NUL separators: stored text never contains one, so no two different
   * prompts feed the same bytes. */
  len = g_snprintf (buf, sizeof buf, "%u", position);
  g_checksum_update (checksum, (const guchar *) buf, len + 1);
  g_checksum_update (checksum, (const guchar *) text, strlen (text) + 1);
  g_checksum_update (checksum, (const guchar *) variables, strlen (variables) + 1);

  for (guint i = 0; i < n_seeds; i++)
    {
      len = g_snprintf (buf, sizeof buf, "%" G_GUINT64_FORMAT ",", seeds[i]);
      g_checksum_update (checksum, (const guchar *) buf, len);
    }

  g_checksum_update (checksum, (const guchar *) "\n", 1);
}
