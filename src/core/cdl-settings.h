/* cdl-settings.h: the admin settings every instance shares
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Keys, as stored in the settings table and shown by the REST API. */
#define CDL_SETTING_MAX_WORKFLOW_BATCH_SIZE  "max_workflow_batch_size"
#define CDL_SETTING_RESOLUTION_MIN_SIDE      "resolution_min_side"
#define CDL_SETTING_RESOLUTION_MAX_SIDE      "resolution_max_side"
#define CDL_SETTING_RESOLUTION_MAX_PIXELS    "resolution_max_pixels"
#define CDL_SETTING_FORBIDDEN_NODE_TYPES     "forbidden_node_types"
#define CDL_SETTING_CONTROLNET_ALLOWED       "controlnet_allowed"
#define CDL_SETTING_QUEUE_DEPTH_THRESHOLD    "queue_depth_threshold"
#define CDL_SETTING_PILOT_RATE_LIMIT_SECONDS "pilot_rate_limit_seconds"
#define CDL_SETTING_FREE_EVERY_N_JOBS        "free_every_n_jobs"

/* Limits of the values a PATCH may set. */
#define CDL_SETTINGS_BATCH_SIZE_LIMIT   4096
#define CDL_SETTINGS_SIDE_LIMIT         65536
#define CDL_SETTINGS_FORBIDDEN_MAX      1000

typedef struct
{
  int        max_workflow_batch_size;   /* default 8, 1 … 4096 */
  int        resolution_min_side;       /* default 256, 1 … 65536 */
  int        resolution_max_side;       /* default 2048, ≥ min side */
  int        resolution_max_pixels;     /* default 4194304 (2048²) */
  char     **forbidden_node_types;      /* class_type names; never NULL */
  gboolean   controlnet_allowed;        /* default TRUE */
  int        queue_depth_threshold;     /* default 1, ≥ 1 */
  int        pilot_rate_limit_seconds;  /* default 30, ≥ 0 (0: no limit) */
  int        free_every_n_jobs;         /* default 50, ≥ 0 (0: never) */
} CdlSettings;

#define CDL_TYPE_SETTINGS (cdl_settings_get_type ())

GType        cdl_settings_get_type        (void) G_GNUC_CONST;

/* The defaults listed above. */
CdlSettings *cdl_settings_new             (void);
CdlSettings *cdl_settings_copy            (const CdlSettings *settings);
void         cdl_settings_free            (CdlSettings       *settings);

/* The known keys, in display order; NULL-terminated, static. */
const char * const *cdl_settings_get_keys (void);

/* Sets one key from a JSON value, checking its type and range alone.
 * Errors are CDL_INPUT_ERROR_INVALID (core/cdl-worker-input.h) with a
 * message that starts with the key name; an unknown key is an error. */
gboolean     cdl_settings_set_member      (CdlSettings       *settings,
                                           const char        *key,
                                           JsonNode          *value,
                                           GError           **error);

/* Checks the rules between keys (min side ≤ max side …); the message
 * starts with the name of the key at fault. */
gboolean     cdl_settings_validate        (const CdlSettings *settings,
                                           GError           **error);

/* Applies a PATCH body (a JSON object of some keys) to a copy of @base and
 * validates the result. Returns the new settings, or NULL with an error
 * naming the first bad key. An empty object is an error. Passing the whole
 * cdl_settings_to_json() of edited settings is a valid patch. */
CdlSettings *cdl_settings_apply_patch     (const CdlSettings *base,
                                           JsonNode          *patch,
                                           GError           **error);

/* The member for one key, e.g. to store it; NULL for an unknown key. */
JsonNode    *cdl_settings_get_member      (const CdlSettings *settings,
                                           const char        *key);

/* {"max_workflow_batch_size": 8, …} with every key. */
JsonNode    *cdl_settings_to_json         (const CdlSettings *settings);

/* Whether a class_type is forbidden by these settings alone: the admin
 * list, or a ControlNet node (class name containing "ControlNet") when
 * controlnet_allowed is FALSE. */
gboolean     cdl_settings_forbids_node    (const CdlSettings *settings,
                                           const char        *class_type);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlSettings, cdl_settings_free)

G_END_DECLS
