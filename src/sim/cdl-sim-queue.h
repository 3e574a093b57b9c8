/* cdl-sim-queue.h: the prompt queue of the simulated worker
 *
 * Holds what GET /queue reports: items [number, prompt_id, graph,
 * extra_data, outputs_to_execute], running and pending. Numbers count up
 * from 0 per accepted prompt, and down from -1 for prompts sent with
 * "front": true, as in ComfyUI; pending items run lowest number first.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct
{
  gint64    number;
  char     *prompt_id;
  JsonNode *graph;               /* {node_id: {class_type, inputs}} */
  JsonNode *extra_data;          /* {"client_id": …} */
  GStrv     outputs_to_execute;  /* output node ids */
} CdlSimQueueItem;

CdlSimQueueItem *cdl_sim_queue_item_new  (gint64              number,
                                          const char         *prompt_id,
                                          JsonNode           *graph,
                                          JsonNode           *extra_data,
                                          const char * const *outputs_to_execute);
void             cdl_sim_queue_item_free (CdlSimQueueItem    *item);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlSimQueueItem, cdl_sim_queue_item_free)

typedef struct _CdlSimQueue CdlSimQueue;

CdlSimQueue     *cdl_sim_queue_new            (void);
void             cdl_sim_queue_free           (CdlSimQueue      *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlSimQueue, cdl_sim_queue_free)

/* The number the next accepted prompt gets. */
gint64           cdl_sim_queue_take_number    (CdlSimQueue      *self,
                                               gboolean          front);
/* Takes @item into the pending list. */
void             cdl_sim_queue_push           (CdlSimQueue      *self,
                                               CdlSimQueueItem  *item);
/* Moves the pending item with the lowest number to the running list and
 * returns it (owned by the queue), or NULL when nothing is pending. */
CdlSimQueueItem *cdl_sim_queue_start_next     (CdlSimQueue      *self);
/* Takes @item straight into the running list. */
void             cdl_sim_queue_add_running    (CdlSimQueue      *self,
                                               CdlSimQueueItem  *item);
/* Removes a running item and hands it to the caller. */
CdlSimQueueItem *cdl_sim_queue_finish         (CdlSimQueue      *self,
                                               const char       *prompt_id);
gboolean         cdl_sim_queue_delete_pending (CdlSimQueue      *self,
                                               const char       *prompt_id);
void             cdl_sim_queue_clear_pending  (CdlSimQueue      *self);
/* Drops every item, running ones too. */
void             cdl_sim_queue_clear          (CdlSimQueue      *self);
CdlSimQueueItem *cdl_sim_queue_find           (CdlSimQueue      *self,
                                               const char       *prompt_id);
guint            cdl_sim_queue_get_n_pending  (CdlSimQueue      *self);
guint            cdl_sim_queue_get_n_running  (CdlSimQueue      *self);

/* One item as ComfyUI writes it: [number, prompt_id, graph, extra, outs]. */
JsonNode        *cdl_sim_queue_item_to_json   (const CdlSimQueueItem *item);
/* The GET /queue body. */
JsonNode        *cdl_sim_queue_to_json        (CdlSimQueue      *self);

G_END_DECLS
