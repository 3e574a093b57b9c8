/* cdl-server-config.h: the configuration file of comfy-datalabel-server
 *
 * A GKeyFile (see data/comfy-datalabel-server.conf). The database URL
 * carries no password: libpq takes it from PGPASSWORD or from the 0600
 * file named by password_file. Unknown keys are errors, so that a typo
 * does not silently keep a default.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  char    *database_url;
  char    *password_file;
  char    *bind;
  int      port;               /* -1: not set */
  char    *data_dir;
  char    *storage_dir;
  double   health_interval;    /* seconds; < 0: not set */
  char    *metrics_bind;       /* "ADDR:PORT" */
  double   shutdown_timeout;   /* seconds; < 0: not set */
  char    *webhook_url;
  gint64   storage_min_free_mb; /* < 0: not set */
  int      stall_seconds;      /* < 0: not set */
  int      alert_interval;     /* seconds; < 0: not set */
} CdlServerConfig;

void     cdl_server_config_init          (CdlServerConfig  *config);
void     cdl_server_config_clear         (CdlServerConfig  *config);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CdlServerConfig, cdl_server_config_clear)

gboolean cdl_server_config_load          (CdlServerConfig  *config,
                                          const char       *path,
                                          GError          **error);

/* Reads password_file, when set, into PGPASSWORD for libpq; refuses a
 * file that others can read. */
gboolean cdl_server_config_apply_password (CdlServerConfig *config,
                                           GError         **error);

/* "127.0.0.1:9470" or "[::1]:9470". */
gboolean cdl_server_parse_address        (const char       *text,
                                          char            **host,
                                          guint            *port,
                                          GError          **error);

/* Tells systemd (Type=notify) about @state, e.g. "READY=1", through the
 * datagram socket of $NOTIFY_SOCKET; nothing without it. */
void     cdl_server_sd_notify            (const char       *state);

G_END_DECLS
