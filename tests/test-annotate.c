/* test-annotate.c: media URL signing, the shown order and DPO lines
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "core/cdl-dpo.h"
#include "core/cdl-json.h"
#include "core/cdl-media-sign.h"
#include "core/cdl-shuffle.h"

#define KEY "tasks/t1/2026/12/03/ab/p1-42-0.png"

static GBytes *
secret (void)
{
  return g_bytes_new_static ("0123456789abcdef0123456789abcdef", 32);
}

static void
test_sign_roundtrip (void)
{
  g_autoptr(GBytes) s = secret ();
  g_autoptr(GError) error = NULL;
  g_autofree char *sig = cdl_media_sign (s, KEY, 2000);
  g_autofree char *again = cdl_media_sign (s, KEY, 2000);
  g_autofree char *url = cdl_media_sign_url (s, "/media/", KEY, 2000);
  g_autofree char *want_url = g_strdup_printf ("/media/" KEY "?exp=2000&sig=%s", sig);

  g_assert_cmpuint (strlen (sig), ==, 64);
  g_assert_cmpstr (sig, ==, again);
  g_assert_cmpstr (url, ==, want_url);

  g_assert_true (cdl_media_verify (s, KEY, "2000", sig, 1999, &error));
  g_assert_no_error (error);
  /* The last second still counts. */
  g_assert_true (cdl_media_verify (s, KEY, "2000", sig, 2000, &error));
  g_assert_no_error (error);

  /* Upper-case hex is the same signature. */
  {
    g_autofree char *upper = g_ascii_strup (sig, -1);

    g_assert_true (cdl_media_verify (s, KEY, "2000", upper, 1000, &error));
    g_assert_no_error (error);
  }
}

static void
test_sign_expired (void)
{
  g_autoptr(GBytes) s = secret ();
  g_autoptr(GError) error = NULL;
  g_autofree char *sig = cdl_media_sign (s, KEY, 2000);

  g_assert_false (cdl_media_verify (s, KEY, "2000", sig, 2001, &error));
  g_assert_error (error, CDL_MEDIA_SIGN_ERROR, CDL_MEDIA_SIGN_ERROR_EXPIRED);
}

static void
test_sign_tampered (void)
{
  g_autoptr(GBytes) s = secret ();
  g_autoptr(GBytes) other = g_bytes_new_static ("another secret of thirty-two by.", 32);
  g_autofree char *sig = cdl_media_sign (s, KEY, 2000);
  g_autofree char *flipped = g_strdup (sig);
  struct { const char *key; const char *exp; const char *sig; int code; } cases[] = {
    { "tasks/t1/2026/12/03/ab/p1-42-1.png", "2000", sig, CDL_MEDIA_SIGN_ERROR_FORGED },
    { KEY, "2001", sig, CDL_MEDIA_SIGN_ERROR_FORGED },
    { KEY, "99999999", sig, CDL_MEDIA_SIGN_ERROR_FORGED },
    { KEY, "2000", flipped, CDL_MEDIA_SIGN_ERROR_FORGED },
    { KEY, "2000", NULL, CDL_MEDIA_SIGN_ERROR_MALFORMED },
    { KEY, NULL, sig, CDL_MEDIA_SIGN_ERROR_MALFORMED },
    { KEY, "-5", sig, CDL_MEDIA_SIGN_ERROR_MALFORMED },
    { KEY, "2000x", sig, CDL_MEDIA_SIGN_ERROR_MALFORMED },
    { KEY, "2000", "abc", CDL_MEDIA_SIGN_ERROR_MALFORMED },
  };

  /* One hex digit changed at the end. */
  flipped[63] = flipped[63] == '0' ? '1' : '0';

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_false (cdl_media_verify (s, cases[i].key, cases[i].exp, cases[i].sig, 1000,
                                        &error));
      g_assert_error (error, CDL_MEDIA_SIGN_ERROR, cases[i].code);
    }

  /* Another installation's secret does not verify. */
  {
    g_autoptr(GError) error = NULL;

    g_assert_false (cdl_media_verify (other, KEY, "2000", sig, 1000, &error));
    g_assert_error (error, CDL_MEDIA_SIGN_ERROR, CDL_MEDIA_SIGN_ERROR_FORGED);
  }
}

static void
test_constant_time_equal (void)
{
  g_assert_true (cdl_media_constant_time_equal ("", ""));
  g_assert_true (cdl_media_constant_time_equal ("abc", "abc"));
  g_assert_false (cdl_media_constant_time_equal ("abc", "abd"));
  g_assert_false (cdl_media_constant_time_equal ("xbc", "abc"));
  g_assert_false (cdl_media_constant_time_equal ("abc", "abcd"));
  g_assert_false (cdl_media_constant_time_equal ("abcd", "abc"));
  /* A difference only in the high bit of a byte. */
  g_assert_false (cdl_media_constant_time_equal ("a\xe1", "a\x61"));
}

static void
test_expiry_steps (void)
{
  gint64 step = CDL_MEDIA_URL_LIFETIME_S;

  /* Stable within a step, and always at least one lifetime ahead. */
  g_assert_cmpint (cdl_media_sign_expiry_for (10 * step), ==, 12 * step);
  g_assert_cmpint (cdl_media_sign_expiry_for (10 * step + step - 1), ==, 12 * step);
  g_assert_cmpint (cdl_media_sign_expiry_for (11 * step), ==, 13 * step);
  for (gint64 t = 5 * step; t < 7 * step; t += 97)
    {
      gint64 e = cdl_media_sign_expiry_for (t);

      g_assert_cmpint (e - t, >=, step);
      g_assert_cmpint (e - t, <=, 2 * step);
    }
}

static void
test_shuffle (void)
{
  guint a[9], b[9], c[9];
  gint64 as_int[9];
  guint differs = 0;
  guint position_zero[9] = { 0 };

  cdl_shuffle_order ("user-1", "batch-1", 9, a);
  cdl_shuffle_order ("user-1", "batch-1", 9, b);
  g_assert_cmpmem (a, sizeof a, b, sizeof b);

  for (guint i = 0; i < 9; i++)
    as_int[i] = a[i];
  g_assert_true (cdl_shuffle_is_permutation (as_int, 9));

  /* Other users and batches get other orders, and every index reaches
   * the first position for some of them. */
  for (guint u = 0; u < 200; u++)
    {
      g_autofree char *user = g_strdup_printf ("user-%u", u);

      cdl_shuffle_order (user, "batch-1", 9, c);
      for (guint i = 0; i < 9; i++)
        as_int[i] = c[i];
      g_assert_true (cdl_shuffle_is_permutation (as_int, 9));
      if (memcmp (a, c, sizeof a) != 0)
        differs++;
      position_zero[c[0]]++;
    }
  g_assert_cmpuint (differs, >=, 190);
  for (guint i = 0; i < 9; i++)
    g_assert_cmpuint (position_zero[i], >, 5);

  cdl_shuffle_order ("user-1", "batch-2", 9, c);
  g_assert_false (memcmp (a, c, sizeof a) == 0);

  /* Edge sizes. */
  cdl_shuffle_order ("u", "b", 1, c);
  g_assert_cmpuint (c[0], ==, 0);
  cdl_shuffle_order ("u", "b", 0, NULL);
}

static void
test_is_permutation (void)
{
  const gint64 ok[] = { 2, 0, 1 };
  const gint64 dup[] = { 0, 0, 1 };
  const gint64 out[] = { 0, 1, 3 };
  const gint64 neg[] = { 0, -1, 2 };

  g_assert_true (cdl_shuffle_is_permutation (ok, 3));
  g_assert_false (cdl_shuffle_is_permutation (dup, 3));
  g_assert_false (cdl_shuffle_is_permutation (out, 3));
  g_assert_false (cdl_shuffle_is_permutation (neg, 3));
  g_assert_true (cdl_shuffle_is_permutation (NULL, 0));
}

static const CdlDpoImage images[] = {
  { "tasks/t/a-10-0.png", 10, 0, "aa" },
  { "tasks/t/a-11-1.png", 11, 1, "bb" },
  { "tasks/t/a-9007199254740991-2.png", G_GINT64_CONSTANT (9007199254740991), 2, NULL },
};

static CdlDpoRecord
record (int chosen,
        int rejected)
{
  CdlDpoRecord r = {
    .task_id = "task-1", .batch_id = "batch-1", .annotator_id = "user-1",
    .prompt = "a \"quoted\" dress\nsecond line", .images = images, .n_images = 3,
    .chosen_index = chosen, .rejected_index = rejected,
    .workflow_id = "wf-1", .model = "sd15", .variable_pool_version = "dress@v2",
    .created_at = "2026-12-03T10:00:00Z",
  };

  return r;
}

static JsonObject *
parse_line (const char *line,
            JsonNode  **root)
{
  g_autoptr(GError) error = NULL;

  g_assert_null (strchr (line, '\n'));
  *root = cdl_json_parse (line, -1, &error);
  g_assert_no_error (error);
  return json_node_get_object (*root);
}

static void
test_dpo_explicit (void)
{
  CdlDpoRecord r = record (2, 0);
  g_autoptr(GError) error = NULL;
  g_autofree char *line = cdl_dpo_line_build (&r, &error);
  g_autoptr(JsonNode) root = NULL;
  JsonObject *obj, *chosen, *rejected;
  JsonArray *list;

  g_assert_no_error (error);
  obj = parse_line (line, &root);
  g_assert_cmpstr (json_object_get_string_member (obj, "prompt"), ==,
                   "a \"quoted\" dress\nsecond line");
  chosen = json_object_get_object_member (obj, "chosen");
  g_assert_cmpstr (json_object_get_string_member (chosen, "uri"), ==,
                   "tasks/t/a-9007199254740991-2.png");
  g_assert_cmpint (json_object_get_int_member (chosen, "seed"), ==,
                   G_GINT64_CONSTANT (9007199254740991));
  g_assert_cmpint (json_object_get_int_member (chosen, "batch_index"), ==, 2);
  g_assert_true (json_object_get_null_member (chosen, "checksum"));
  list = json_object_get_array_member (obj, "rejected");
  g_assert_cmpuint (json_array_get_length (list), ==, 1);
  rejected = json_array_get_object_element (list, 0);
  g_assert_cmpint (json_object_get_int_member (rejected, "seed"), ==, 10);
  g_assert_cmpstr (json_object_get_string_member (rejected, "checksum"), ==, "aa");
  g_assert_cmpstr (json_object_get_string_member (obj, "workflow_id"), ==, "wf-1");
  g_assert_cmpstr (json_object_get_string_member (obj, "model"), ==, "sd15");
  g_assert_cmpstr (json_object_get_string_member (obj, "variable_pool_version"), ==, "dress@v2");
  g_assert_cmpstr (json_object_get_string_member (obj, "created_at"), ==, "2026-12-03T10:00:00Z");
  g_assert_cmpstr (json_object_get_string_member (obj, "annotator_id"), ==, "user-1");
  g_assert_cmpstr (json_object_get_string_member (obj, "task_id"), ==, "task-1");
  g_assert_cmpstr (json_object_get_string_member (obj, "batch_id"), ==, "batch-1");
}

static void
test_dpo_implicit_rejected (void)
{
  CdlDpoRecord r = record (1, -1);
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  g_autoptr(JsonNode) root = NULL;
  JsonObject *obj;
  JsonArray *list;

  r.uri_base = "s3://bucket/";
  line = cdl_dpo_line_build (&r, &error);
  g_assert_no_error (error);
  obj = parse_line (line, &root);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (obj, "chosen"),
                                                  "uri"), ==, "s3://bucket/tasks/t/a-11-1.png");
  list = json_object_get_array_member (obj, "rejected");
  g_assert_cmpuint (json_array_get_length (list), ==, 2);
  g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (list, 0), "seed"),
                   ==, 10);
  g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (list, 1),
                                               "batch_index"), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (list, 0), "uri"),
                   ==, "s3://bucket/tasks/t/a-10-0.png");
}

static void
test_dpo_invalid (void)
{
  struct { int chosen; int rejected; guint n; } cases[] = {
    { 3, -1, 3 }, { -1, 0, 3 }, { 0, 0, 3 }, { 0, 3, 3 }, { 0, -2, 3 }, { 0, -1, 1 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      CdlDpoRecord r = record (cases[i].chosen, cases[i].rejected);
      g_autoptr(GError) error = NULL;
      g_autofree char *line = NULL;

      r.n_images = cases[i].n;
      line = cdl_dpo_line_build (&r, &error);
      g_assert_null (line);
      g_assert_error (error, CDL_DPO_ERROR, CDL_DPO_ERROR_INVALID);
    }
}

static void
test_dpo_pairs (void)
{
  CdlDpoRecord r = record (1, -1);
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;
  int n;

  /* Implicit rejected: a pair with each other image. */
  n = cdl_dpo_pairs_build (&r, out, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 2);
  g_assert_true (g_str_has_suffix (out->str, "\n"));
  lines = g_strsplit (out->str, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 3);

  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(JsonNode) root = NULL;
      JsonObject *obj = parse_line (lines[i], &root);
      gint64 label = json_object_get_int_member (obj, "label_0");
      const char *chosen_slot = label == 1 ? "_0" : "_1";
      const char *other_slot = label == 1 ? "_1" : "_0";
      g_autofree char *chosen_seed = g_strconcat ("seed", chosen_slot, NULL);
      g_autofree char *other_seed = g_strconcat ("seed", other_slot, NULL);
      g_autofree char *chosen_jpg = g_strconcat ("jpg", chosen_slot, NULL);

      g_assert_cmpstr (json_object_get_string_member (obj, "caption"), ==, r.prompt);
      g_assert_cmpint (json_object_get_int_member (obj, chosen_seed), ==, 11);
      g_assert_cmpstr (json_object_get_string_member (obj, chosen_jpg), ==, "tasks/t/a-11-1.png");
      /* The rejected images in order: seed 10, then the last one. */
      g_assert_cmpint (json_object_get_int_member (obj, other_seed), ==,
                       i == 0 ? 10 : G_GINT64_CONSTANT (9007199254740991));
      g_assert_cmpstr (json_object_get_string_member (obj, "annotator_id"), ==, "user-1");
    }

  /* The chosen image is not always in the same slot: chosen 1 against 0
   * and against 2 lands once first, once second. */
  {
    g_autoptr(JsonNode) a = NULL;
    g_autoptr(JsonNode) b = NULL;

    g_assert_cmpint (json_object_get_int_member (parse_line (lines[0], &a), "label_0"), !=,
                     json_object_get_int_member (parse_line (lines[1], &b), "label_0"));
  }

  /* An explicit rejected image gives one pair. */
  {
    CdlDpoRecord one = record (2, 0);

    g_string_truncate (out, 0);
    g_assert_cmpint (cdl_dpo_pairs_build (&one, out, &error), ==, 1);
    g_assert_no_error (error);
  }

  /* Invalid records add nothing. */
  {
    CdlDpoRecord bad = record (1, 1);

    g_string_truncate (out, 0);
    g_assert_cmpint (cdl_dpo_pairs_build (&bad, out, &error), ==, -1);
    g_assert_error (error, CDL_DPO_ERROR, CDL_DPO_ERROR_INVALID);
    g_assert_cmpuint (out->len, ==, 0);
  }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/annotate/sign/roundtrip", test_sign_roundtrip);
  g_test_add_func ("/annotate/sign/expired", test_sign_expired);
  g_test_add_func ("/annotate/sign/tampered", test_sign_tampered);
  g_test_add_func ("/annotate/sign/constant-time-equal", test_constant_time_equal);
  g_test_add_func ("/annotate/sign/expiry-steps", test_expiry_steps);
  g_test_add_func ("/annotate/shuffle/deterministic-permutation", test_shuffle);
  g_test_add_func ("/annotate/shuffle/is-permutation", test_is_permutation);
  g_test_add_func ("/annotate/dpo/explicit", test_dpo_explicit);
  g_test_add_func ("/annotate/dpo/implicit-rejected", test_dpo_implicit_rejected);
  g_test_add_func ("/annotate/dpo/invalid", test_dpo_invalid);
  g_test_add_func ("/annotate/dpo/pairs", test_dpo_pairs);

  return g_test_run ();
}
