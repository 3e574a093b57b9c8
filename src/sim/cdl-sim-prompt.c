/* cdl-sim-prompt.c: POST /prompt validation, as ComfyUI does it
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-sim"

#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cdl-sim-nodes.h"
#include "cdl-sim-prompt.h"

/* ComfyUI names a long combo list by its length instead of printing it. */
#define MAX_LISTED_CHOICES 20

enum {
  NODE_UNSEEN,
  NODE_CHECKING,
  NODE_VALID,
  NODE_INVALID,
};

typedef struct
{
  JsonObject         *graph;
  const char * const *exclude;
  GHashTable         *state;    /* node id → NODE_* */
  GHashTable         *errors;   /* node id → JsonArray of its own errors */
} Check;

void
cdl_sim_validation_free (CdlSimValidation *validation)
{
  if (validation == NULL)
    return;

  g_free (validation->error_type);
  g_free (validation->message);
  g_free (validation->details);
  g_clear_pointer (&validation->node_errors, json_node_unref);
  g_strfreev (validation->good_outputs);
  g_free (validation);
}

char *
cdl_sim_format_float (double value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  gboolean fixed = fabs (value) >= 1e-4 && fabs (value) < 1e16;

  /* Python writes plain decimals in this range and exponents outside
   * it, each with the fewest digits that read back the same. */
  for (int digits = fixed ? 0 : 1; digits <= 17; digits++)
    {
      g_autofree char *format = g_strdup_printf (fixed ? "%%.%df" : "%%.%de",
                                                 fixed ? digits : digits - 1);

      g_ascii_formatd (buf, sizeof buf, format, value);
      if (g_ascii_strtod (buf, NULL) == value)
        break;
    }

  if (fixed && strchr (buf, '.') == NULL)
    return g_strconcat (buf, ".0", NULL);

  return g_strdup (buf);
}

static const CdlSimNode *
lookup_offered (Check      *check,
                const char *class_type)
{
  if (check->exclude != NULL && g_strv_contains (check->exclude, class_type))
    return NULL;

  return cdl_sim_nodes_lookup (class_type);
}

static JsonObject *
node_object (Check      *check,
             const char *id)
{
  JsonNode *node = json_object_get_member (check->graph, id);

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;

  return json_node_get_object (node);
}

static const char *
node_class_type (JsonObject *node)
{
  JsonNode *ct;

  if (node == NULL || !(ct = json_object_get_member (node, "class_type")) ||
      json_node_get_value_type (ct) != G_TYPE_STRING)
    return NULL;

  return json_node_get_string (ct);
}

static JsonObject *
node_inputs (JsonObject *node)
{
  JsonNode *inputs = json_object_get_member (node, "inputs");

  if (inputs == NULL || !JSON_NODE_HOLDS_OBJECT (inputs))
    return NULL;

  return json_node_get_object (inputs);
}

/* A link is [node_id, output_slot]. */
static gboolean
is_link (JsonNode *value)
{
  JsonArray *array;

  if (!JSON_NODE_HOLDS_ARRAY (value))
    return FALSE;

  array = json_node_get_array (value);

  return json_array_get_length (array) == 2 &&
         json_node_get_value_type (json_array_get_element (array, 0)) == G_TYPE_STRING &&
         json_node_get_value_type (json_array_get_element (array, 1)) == G_TYPE_INT64;
}

/* The input's entry in the node's GET /object_info answer. */
static JsonNode *
input_config (const CdlSimNode  *node,
              const CdlSimInput *in)
{
  static const char * const groups[] = { "required", "optional", "hidden" };
  g_autoptr(GString) text = g_string_new (NULL);
  g_autoptr(JsonNode) info = NULL;
  JsonObject *inputs;
  JsonObject *group;

  cdl_sim_node_append_info (node, text);
  info = json_from_string (text->str, NULL);
  if (info == NULL || !JSON_NODE_HOLDS_OBJECT (info))
    return json_node_new (JSON_NODE_NULL);

  inputs = json_object_get_object_member (json_node_get_object (info), "input");
  group = inputs ? json_object_get_object_member (inputs, groups[in->group]) : NULL;
  if (group == NULL || !json_object_has_member (group, in->name))
    return json_node_new (JSON_NODE_NULL);

  return json_node_copy (json_object_get_member (group, in->name));
}

static void
add_error (Check      *check,
           const char *id,
           const char *type,
           const char *message,
           const char *details,
           JsonObject *extra_info)
{
  JsonArray *list = g_hash_table_lookup (check->errors, id);
  JsonObject *error = json_object_new ();

  if (list == NULL)
    {
      list = json_array_new ();
      g_hash_table_insert (check->errors, g_strdup (id), list);
    }

  json_object_set_string_member (error, "type", type);
  json_object_set_string_member (error, "message", message);
  json_object_set_string_member (error, "details", details);
  json_object_set_object_member (error, "extra_info",
                                 extra_info ? extra_info : json_object_new ());
  json_array_add_object_element (list, error);
}

static JsonObject *
value_extra_info (const CdlSimNode  *node,
                  const CdlSimInput *in,
                  JsonNode          *value)
{
  JsonObject *extra = json_object_new ();

  json_object_set_string_member (extra, "input_name", in->name);
  json_object_set_member (extra, "input_config", input_config (node, in));
  json_object_set_member (extra, "received_value", json_node_copy (value));

  return extra;
}

/* Python's str () of a JSON scalar, for messages. */
static char *
python_str (JsonNode *value)
{
  GType type = JSON_NODE_HOLDS_VALUE (value) ? json_node_get_value_type (value)
                                             : G_TYPE_INVALID;

  if (type == G_TYPE_STRING)
    return g_strdup (json_node_get_string (value));
  if (type == G_TYPE_INT64)
    return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (value));
  if (type == G_TYPE_DOUBLE)
    return cdl_sim_format_float (json_node_get_double (value));
  if (type == G_TYPE_BOOLEAN)
    return g_strdup (json_node_get_boolean (value) ? "True" : "False");
  if (JSON_NODE_HOLDS_NULL (value))
    return g_strdup ("None");

  return json_to_string (value, FALSE);
}

static char *
python_list (const char * const *choices)
{
  GString *out = g_string_new ("[");
  guint n = g_strv_length ((char **) choices);

  if (n > MAX_LISTED_CHOICES)
    {
      g_string_free (out, TRUE);
      return g_strdup_printf ("(list of length %u)", n);
    }

  for (guint i = 0; i < n; i++)
    g_string_append_printf (out, "%s'%s'", i ? ", " : "", choices[i]);
  g_string_append_c (out, ']');

  return g_string_free (out, FALSE);
}

/* Converts @value as int () or float () would; FALSE if Python would
 * raise. */
static gboolean
to_number (JsonNode   *value,
           gboolean    integer,
           double     *out)
{
  GType type = JSON_NODE_HOLDS_VALUE (value) ? json_node_get_value_type (value)
                                             : G_TYPE_INVALID;

  if (type == G_TYPE_INT64)
    *out = (double) json_node_get_int (value);
  else if (type == G_TYPE_DOUBLE)
    *out = json_node_get_double (value);
  else if (type == G_TYPE_BOOLEAN)
    *out = json_node_get_boolean (value) ? 1 : 0;
  else if (type == G_TYPE_STRING)
    {
      const char *str = json_node_get_string (value);
      char *end = NULL;

      *out = g_ascii_strtod (str, &end);
      if (end == str || *g_strchug (end) != '\0' ||
          (integer && strpbrk (str, ".eE") != NULL))
        return FALSE;
    }
  else
    return FALSE;

  if (integer)
    *out = (double) (gint64) *out;

  return TRUE;
}

static char *
format_number (double   value,
               gboolean integer)
{
  if (integer)
    return g_strdup_printf ("%.0f", value);

  return cdl_sim_format_float (value);
}

static gboolean check_node (Check *check, const char *id);

static void
check_link (Check             *check,
            const char        *id,
            const CdlSimNode  *node,
            const CdlSimInput *in,
            JsonNode          *value,
            gboolean          *valid)
{
  JsonArray *link = json_node_get_array (value);
  const char *from = json_array_get_string_element (link, 0);
  gint64 slot = json_array_get_int_element (link, 1);
  JsonObject *linked = node_object (check, from);
  const CdlSimNode *linked_class;

  if (linked == NULL)
    {
      g_autofree char *quoted = g_strdup_printf ("'%s'", from);
      JsonObject *extra = json_object_new ();
      JsonArray *traceback = json_array_new ();

      json_array_add_string_element (traceback,
                                     "  File \"execution.py\", line 690, in "
                                     "validate_inputs\n    o_id = val[0]\n");
      json_object_set_string_member (extra, "input_name", in->name);
      json_object_set_member (extra, "input_config", input_config (node, in));
      json_object_set_member (extra, "received_value", json_node_copy (value));
      json_object_set_member (extra, "linked_node", json_node_copy (value));
      json_object_set_string_member (extra, "exception_message", quoted);
      json_object_set_string_member (extra, "exception_type", "KeyError");
      json_object_set_array_member (extra, "traceback", traceback);
      add_error (check, id, "exception_during_inner_validation",
                 "Exception when validating inner node", quoted, extra);
      *valid = FALSE;
      return;
    }

  linked_class = lookup_offered (check, node_class_type (linked));
  g_assert (linked_class != NULL);

  if (in->kind == CDL_SIM_INPUT_LINK &&
      (slot < 0 || slot >= cdl_sim_node_get_n_outputs (linked_class) ||
       !g_str_equal (linked_class->outputs[slot], in->type)))
    {
      const char *received = (slot >= 0 &&
                              slot < cdl_sim_node_get_n_outputs (linked_class))
                             ? linked_class->outputs[slot] : "None";
      g_autofree char *details =
        g_strdup_printf ("%s, received_type(%s) mismatch input_type(%s)",
                         in->name, received, in->type);
      JsonObject *extra = json_object_new ();

      json_object_set_string_member (extra, "input_name", in->name);
      json_object_set_member (extra, "input_config", input_config (node, in));
      json_object_set_string_member (extra, "received_type", received);
      json_object_set_member (extra, "linked_node", json_node_copy (value));
      add_error (check, id, "return_type_mismatch",
                 "Return type mismatch between linked nodes", details, extra);
      *valid = FALSE;
      return;
    }

  /* A node whose input node is invalid is invalid too, without an error
   * of its own. */
  if (!check_node (check, from))
    *valid = FALSE;
}

static void
check_value (Check             *check,
             const char        *id,
             const CdlSimNode  *node,
             const CdlSimInput *in,
             JsonNode          *value,
             gboolean          *valid)
{
  switch (in->kind)
    {
    case CDL_SIM_INPUT_INT:
    case CDL_SIM_INPUT_FLOAT:
      {
        gboolean integer = in->kind == CDL_SIM_INPUT_INT;
        double number;
        double max = (in->flags & CDL_SIM_INPUT_FLAG_MAX_U64) ? 18446744073709551615.0
                                                                : in->max;

        if (!to_number (value, integer, &number))
          {
            g_autofree char *shown = python_str (value);
            g_autofree char *message =
              g_strdup_printf ("Failed to convert an input value to a %s value",
                               integer ? "INT" : "FLOAT");
            g_autofree char *reason =
              g_strdup_printf ("could not convert '%s' to %s", shown,
                               integer ? "int" : "float");
            g_autofree char *details =
              g_strdup_printf ("%s, %s, %s", in->name, shown, reason);
            JsonObject *extra = value_extra_info (node, in, value);

            json_object_set_string_member (extra, "exception_message", reason);
            add_error (check, id, "invalid_input_type", message, details, extra);
            *valid = FALSE;
          }
        else if (number < in->min)
          {
            g_autofree char *got = format_number (number, integer);
            g_autofree char *lim = format_number (in->min, integer);
            g_autofree char *message =
              g_strdup_printf ("Value %s smaller than min of %s", got, lim);

            add_error (check, id, "value_smaller_than_min", message, in->name,
                       value_extra_info (node, in, value));
            *valid = FALSE;
          }
        else if (number > max)
          {
            g_autofree char *got = format_number (number, integer);
            g_autofree char *lim = (in->flags & CDL_SIM_INPUT_FLAG_MAX_U64)
                                   ? g_strdup (CDL_SIM_SEED_MAX_TEXT)
                                   : format_number (max, integer);
            g_autofree char *message =
              g_strdup_printf ("Value %s bigger than max of %s", got, lim);

            add_error (check, id, "value_bigger_than_max", message, in->name,
                       value_extra_info (node, in, value));
            *valid = FALSE;
          }
      }
      break;

    case CDL_SIM_INPUT_COMBO:
    case CDL_SIM_INPUT_COMBO_V3:
      if (json_node_get_value_type (value) != G_TYPE_STRING ||
          !g_strv_contains (in->choices, json_node_get_string (value)))
        {
          g_autofree char *shown = python_str (value);
          g_autofree char *list = python_list (in->choices);
          g_autofree char *details =
            g_strdup_printf ("%s: '%s' not in %s", in->name, shown, list);

          add_error (check, id, "value_not_in_list", "Value not in list",
                     details, value_extra_info (node, in, value));
          *valid = FALSE;
        }
      break;

    case CDL_SIM_INPUT_LINK:
    case CDL_SIM_INPUT_STRING:
    case CDL_SIM_INPUT_BOOLEAN:
    case CDL_SIM_INPUT_HIDDEN:
    default:
      /* ComfyUI lets these through and leaves it to the node. */
      break;
    }
}

static gboolean
check_node (Check      *check,
            const char *id)
{
  int state = GPOINTER_TO_INT (g_hash_table_lookup (check->state, id));
  JsonObject *obj;
  JsonObject *inputs;
  const CdlSimNode *node;
  gboolean valid = TRUE;

  if (state == NODE_VALID || state == NODE_CHECKING)
    return TRUE;
  if (state == NODE_INVALID)
    return FALSE;

  g_hash_table_insert (check->state, g_strdup (id),
                       GINT_TO_POINTER (NODE_CHECKING));

  obj = node_object (check, id);
  node = lookup_offered (check, node_class_type (obj));
  g_assert (node != NULL);
  inputs = node_inputs (obj);

  for (const CdlSimInput *in = node->inputs; in->name != NULL; in++)
    {
      JsonNode *value;

      if (in->group == CDL_SIM_GROUP_HIDDEN)
        continue;

      value = inputs ? json_object_get_member (inputs, in->name) : NULL;
      if (value == NULL)
        {
          if (in->group == CDL_SIM_GROUP_REQUIRED)
            {
              JsonObject *extra = json_object_new ();

              json_object_set_string_member (extra, "input_name", in->name);
              add_error (check, id, "required_input_missing",
                         "Required input is missing", in->name, extra);
              valid = FALSE;
            }
          continue;
        }

      if (is_link (value))
        check_link (check, id, node, in, value, &valid);
      else
        check_value (check, id, node, in, value, &valid);
    }

  g_hash_table_insert (check->state, g_strdup (id),
                       GINT_TO_POINTER (valid ? NODE_VALID : NODE_INVALID));

  return valid;
}

/* Every node @id depends on, itself included. */
static void
collect_upstream (Check      *check,
                  const char *id,
                  GHashTable *seen)
{
  JsonObject *obj = node_object (check, id);
  JsonObject *inputs = obj ? node_inputs (obj) : NULL;
  g_autoptr(GList) members = NULL;

  if (obj == NULL || g_hash_table_contains (seen, id))
    return;

  g_hash_table_add (seen, g_strdup (id));
  if (inputs == NULL)
    return;

  members = json_object_get_values (inputs);
  for (GList *l = members; l != NULL; l = l->next)
    {
      if (is_link (l->data))
        collect_upstream (check, json_array_get_string_element (
                            json_node_get_array (l->data), 0), seen);
    }
}

/* Node ids sort as numbers when they are numbers, as people expect. */
static int
compare_ids (gconstpointer a,
             gconstpointer b)
{
  const char *x = *(const char * const *) a;
  const char *y = *(const char * const *) b;
  char *xe, *ye;
  gint64 xn = g_ascii_strtoll (x, &xe, 10);
  gint64 yn = g_ascii_strtoll (y, &ye, 10);

  if (*xe == '\0' && *ye == '\0' && xe != x && ye != y && xn != yn)
    return xn < yn ? -1 : 1;

  return strcmp (x, y);
}

static CdlSimValidation *
reject (CdlSimValidation *v,
        const char       *type,
        const char       *message,
        const char       *details)
{
  v->error_type = g_strdup (type);
  v->message = g_strdup (message);
  v->details = g_strdup (details);

  return v;
}

CdlSimValidation *
cdl_sim_prompt_validate (JsonNode           *graph,
                         const char * const *exclude)
{
  g_autoptr(CdlSimValidation) v = g_new0 (CdlSimValidation, 1);
  g_autoptr(GPtrArray) outputs = g_ptr_array_new ();
  g_autoptr(GPtrArray) good = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GString) details = g_string_new (NULL);
  g_autoptr(GList) ids = NULL;
  JsonObject *node_errors = json_object_new ();
  Check check = { 0 };

  g_return_val_if_fail (graph != NULL && JSON_NODE_HOLDS_OBJECT (graph), NULL);

  v->node_errors = json_node_init_object (json_node_alloc (), node_errors);
  json_object_unref (node_errors);

  check.graph = json_node_get_object (graph);
  check.exclude = exclude;

  ids = json_object_get_members (check.graph);
  for (GList *l = ids; l != NULL; l = l->next)
    {
      const char *id = l->data;
      JsonObject *obj = node_object (&check, id);
      const char *class_type = node_class_type (obj);
      const CdlSimNode *node;
      g_autofree char *where = g_strdup_printf ("Node ID '#%s'", id);

      if (class_type == NULL)
        return reject (g_steal_pointer (&v), "invalid_prompt",
                       "Cannot execute because a node is missing the "
                       "class_type property.", where);

      node = lookup_offered (&check, class_type);
      if (node == NULL)
        {
          g_autofree char *message =
            g_strdup_printf ("Cannot execute because node %s does not exist.",
                             class_type);

          return reject (g_steal_pointer (&v), "invalid_prompt", message, where);
        }

      if (node->output_node)
        g_ptr_array_add (outputs, (gpointer) id);
    }

  if (outputs->len == 0)
    return reject (g_steal_pointer (&v), "prompt_no_outputs",
                   "Prompt has no outputs", "");

  g_ptr_array_sort (outputs, compare_ids);

  check.state = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  check.errors = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                        (GDestroyNotify) json_array_unref);

  for (guint i = 0; i < outputs->len; i++)
    {
      const char *out = g_ptr_array_index (outputs, i);
      g_autoptr(GHashTable) upstream = NULL;
      g_autofree const char **deps = NULL;
      guint n_deps;

      if (check_node (&check, out))
        {
          g_ptr_array_add (good, g_strdup (out));
          continue;
        }

      upstream = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      collect_upstream (&check, out, upstream);
      deps = (const char **) g_hash_table_get_keys_as_array (upstream, &n_deps);
      qsort (deps, n_deps, sizeof (char *), compare_ids);

      for (guint j = 0; j < n_deps; j++)
        {
          JsonArray *errors = g_hash_table_lookup (check.errors, deps[j]);
          JsonObject *entry;

          if (errors == NULL)
            continue;

          if (!json_object_has_member (node_errors, deps[j]))
            {
              entry = json_object_new ();
              json_object_set_array_member (entry, "errors",
                                            json_array_ref (errors));
              json_object_set_array_member (entry, "dependent_outputs",
                                            json_array_new ());
              json_object_set_string_member (entry, "class_type",
                                             node_class_type (node_object (&check, deps[j])));
              json_object_set_object_member (node_errors, deps[j], entry);

              for (guint k = 0; k < json_array_get_length (errors); k++)
                {
                  JsonObject *e = json_array_get_object_element (errors, k);

                  g_string_append_printf (details, "%s%s: %s",
                                          details->len ? "\n" : "",
                                          json_object_get_string_member (e, "message"),
                                          json_object_get_string_member (e, "details"));
                }
            }

          entry = json_object_get_object_member (node_errors, deps[j]);
          json_array_add_string_element (json_object_get_array_member (entry,
                                                                       "dependent_outputs"),
                                         out);
        }
    }

  g_clear_pointer (&check.state, g_hash_table_unref);
  g_clear_pointer (&check.errors, g_hash_table_unref);

  g_ptr_array_add (good, NULL);
  v->good_outputs = (GStrv) g_ptr_array_free (g_steal_pointer (&good), FALSE);

  if (v->good_outputs[0] == NULL)
    return reject (g_steal_pointer (&v), "prompt_outputs_failed_validation",
                   "Prompt outputs failed validation", details->str);

  return g_steal_pointer (&v);
}

JsonNode *
cdl_sim_validation_error_to_json (const CdlSimValidation *validation)
{
  JsonObject *obj = json_object_new ();
  JsonNode *node;

  g_return_val_if_fail (validation != NULL, NULL);

  json_object_set_string_member (obj, "type", validation->error_type);
  json_object_set_string_member (obj, "message", validation->message);
  json_object_set_string_member (obj, "details", validation->details);
  json_object_set_object_member (obj, "extra_info", json_object_new ());

  node = json_node_init_object (json_node_alloc (), obj);
  json_object_unref (obj);

  return node;
}
