/* cdl-sim-history.c: the finished prompts of the simulated worker
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-sim"

#include "config.h"

#include "cdl-sim-history.h"

struct _CdlSimHistory
{
  GHashTable *entries;   /* prompt_id → JsonNode */
  GQueue      order;     /* prompt_id strings, owned, oldest first */
};

CdlSimHistory *
cdl_sim_history_new (void)
{
  CdlSimHistory *self = g_new0 (CdlSimHistory, 1);

  self->entries = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                         (GDestroyNotify) json_node_unref);
  g_queue_init (&self->order);

  return self;
}

void
cdl_sim_history_free (CdlSimHistory *self)
{
  if (self == NULL)
    return;

  g_hash_table_unref (self->entries);
  g_queue_clear_full (&self->order, g_free);
  g_free (self);
}

gboolean
cdl_sim_history_remove (CdlSimHistory *self,
                        const char    *prompt_id)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (prompt_id != NULL, FALSE);

  for (GList *l = self->order.head; l != NULL; l = l->next)
    {
      if (g_str_equal (l->data, prompt_id))
        {
          char *id = l->data;

          g_hash_table_remove (self->entries, id);
          g_queue_delete_link (&self->order, l);
          g_free (id);
          return TRUE;
        }
    }

  return FALSE;
}

void
cdl_sim_history_add (CdlSimHistory *self,
                     const char    *prompt_id,
                     JsonNode      *entry)
{
  char *id;

  g_return_if_fail (self != NULL);
  g_return_if_fail (prompt_id != NULL);
  g_return_if_fail (entry != NULL);

  if (g_hash_table_contains (self->entries, prompt_id))
    cdl_sim_history_remove (self, prompt_id);

  id = g_strdup (prompt_id);
  g_queue_push_tail (&self->order, id);
  g_hash_table_insert (self->entries, id, entry);

  while (self->order.length > CDL_SIM_HISTORY_MAX)
    {
      char *oldest = g_queue_pop_head (&self->order);

      g_hash_table_remove (self->entries, oldest);
      g_free (oldest);
    }
}

JsonNode *
cdl_sim_history_lookup (CdlSimHistory *self,
                        const char    *prompt_id)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (prompt_id != NULL, NULL);

  return g_hash_table_lookup (self->entries, prompt_id);
}

void
cdl_sim_history_clear (CdlSimHistory *self)
{
  g_return_if_fail (self != NULL);

  g_hash_table_remove_all (self->entries);
  g_queue_clear_full (&self->order, g_free);
  g_queue_init (&self->order);
}

guint
cdl_sim_history_get_length (CdlSimHistory *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->order.length;
}

JsonNode *
cdl_sim_history_to_json (CdlSimHistory *self,
                         gint64         max_items,
                         gint64         offset)
{
  JsonObject *out = json_object_new ();
  JsonNode *root;
  gint64 i = 0;

  g_return_val_if_fail (self != NULL, NULL);

  if (offset < 0 && max_items >= 0)
    offset = (gint64) self->order.length - max_items;

  for (GList *l = self->order.head; l != NULL; l = l->next, i++)
    {
      if (i < offset)
        continue;

      if (max_items >= 0 && (gint64) json_object_get_size (out) >= max_items)
        break;

      json_object_set_member (out, l->data,
                              json_node_copy (g_hash_table_lookup (self->entries,
                                                                   l->data)));
    }

  root = json_node_init_object (json_node_alloc (), out);
  json_object_unref (out);

  return root;
}
