/* cdl-json.h: small json-glib helpers shared by every layer
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* ISO 8601 in UTC with milliseconds ("2026-12-03T13:00:00.000Z"), or a
 * JSON null for NULL. */
void       cdl_json_add_datetime   (JsonBuilder *builder,
                                    const char  *member,
                                    GDateTime   *dt);
void       cdl_json_add_string_or_null (JsonBuilder *builder,
                                        const char  *member,
                                        const char  *value);
void       cdl_json_add_strv       (JsonBuilder       *builder,
                                    const char        *member,
                                    const char * const *strv);

/* Parses @data as JSON; the error says where the syntax broke. */
JsonNode  *cdl_json_parse          (const char  *data,
                                    gssize       length,
                                    GError     **error);

char      *cdl_json_to_string      (JsonNode    *node,
                                    gboolean     pretty);

/* A copy that shares nothing with @node: json_node_copy() only takes a
 * reference on objects and arrays, so editing its result edits @node. */
JsonNode  *cdl_json_deep_copy      (JsonNode    *node);

G_END_DECLS
