/* test-abtest.c: A/B variants and the stable placement of users
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "core/cdl-abtest.h"
#include "core/cdl-json.h"
#include "core/cdl-worker-input.h"

static GPtrArray *
parse (const char  *text,
       GError     **error)
{
  g_autoptr(JsonNode) node = cdl_json_parse (text, -1, NULL);

  g_assert_nonnull (node);
  return cdl_abtest_parse_variants (node, error);
}

static void
assert_invalid (const char *text,
                const char *needle)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) variants = parse (text, &error);

  g_assert_null (variants);
  g_assert_error (error, CDL_INPUT_ERROR, CDL_INPUT_ERROR_INVALID);
  if (strstr (error->message, needle) == NULL)
    g_error ("expected \"%s\" in: %s", needle, error->message);
}

static void
test_parse (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) variants = NULL;
  const CdlAbVariant *a, *b;

  variants = parse ("[{\"key\": \"A\", \"weight\": 0.7},"
                    " {\"key\": \"B\", \"weight\": 0.3, \"config\": {\"prefetch_batches\": 5,"
                    "  \"prefetch_full\": true, \"media_base_url\": \"https://cdn.example\"}}]",
                    &error);
  g_assert_no_error (error);
  g_assert_cmpuint (variants->len, ==, 2);
  a = cdl_abtest_find (variants, "A");
  b = cdl_abtest_find (variants, "B");
  g_assert_cmpint (a->prefetch_batches, ==, CDL_ABTEST_PREFETCH_DEFAULT);
  g_assert_false (a->prefetch_full);
  g_assert_null (a->media_base_url);
  g_assert_cmpint (b->prefetch_batches, ==, 5);
  g_assert_true (b->prefetch_full);
  g_assert_cmpstr (b->media_base_url, ==, "https://cdn.example/");
  g_assert_null (cdl_abtest_find (variants, "C"));

  assert_invalid ("[{\"key\": \"A\", \"weight\": 0.7}, {\"key\": \"B\", \"weight\": 0.2}]",
                  "sum to");
  assert_invalid ("[{\"key\": \"A\", \"weight\": 1}, {\"key\": \"B\", \"weight\": 0}]",
                  "variants[1].weight");
  assert_invalid ("[{\"key\": \"A\", \"weight\": 0.5}, {\"key\": \"A\", \"weight\": 0.5}]",
                  "unique");
  assert_invalid ("[{\"key\": \"\", \"weight\": 0.5}, {\"key\": \"A\", \"weight\": 0.5}]",
                  "variants[0].key");
  assert_invalid ("[{\"key\": \"A\", \"weight\": 1}]", "at least two");
  assert_invalid ("[{\"key\": \"A\", \"weight\": 0.5, \"config\": {\"prefetch_batches\": 51}},"
                  " {\"key\": \"B\", \"weight\": 0.5}]", "config.prefetch_batches");
  assert_invalid ("[{\"key\": \"A\", \"weight\": 0.5, \"config\": {\"media_base_url\": \"x\"}},"
                  " {\"key\": \"B\", \"weight\": 0.5}]", "config.media_base_url");
  assert_invalid ("[{\"key\": \"A\", \"weight\": 0.5, \"config\": {\"colour\": 1}},"
                  " {\"key\": \"B\", \"weight\": 0.5}]", "config.colour");
  /* Within the tolerance. */
  g_clear_pointer (&variants, g_ptr_array_unref);
  variants = parse ("[{\"key\": \"A\", \"weight\": 0.3333}, {\"key\": \"B\", \"weight\": 0.3333},"
                    " {\"key\": \"C\", \"weight\": 0.3333}]", &error);
  g_assert_no_error (error);
}

static void
test_round_trip (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) variants = parse ("[{\"key\": \"A\", \"weight\": 0.5},"
                                         " {\"key\": \"B\", \"weight\": 0.5, \"config\":"
                                         " {\"prefetch_full\": true}}]", &error);
  g_autoptr(JsonNode) stored = cdl_abtest_variants_to_json (variants);
  g_autoptr(GPtrArray) again = cdl_abtest_parse_variants (stored, &error);

  g_assert_no_error (error);
  g_assert_true (cdl_abtest_find (again, "B")->prefetch_full);
  g_assert_cmpint (cdl_abtest_find (again, "A")->prefetch_batches, ==, 20);
}

static void
test_placement (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) variants = parse ("[{\"key\": \"A\", \"weight\": 0.7},"
                                         " {\"key\": \"B\", \"weight\": 0.3}]", &error);
  const char *test = "9b1c6c52-3f7e-4f43-9a53-1f1e1d2a6f00";
  guint counts[2] = { 0, 0 };

  /* Stable: the same pair gives the same number; another test another. */
  g_assert_cmpfloat (cdl_abtest_unit (test, "u1"), ==, cdl_abtest_unit (test, "u1"));
  g_assert_cmpfloat (cdl_abtest_unit (test, "u1"), !=, cdl_abtest_unit ("other", "u1"));

  /* The cumulative ranges. */
  g_assert_cmpuint (cdl_abtest_pick (variants, 0.0), ==, 0);
  g_assert_cmpuint (cdl_abtest_pick (variants, 0.6999), ==, 0);
  g_assert_cmpuint (cdl_abtest_pick (variants, 0.7001), ==, 1);
  g_assert_cmpuint (cdl_abtest_pick (variants, 0.9999999), ==, 1);

  for (guint i = 0; i < 100000; i++)
    {
      g_autofree char *user = g_uuid_string_random ();
      double u = cdl_abtest_unit (test, user);

      g_assert_cmpfloat (u, >=, 0.0);
      g_assert_cmpfloat (u, <, 1.0);
      counts[cdl_abtest_pick (variants, u)]++;
    }

  /* 70/30 within half a percent over 100 000 users (σ is 0.14 %). */
  g_assert_cmpfloat (counts[0] / 100000.0, >, 0.695);
  g_assert_cmpfloat (counts[0] / 100000.0, <, 0.705);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/abtest/parse", test_parse);
  g_test_add_func ("/abtest/round-trip", test_round_trip);
  g_test_add_func ("/abtest/placement", test_placement);

  return g_test_run ();
}
