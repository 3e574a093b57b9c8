/* cdl-server-config.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-server"

#include "config.h"

#include <errno.h>
#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "app/cdl-server-config.h"

typedef enum { KEY_STRING, KEY_INT, KEY_DOUBLE, KEY_INT64 } KeyType;

typedef struct
{
  const char *group;
  const char *key;
  KeyType     type;
  gsize       offset;
  double      min;
  double      max;
} Key;

#define FIELD(f) G_STRUCT_OFFSET (CdlServerConfig, f)

static const Key keys[] = {
  { "database", "url", KEY_STRING, FIELD (database_url), 0, 0 },
  { "database", "password_file", KEY_STRING, FIELD (password_file), 0, 0 },
  { "server", "bind", KEY_STRING, FIELD (bind), 0, 0 },
  { "server", "port", KEY_INT, FIELD (port), 0, 65535 },
  { "server", "data_dir", KEY_STRING, FIELD (data_dir), 0, 0 },
  { "server", "storage_dir", KEY_STRING, FIELD (storage_dir), 0, 0 },
  { "server", "health_interval", KEY_DOUBLE, FIELD (health_interval), 0.1, 86400 },
  { "server", "metrics_bind", KEY_STRING, FIELD (metrics_bind), 0, 0 },
  { "server", "shutdown_timeout", KEY_DOUBLE, FIELD (shutdown_timeout), 0, 600 },
  { "alerts", "webhook_url", KEY_STRING, FIELD (webhook_url), 0, 0 },
  { "alerts", "storage_min_free_mb", KEY_INT64, FIELD (storage_min_free_mb), 1, 1e9 },
  { "alerts", "stall_seconds", KEY_INT, FIELD (stall_seconds), 10, 86400 * 7 },
  { "alerts", "interval", KEY_INT, FIELD (alert_interval), 1, 86400 },
};

void
cdl_server_config_init (CdlServerConfig *config)
{
  memset (config, 0, sizeof *config);
  config->port = -1;
  config->health_interval = -1;
  config->shutdown_timeout = -1;
  config->storage_min_free_mb = -1;
  config->stall_seconds = -1;
  config->alert_interval = -1;
}

void
cdl_server_config_clear (CdlServerConfig *config)
{
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    if (keys[i].type == KEY_STRING)
      g_clear_pointer ((char **)G_STRUCT_MEMBER_P (config, keys[i].offset), g_free);
}

static const Key *
find_key (const char *group,
          const char *key)
{
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    if (strcmp (keys[i].group, group) == 0 && strcmp (keys[i].key, key) == 0)
      return &keys[i];

  return NULL;
}

static gboolean
read_key (GKeyFile         *file,
          const char       *path,
          const Key        *k,
          CdlServerConfig  *config,
          GError          **error)
{
  g_autoptr(GError) local = NULL;
  gpointer field = G_STRUCT_MEMBER_P (config, k->offset);
  double value;

  if (k->type == KEY_STRING)
    {
      g_autofree char *text = g_key_file_get_string (file, k->group, k->key, error);

      if (text == NULL)
        return FALSE;
      g_strstrip (text);
      g_free (*(char **)field);
      *(char **)field = *text ? g_steal_pointer (&text) : NULL;
      return TRUE;
    }

  value = g_key_file_get_double (file, k->group, k->key, &local);
  if (local != NULL || value < k->min || value > k->max
      || (k->type != KEY_DOUBLE && value != (gint64)value))
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                   "%s: [%s] %s must be a %s from %g to %g", path, k->group, k->key,
                   k->type == KEY_DOUBLE ? "number" : "whole number", k->min, k->max);
      return FALSE;
    }

  if (k->type == KEY_INT)
    *(int *)field = (int)value;
  else if (k->type == KEY_INT64)
    *(gint64 *)field = (gint64)value;
  else
    *(double *)field = value;

  return TRUE;
}

static gboolean
check_database_url (const char  *path,
                    const char  *url,
                    GError     **error)
{
  g_autoptr(GUri) uri = NULL;

  if (url == NULL)
    return TRUE;

  if (g_str_has_prefix (url, "postgres://") || g_str_has_prefix (url, "postgresql://"))
    {
      uri = g_uri_parse (url, G_URI_FLAGS_HAS_PASSWORD | G_URI_FLAGS_ENCODED, NULL);
      if (uri == NULL)
        {
          g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                       "%s: [database] url is not a valid postgresql:// URL", path);
          return FALSE;
        }
      if (g_uri_get_password (uri) != NULL
          || (g_uri_get_query (uri) != NULL && strstr (g_uri_get_query (uri), "password=")))
        goto has_password;
      return TRUE;
    }

  if (strstr (url, "password=") != NULL)
    goto has_password;

  return TRUE;

has_password:
  g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
               "%s: [database] url must not carry the password; set PGPASSWORD or "
               "[database] password_file (a file readable by the server only)", path);
  return FALSE;
}

gboolean
cdl_server_config_load (CdlServerConfig  *config,
                        const char       *path,
                        GError          **error)
{
  g_autoptr(GKeyFile) file = g_key_file_new ();
  g_autoptr(GError) local = NULL;
  g_auto(GStrv) groups = NULL;

  if (!g_key_file_load_from_file (file, path, G_KEY_FILE_NONE, &local))
    {
      g_set_error (error, local->domain, local->code, "Cannot read the configuration %s: %s",
                   path, local->message);
      return FALSE;
    }

  groups = g_key_file_get_groups (file, NULL);
  for (guint g = 0; groups[g] != NULL; g++)
    {
      g_auto(GStrv) names = g_key_file_get_keys (file, groups[g], NULL, NULL);

      for (guint i = 0; names != NULL && names[i] != NULL; i++)
        {
          const Key *k = find_key (groups[g], names[i]);

          if (k == NULL)
            {
              g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND,
                           "%s: unknown key [%s] %s", path, groups[g], names[i]);
              return FALSE;
            }
          if (!read_key (file, path, k, config, error))
            return FALSE;
        }
    }

  if (!check_database_url (path, config->database_url, error))
    return FALSE;

  if (config->metrics_bind != NULL)
    {
      g_autofree char *host = NULL;
      guint port;

      if (!cdl_server_parse_address (config->metrics_bind, &host, &port, &local))
        {
          g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                       "%s: [server] metrics_bind: %s", path, local->message);
          return FALSE;
        }
    }

  if (config->webhook_url != NULL
      && !g_str_has_prefix (config->webhook_url, "http://")
      && !g_str_has_prefix (config->webhook_url, "https://"))
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                   "%s: [alerts] webhook_url must be an http:// or https:// URL", path);
      return FALSE;
    }

  return TRUE;
}

gboolean
cdl_server_config_apply_password (CdlServerConfig  *config,
                                  GError          **error)
{
  g_autofree char *contents = NULL;
  GStatBuf st;

  if (config->password_file == NULL)
    return TRUE;

  if (g_stat (config->password_file, &st) != 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                   "Cannot read the password file %s: %s", config->password_file,
                   g_strerror (errno));
      return FALSE;
    }

  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_PERM,
                   "The password file %s can be read by others; chmod 600 it",
                   config->password_file);
      return FALSE;
    }

  if (!g_file_get_contents (config->password_file, &contents, NULL, error))
    return FALSE;

  g_strchomp (contents);
  g_setenv ("PGPASSWORD", contents, TRUE);
  memset (contents, 0, strlen (contents));

  return TRUE;
}

gboolean
cdl_server_parse_address (const char  *text,
                          char       **host,
                          guint       *port,
                          GError     **error)
{
  const char *colon = strrchr (text, ':');
  g_autofree char *name = NULL;
  g_autoptr(GInetAddress) inet = NULL;
  guint64 number;

  if (colon == NULL
      || !g_ascii_string_to_unsigned (colon + 1, 10, 1, 65535, &number, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "%s is not ADDRESS:PORT (e.g. 127.0.0.1:9470)", text);
      return FALSE;
    }

  name = g_strndup (text, colon - text);
  if (name[0] == '[' && name[strlen (name) - 1] == ']')
    {
      char *inner = g_strndup (name + 1, strlen (name) - 2);

      g_free (name);
      name = inner;
    }

  inet = g_inet_address_new_from_string (name);
  if (inet == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "%s is not an IP address", name);
      return FALSE;
    }

  *host = g_steal_pointer (&name);
  *port = (guint)number;

  return TRUE;
}

void
cdl_server_sd_notify (const char *state)
{
  const char *path = g_getenv ("NOTIFY_SOCKET");
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GError) error = NULL;

  if (path == NULL || *path == '\0')
    return;

  if (path[0] == '@')
    address = g_unix_socket_address_new_with_type (path + 1, -1,
                                                   G_UNIX_SOCKET_ADDRESS_ABSTRACT);
  else
    address = g_unix_socket_address_new (path);

  socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_DATAGRAM,
                         G_SOCKET_PROTOCOL_DEFAULT, &error);
  if (socket == NULL
      || g_socket_send_to (socket, address, state, strlen (state), NULL, &error) < 0)
    g_debug ("Cannot notify systemd of %s: %s", state, error->message);
}
