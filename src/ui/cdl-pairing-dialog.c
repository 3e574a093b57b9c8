/* cdl-pairing-dialog.c: a QR code that signs a phone in as an annotator
 *
 * The code is single-use and valid for CDL_PAIRING_TTL_S; only its hash is
 * stored. The dialog counts down and offers a new one. A phone can only
 * open the link when the REST server listens on the local network, which
 * is off by default: the switch here turns it on, and says so.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-ui"

#include "config.h"

#include <arpa/inet.h>
#include <glib/gi18n.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <qrencode.h>

#include "ui/cdl-pairing-dialog.h"

/* Quiet zone the QR specification asks for, in modules. */
#define QR_BORDER 4
#define QR_SCALE 8

struct _CdlPairingDialog
{
  AdwWindow        parent_instance;

  CdlAuthService  *auth;
  GSettings       *settings;
  guint            port;
  GCancellable    *cancellable;
  CdlPairingCode  *code;
  guint            tick_id;

  /* template */
  GtkPicture      *qr_picture;
  GtkLabel        *url_label;
  GtkLabel        *expiry_label;
  GtkButton       *new_button;
  GtkSwitch       *lan_switch;
  GtkLabel        *warning_label;
  GtkLabel        *error_label;
  GtkSpinner      *spinner;
};

G_DEFINE_FINAL_TYPE (CdlPairingDialog, cdl_pairing_dialog, ADW_TYPE_WINDOW)

GdkTexture *
cdl_qr_texture_new (const char  *text,
                    guint        scale,
                    GError     **error)
{
  QRcode *qr;
  g_autoptr(GBytes) bytes = NULL;
  guint8 *pixels;
  gsize side, stride;

  g_return_val_if_fail (text != NULL, NULL);
  g_return_val_if_fail (scale > 0, NULL);

  qr = QRcode_encodeString (text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
  if (qr == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("The link is too long for a QR code (%zu characters)"), strlen (text));
      return NULL;
    }

  side = (gsize)(qr->width + 2 * QR_BORDER) * scale;
  stride = side * 3;
  pixels = g_malloc (stride * side);
  memset (pixels, 0xff, stride * side);

  for (int y = 0; y < qr->width; y++)
    for (int x = 0; x < qr->width; x++)
      {
        /* Bit 0 of each module is dark or light. */
        if ((qr->data[y * qr->width + x] & 1) == 0)
          continue;

        for (guint dy = 0; dy < scale; dy++)
          memset (pixels + ((y + QR_BORDER) * scale + dy) * stride + (x + QR_BORDER) * scale * 3,
                  0, scale * 3);
      }

  QRcode_free (qr);
  bytes = g_bytes_new_take (pixels, stride * side);

  return gdk_memory_texture_new ((int)side, (int)side, GDK_MEMORY_R8G8B8, bytes, stride);
}

/* FIXME: the first interface wins; on a machine with several networks (a
 * VPN, container bridges) the dialog should let the user pick the one the
 * phone is on. */
char *
cdl_lan_address (void)
{
  struct ifaddrs *list = NULL;
  char *found = NULL;

  if (getifaddrs (&list) != 0)
    return NULL;

  for (struct ifaddrs *i = list; i != NULL && found == NULL; i = i->ifa_next)
    {
      char text[INET_ADDRSTRLEN];

      if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET
          || (i->ifa_flags & IFF_UP) == 0 || (i->ifa_flags & IFF_LOOPBACK) != 0)
        continue;

      if (inet_ntop (AF_INET, &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr,
                     text, sizeof text) != NULL)
        found = g_strdup (text);
    }

  freeifaddrs (list);
  return found;
}

static gboolean
cdl_pairing_dialog_on_lan (CdlPairingDialog *self)
{
  return self->settings != NULL && g_settings_get_boolean (self->settings, "server-listen-lan");
}

/* Where the phone reaches the REST server. */
static char *
cdl_pairing_dialog_base_url (CdlPairingDialog *self)
{
  g_autofree char *lan = NULL;

  if (cdl_pairing_dialog_on_lan (self) && (lan = cdl_lan_address ()) != NULL)
    return g_strdup_printf ("http://%s:%u", lan, self->port);

  return g_strdup_printf ("http://127.0.0.1:%u", self->port);
}

static void
cdl_pairing_dialog_update_warning (CdlPairingDialog *self)
{
  g_autofree char *lan = cdl_lan_address ();

  if (!cdl_pairing_dialog_on_lan (self))
    {
      gtk_label_set_label (self->warning_label,
                           _("Only this computer can open the link. Turn on “Reachable on "
                             "the Local Network” so that a phone on the same network can."));
      gtk_widget_set_visible (GTK_WIDGET (self->warning_label), TRUE);
    }
  else if (lan == NULL)
    {
      gtk_label_set_label (self->warning_label,
                           _("This computer has no address on a network. Connect it to the "
                             "phone's network, then press New Code."));
      gtk_widget_set_visible (GTK_WIDGET (self->warning_label), TRUE);
    }
  else
    {
      gtk_widget_set_visible (GTK_WIDGET (self->warning_label), FALSE);
    }
}

static gboolean
cdl_pairing_dialog_tick (gpointer user_data)
{
  CdlPairingDialog *self = user_data;
  g_autoptr(GDateTime) now = NULL;
  GTimeSpan left;

  if (self->code == NULL)
    {
      self->tick_id = 0;
      return G_SOURCE_REMOVE;
    }

  now = g_date_time_new_now_utc ();
  left = g_date_time_difference (self->code->expires_at, now) / G_TIME_SPAN_SECOND;

  if (left <= 0)
    {
      gtk_label_set_label (self->expiry_label,
                           _("This code has expired. Press New Code for another one."));
      gtk_widget_set_opacity (GTK_WIDGET (self->qr_picture), 0.15);
      self->tick_id = 0;
      return G_SOURCE_REMOVE;
    }

  {
    /* TRANSLATORS: a countdown, minutes:seconds, e.g. "Expires in 9:41" */
    g_autofree char *text = g_strdup_printf (_("Works once; expires in %d:%02d"),
                                             (int)(left / 60), (int)(left % 60));

    gtk_label_set_label (self->expiry_label, text);
  }

  return G_SOURCE_CONTINUE;
}

static void
cdl_pairing_dialog_set_busy (CdlPairingDialog *self,
                             gboolean          busy)
{
  gtk_spinner_set_spinning (self->spinner, busy);
  gtk_widget_set_sensitive (GTK_WIDGET (self->new_button), !busy);
}

static void
cdl_pairing_dialog_created_cb (GObject      *source,
                               GAsyncResult *result,
                               gpointer      user_data)
{
  CdlPairingDialog *self;
  g_autoptr(CdlPairingCode) code = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  g_autoptr(GError) error = NULL;

  /* Cancelled when the dialog went away or asked anew: leave @user_data be. */
  code = cdl_auth_service_create_pairing_finish (CDL_AUTH_SERVICE (source), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  self = CDL_PAIRING_DIALOG (user_data);

  cdl_pairing_dialog_set_busy (self, FALSE);
  if (code != NULL)
    texture = cdl_qr_texture_new (code->url, QR_SCALE, &error);

  if (texture == NULL)
    {
      g_autofree char *text = g_strdup_printf (_("No pairing code could be made: %s"),
                                               error->message);

      gtk_label_set_label (self->error_label, text);
      gtk_widget_set_visible (GTK_WIDGET (self->error_label), TRUE);
      return;
    }

  gtk_widget_set_visible (GTK_WIDGET (self->error_label), FALSE);
  g_clear_pointer (&self->code, cdl_pairing_code_free);
  self->code = g_steal_pointer (&code);

  gtk_picture_set_paintable (self->qr_picture, GDK_PAINTABLE (texture));
  gtk_widget_set_opacity (GTK_WIDGET (self->qr_picture), 1.0);
  gtk_label_set_label (self->url_label, self->code->url);
  /* Not the selectable link: a caret in it looks like a text field. */
  gtk_widget_grab_focus (GTK_WIDGET (self->new_button));

  g_clear_handle_id (&self->tick_id, g_source_remove);
  if (cdl_pairing_dialog_tick (self) == G_SOURCE_CONTINUE)
    self->tick_id = g_timeout_add_seconds (1, cdl_pairing_dialog_tick, self);
}

void
cdl_pairing_dialog_refresh (CdlPairingDialog *self)
{
  g_autofree char *base = NULL;

  g_return_if_fail (CDL_IS_PAIRING_DIALOG (self));

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();

  cdl_pairing_dialog_update_warning (self);
  cdl_pairing_dialog_set_busy (self, TRUE);
  base = cdl_pairing_dialog_base_url (self);
  cdl_auth_service_create_pairing_async (self->auth, NULL, NULL, base, self->cancellable,
                                         cdl_pairing_dialog_created_cb, self);
}

const char *
cdl_pairing_dialog_get_url (CdlPairingDialog *self)
{
  g_return_val_if_fail (CDL_IS_PAIRING_DIALOG (self), NULL);

  return self->code != NULL ? self->code->url : NULL;
}

static void
cdl_pairing_dialog_new_clicked_cb (CdlPairingDialog *self)
{
  cdl_pairing_dialog_refresh (self);
}

static void
cdl_pairing_dialog_lan_changed_cb (CdlPairingDialog *self)
{
  /* The link names another address now: the old QR code would mislead. */
  cdl_pairing_dialog_refresh (self);
}

static void
cdl_pairing_dialog_dispose (GObject *object)
{
  CdlPairingDialog *self = CDL_PAIRING_DIALOG (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->tick_id, g_source_remove);
  if (self->settings != NULL)
    g_signal_handlers_disconnect_by_data (self->settings, self);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->auth);
  g_clear_object (&self->settings);

  gtk_widget_dispose_template (GTK_WIDGET (self), CDL_TYPE_PAIRING_DIALOG);

  G_OBJECT_CLASS (cdl_pairing_dialog_parent_class)->dispose (object);
}

static void
cdl_pairing_dialog_finalize (GObject *object)
{
  CdlPairingDialog *self = CDL_PAIRING_DIALOG (object);

  g_clear_pointer (&self->code, cdl_pairing_code_free);

  G_OBJECT_CLASS (cdl_pairing_dialog_parent_class)->finalize (object);
}

static void
cdl_pairing_dialog_class_init (CdlPairingDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = cdl_pairing_dialog_dispose;
  object_class->finalize = cdl_pairing_dialog_finalize;

  gtk_widget_class_set_template_from_resource (widget_class, RESOURCE_BASE
                                               "/ui/cdl-pairing-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, CdlPairingDialog, qr_picture);
  gtk_widget_class_bind_template_child (widget_class, CdlPairingDialog, url_label);
  gtk_widget_class_bind_template_child (widget_class, CdlPairingDialog, expiry_label);
  gtk_widget_class_bind_template_child (widget_class, CdlPairingDialog, new_button);
  gtk_widget_class_bind_template_child (widget_class, CdlPairingDialog, lan_switch);
  gtk_widget_class_bind_template_child (widget_class, CdlPairingDialog, warning_label);
  gtk_widget_class_bind_template_child (widget_class, CdlPairingDialog, error_label);
  gtk_widget_class_bind_template_child (widget_class, CdlPairingDialog, spinner);
  gtk_widget_class_bind_template_callback (widget_class, cdl_pairing_dialog_new_clicked_cb);

  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
cdl_pairing_dialog_init (CdlPairingDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

CdlPairingDialog *
cdl_pairing_dialog_new (GtkWindow      *parent,
                        CdlAuthService *auth,
                        GSettings      *settings,
                        guint           port)
{
  CdlPairingDialog *self;

  g_return_val_if_fail (parent == NULL || GTK_IS_WINDOW (parent), NULL);
  g_return_val_if_fail (CDL_IS_AUTH_SERVICE (auth), NULL);
  g_return_val_if_fail (settings == NULL || G_IS_SETTINGS (settings), NULL);

  self = g_object_new (CDL_TYPE_PAIRING_DIALOG, "transient-for", parent, NULL);
  self->auth = g_object_ref (auth);
  self->port = port;

  if (settings != NULL)
    {
      self->settings = g_object_ref (settings);
      g_settings_bind (settings, "server-listen-lan", self->lan_switch, "active",
                       G_SETTINGS_BIND_DEFAULT);
      g_signal_connect_swapped (settings, "changed::server-listen-lan",
                                G_CALLBACK (cdl_pairing_dialog_lan_changed_cb), self);
    }
  else
    {
      gtk_widget_set_sensitive (GTK_WIDGET (self->lan_switch), FALSE);
    }

  cdl_pairing_dialog_refresh (self);
  return self;
}
