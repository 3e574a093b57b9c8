/* cdl-test-browser.h: a headless Chromium driven over the DevTools protocol
 *
 * Starts `chromium --headless=new` on a private profile, connects to its
 * DevTools websocket with libsoup, opens one page (a flattened session) and
 * offers what the web tests need: evaluate JavaScript, touch input, phone
 * emulation, offline emulation, the responses the page received, and
 * screenshots. Calls are synchronous: they iterate the thread-default main
 * context until the answer arrives.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct _CdlTestBrowser CdlTestBrowser;

/* The chromium program: $CDL_CHROMIUM, else chromium or chromium-browser
 * on PATH; NULL when there is none. */
char           *cdl_test_browser_find        (void);

CdlTestBrowser *cdl_test_browser_new         (const char      *program,
                                              GError         **error);
void            cdl_test_browser_free        (CdlTestBrowser  *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdlTestBrowser, cdl_test_browser_free)

/* Sends @method with @params (a JSON object text, or NULL) to the page
 * and returns its "result"; aborts the test on a protocol error. */
JsonNode       *cdl_test_browser_call        (CdlTestBrowser  *self,
                                              const char      *method,
                                              const char      *params);

/* A phone: @width × @height CSS pixels, touch, mobile viewport. */
void            cdl_test_browser_phone       (CdlTestBrowser  *self,
                                              guint            width,
                                              guint            height,
                                              double           scale);
void            cdl_test_browser_navigate    (CdlTestBrowser  *self,
                                              const char      *url);
void            cdl_test_browser_set_offline (CdlTestBrowser  *self,
                                              gboolean         offline);
/* A slow network: @latency_ms added per request, throughputs in bytes/s
 * (-1: unlimited). */
void            cdl_test_browser_throttle    (CdlTestBrowser  *self,
                                              gboolean         offline,
                                              guint            latency_ms,
                                              gint64           down_bytes_per_s,
                                              gint64           up_bytes_per_s);

/* Evaluates @expression (promises awaited) and returns its value. */
JsonNode       *cdl_test_browser_eval        (CdlTestBrowser  *self,
                                              const char      *expression);
char           *cdl_test_browser_eval_string (CdlTestBrowser  *self,
                                              const char      *expression);
gint64          cdl_test_browser_eval_int    (CdlTestBrowser  *self,
                                              const char      *expression);
/* Polls @expression until it is truthy (one that throws counts as
 * false); aborts after @timeout_ms. */
void            cdl_test_browser_wait        (CdlTestBrowser  *self,
                                              const char      *expression,
                                              guint            timeout_ms);
/* Runs the main context for @ms. */
void            cdl_test_browser_sleep       (CdlTestBrowser  *self,
                                              guint            ms);

/* Touch input in CSS pixels. */
void            cdl_test_browser_tap         (CdlTestBrowser  *self,
                                              double           x,
                                              double           y);
void            cdl_test_browser_swipe       (CdlTestBrowser  *self,
                                              double           x0,
                                              double           y0,
                                              double           x1,
                                              double           y1,
                                              guint            steps);
/* Two fingers from @d0 apart to @d1 apart around (@x, @y). */
void            cdl_test_browser_pinch       (CdlTestBrowser  *self,
                                              double           x,
                                              double           y,
                                              double           d0,
                                              double           d1);

/* A key press: @key as in KeyboardEvent.key ("1", "ArrowRight"), @code
 * as in KeyboardEvent.code ("Digit1"), @key_code its Windows key code. */
void            cdl_test_browser_key         (CdlTestBrowser  *self,
                                              const char      *key,
                                              const char      *code,
                                              guint            key_code);
/* Fails requests whose URL matches @pattern ("*" wildcards) as a network
 * error would; NULL unblocks. */
void            cdl_test_browser_block       (CdlTestBrowser  *self,
                                              const char      *pattern);
void            cdl_test_browser_reload      (CdlTestBrowser  *self);

/* Network.responseReceived of the page so far: each a JSON object
 * {url, status, headers, fromDiskCache}. */
GPtrArray      *cdl_test_browser_responses   (CdlTestBrowser  *self);
void            cdl_test_browser_clear_responses (CdlTestBrowser *self);
/* URLs of Network.requestWillBeSent so far. */
GPtrArray      *cdl_test_browser_requests    (CdlTestBrowser  *self);

/* A PNG of the viewport. */
GBytes         *cdl_test_browser_screenshot  (CdlTestBrowser  *self);

G_END_DECLS
