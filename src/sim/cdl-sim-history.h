/* cdl-sim-history.h: the finished prompts of the simulated worker
 *
 * Entries keep the order they finished in, as ComfyUI's history does, and
 * the oldest ones go once there are more than CDL_SIM_HISTORY_MAX.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define CDL_SIM_HISTORY_MAX 10000

typedef struct _CdlSimHistory CdlSimHistory;

CdlSimHistory *cdl_sim_history_new    (void);
void           cdl_sim_history_free   (CdlSimHistory *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlSimHistory, cdl_sim_history_free)

/* Takes @entry; an entry with the same id is replaced and moves last. */
void           cdl_sim_history_add    (CdlSimHistory *self,
                                       const char    *prompt_id,
                                       JsonNode      *entry);
JsonNode      *cdl_sim_history_lookup (CdlSimHistory *self,
                                       const char    *prompt_id);
gboolean       cdl_sim_history_remove (CdlSimHistory *self,
                                       const char    *prompt_id);
void           cdl_sim_history_clear  (CdlSimHistory *self);
guint          cdl_sim_history_get_length (CdlSimHistory *self);

/* The GET /history body: with @max_items < 0 every entry; otherwise, as
 * ComfyUI counts, at most @max_items entries starting at @offset, or the
 * latest @max_items when @offset < 0. */
JsonNode      *cdl_sim_history_to_json (CdlSimHistory *self,
                                        gint64         max_items,
                                        gint64         offset);

G_END_DECLS
