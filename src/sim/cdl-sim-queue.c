/* cdl-sim-queue.c: the prompt queue of the simulated worker
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-sim"

#include "config.h"

#include "cdl-sim-queue.h"

struct _CdlSimQueue
{
  GPtrArray *running;   /* CdlSimQueueItem, in start order */
  GPtrArray *pending;   /* CdlSimQueueItem, lowest number first */
  gint64     next_number;
  gint64     next_front_number;
};

CdlSimQueueItem *
cdl_sim_queue_item_new (gint64              number,
                        const char         *prompt_id,
                        JsonNode           *graph,
                        JsonNode           *extra_data,
                        const char * const *outputs_to_execute)
{
  CdlSimQueueItem *item;

  g_return_val_if_fail (prompt_id != NULL, NULL);
  g_return_val_if_fail (graph != NULL, NULL);

  item = g_new0 (CdlSimQueueItem, 1);
  item->number = number;
  item->prompt_id = g_strdup (prompt_id);
  item->graph = json_node_ref (graph);
  if (extra_data != NULL)
    item->extra_data = json_node_ref (extra_data);
  else
    item->extra_data = json_node_init_object (json_node_alloc (),
                                              json_object_new ());
  item->outputs_to_execute = g_strdupv ((char **) outputs_to_execute);
  if (item->outputs_to_execute == NULL)
    item->outputs_to_execute = g_new0 (char *, 1);

  return item;
}

void
cdl_sim_queue_item_free (CdlSimQueueItem *item)
{
  if (item == NULL)
    return;

  g_free (item->prompt_id);
  json_node_unref (item->graph);
  json_node_unref (item->extra_data);
  g_strfreev (item->outputs_to_execute);
  g_free (item);
}

CdlSimQueue *
cdl_sim_queue_new (void)
{
  CdlSimQueue *self = g_new0 (CdlSimQueue, 1);

  self->running = g_ptr_array_new_with_free_func (
      (GDestroyNotify) cdl_sim_queue_item_free);
  self->pending = g_ptr_array_new_with_free_func (
      (GDestroyNotify) cdl_sim_queue_item_free);
  self->next_number = 0;
  self->next_front_number = -1;

  return self;
}

void
cdl_sim_queue_free (CdlSimQueue *self)
{
  if (self == NULL)
    return;

  g_ptr_array_unref (self->running);
  g_ptr_array_unref (self->pending);
  g_free (self);
}

gint64
cdl_sim_queue_take_number (CdlSimQueue *self,
                           gboolean     front)
{
  g_return_val_if_fail (self != NULL, 0);

  if (front)
    return self->next_front_number--;

  return self->next_number++;
}

void
cdl_sim_queue_push (CdlSimQueue     *self,
                    CdlSimQueueItem *item)
{
  guint i;

  g_return_if_fail (self != NULL);
  g_return_if_fail (item != NULL);

  for (i = 0; i < self->pending->len; i++)
    {
      CdlSimQueueItem *other = g_ptr_array_index (self->pending, i);

      if (other->number > item->number)
        break;
    }

  g_ptr_array_insert (self->pending, i, item);
}

CdlSimQueueItem *
cdl_sim_queue_start_next (CdlSimQueue *self)
{
  CdlSimQueueItem *item;

  g_return_val_if_fail (self != NULL, NULL);

  if (self->pending->len == 0)
    return NULL;

  item = g_ptr_array_steal_index (self->pending, 0);
  g_ptr_array_add (self->running, item);

  return item;
}

void
cdl_sim_queue_add_running (CdlSimQueue     *self,
                           CdlSimQueueItem *item)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (item != NULL);

  g_ptr_array_add (self->running, item);
}

static int
find_index (GPtrArray  *items,
            const char *prompt_id)
{
  for (guint i = 0; i < items->len; i++)
    {
      CdlSimQueueItem *item = g_ptr_array_index (items, i);

      if (g_str_equal (item->prompt_id, prompt_id))
        return (int) i;
    }

  return -1;
}

CdlSimQueueItem *
cdl_sim_queue_finish (CdlSimQueue *self,
                      const char  *prompt_id)
{
  int i;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (prompt_id != NULL, NULL);

  i = find_index (self->running, prompt_id);
  if (i < 0)
    return NULL;

  return g_ptr_array_steal_index (self->running, i);
}

gboolean
cdl_sim_queue_delete_pending (CdlSimQueue *self,
                              const char  *prompt_id)
{
  int i;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (prompt_id != NULL, FALSE);

  i = find_index (self->pending, prompt_id);
  if (i < 0)
    return FALSE;

  g_ptr_array_remove_index (self->pending, i);

  return TRUE;
}

void
cdl_sim_queue_clear_pending (CdlSimQueue *self)
{
  g_return_if_fail (self != NULL);

  g_ptr_array_set_size (self->pending, 0);
}

void
cdl_sim_queue_clear (CdlSimQueue *self)
{
  g_return_if_fail (self != NULL);

  g_ptr_array_set_size (self->pending, 0);
  g_ptr_array_set_size (self->running, 0);
}

CdlSimQueueItem *
cdl_sim_queue_find (CdlSimQueue *self,
                    const char  *prompt_id)
{
  int i;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (prompt_id != NULL, NULL);

  if ((i = find_index (self->running, prompt_id)) >= 0)
    return g_ptr_array_index (self->running, i);
  if ((i = find_index (self->pending, prompt_id)) >= 0)
    return g_ptr_array_index (self->pending, i);

  return NULL;
}

guint
cdl_sim_queue_get_n_pending (CdlSimQueue *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->pending->len;
}

guint
cdl_sim_queue_get_n_running (CdlSimQueue *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->running->len;
}

JsonNode *
cdl_sim_queue_item_to_json (const CdlSimQueueItem *item)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  g_return_val_if_fail (item != NULL, NULL);

  json_builder_begin_array (builder);
  json_builder_add_int_value (builder, item->number);
  json_builder_add_string_value (builder, item->prompt_id);
  json_builder_add_value (builder, json_node_copy (item->graph));
  json_builder_add_value (builder, json_node_copy (item->extra_data));
  json_builder_begin_array (builder);
  for (guint i = 0; item->outputs_to_execute[i] != NULL; i++)
    json_builder_add_string_value (builder, item->outputs_to_execute[i]);
  json_builder_end_array (builder);
  json_builder_end_array (builder);

  return json_builder_get_root (builder);
}

static void
add_items (JsonBuilder *builder,
           GPtrArray   *items)
{
  json_builder_begin_array (builder);
  for (guint i = 0; i < items->len; i++)
    json_builder_add_value (builder,
                            cdl_sim_queue_item_to_json (g_ptr_array_index (items, i)));
  json_builder_end_array (builder);
}

JsonNode *
cdl_sim_queue_to_json (CdlSimQueue *self)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  g_return_val_if_fail (self != NULL, NULL);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "queue_running");
  add_items (builder, self->running);
  json_builder_set_member_name (builder, "queue_pending");
  add_items (builder, self->pending);
  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}
