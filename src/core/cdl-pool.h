/* cdl-pool.h: variable pools, their versions and the fields of a create
 * or edit
 *
 * A pool's name is the {slot} a prompt template uses. Every edit of the
 * items or the mode makes a new version; tasks pin the version they were
 * built from, so old versions stay readable.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef enum
{
  /* Each pool's items are drawn without replacement: the K prompts of a
   * task use K different items of the pool (K ≤ the pool's size). */
  CDL_POOL_MODE_NO_REPLACEMENT,
  /* Items may repeat across prompts, but no two prompts share the same
   * combination of items of all the task's pools. */
  CDL_POOL_MODE_PERMUTATION,
} CdlPoolMode;

const char *cdl_pool_mode_to_string   (CdlPoolMode  mode);
gboolean    cdl_pool_mode_from_string (const char  *text,
                                       CdlPoolMode *mode);

/* Limits shared by the REST API and the desktop dialog. */
#define CDL_POOL_NAME_MAX       64
#define CDL_POOL_ITEMS_MAX      100000
#define CDL_POOL_ITEM_MAX_CHARS 4000

/* ^[A-Za-z_][A-Za-z0-9_]{0,63}$: the name is a template slot. */
gboolean    cdl_pool_name_is_valid    (const char  *name);

typedef struct
{
  char        *id;
  char        *name;
  CdlPoolMode  mode;             /* of this version */
  int          version;          /* the version whose items these are */
  int          current_version;  /* the newest version of the pool */
  char       **items;            /* never NULL */
  GDateTime   *version_created_at;
  GDateTime   *created_at;
  GDateTime   *updated_at;
} CdlPoolData;

void cdl_pool_data_clear (CdlPoolData *data);

#define CDL_TYPE_POOL (cdl_pool_get_type ())

G_DECLARE_FINAL_TYPE (CdlPool, cdl_pool, CDL, POOL, GObject)

/* Takes the contents of @data (which is zeroed). */
CdlPool           *cdl_pool_new            (CdlPoolData *data);
const CdlPoolData *cdl_pool_get_data       (CdlPool     *self);
const char        *cdl_pool_get_id         (CdlPool     *self);
const char        *cdl_pool_get_name       (CdlPool     *self);
CdlPoolMode        cdl_pool_get_mode       (CdlPool     *self);
int                cdl_pool_get_version    (CdlPool     *self);
int                cdl_pool_get_current_version (CdlPool *self);
const char * const *cdl_pool_get_items     (CdlPool     *self);
guint              cdl_pool_get_n_items    (CdlPool     *self);

/* {id, name, mode, version, current_version, item_count, created_at,
 *  updated_at, version_created_at} plus items when @with_items. */
JsonNode          *cdl_pool_to_json        (CdlPool     *self,
                                            gboolean     with_items);

typedef enum
{
  CDL_POOL_FIELD_NAME  = 1 << 0,
  CDL_POOL_FIELD_MODE  = 1 << 1,
  CDL_POOL_FIELD_ITEMS = 1 << 2,
} CdlPoolFields;

typedef struct
{
  CdlPoolFields   set;    /* which of the fields below were given */
  char           *name;
  CdlPoolMode     mode;
  char          **items;  /* cleaned by validation: trimmed, de-duplicated
                           * (first one kept), empty ones dropped */
} CdlPoolInput;

CdlPoolInput *cdl_pool_input_new       (void);
void          cdl_pool_input_free      (CdlPoolInput  *input);

/* Parses a JSON body: {name, mode, items} for a create (all required),
 * {items?, mode?} for an edit (a name cannot change: it is the slot that
 * templates use). Errors are CDL_INPUT_ERROR_INVALID (core/cdl-worker-input.h)
 * with a message that starts with the offending field's name. */
CdlPoolInput *cdl_pool_input_from_json (JsonNode      *node,
                                        gboolean       for_create,
                                        GError       **error);

/* Checks and cleans the fields that are set; used by the JSON parser and
 * by the desktop dialog, which fills the struct by hand. At least one item
 * must remain after cleaning. */
gboolean      cdl_pool_input_validate  (CdlPoolInput  *input,
                                        gboolean       for_create,
                                        GError       **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlPoolInput, cdl_pool_input_free)

G_END_DECLS
