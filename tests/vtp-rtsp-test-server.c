/* vtp-rtsp-test-server: an RTSP camera stand-in on loopback for the tests
 * and docs/rtsp-camera.md. Serves GStreamer's test video (the moving ball,
 * 320x240 at 15 fps, as RTP/JPEG) at rtsp://127.0.0.1:PORT/test with
 * gst-rtsp-server, prints that URL on standard output once it listens,
 * and runs until standard input ends (or Ctrl-C).
 *
 *   vtp-rtsp-test-server [--port PORT] [--pipeline "( ... name=pay0 )"]
 *
 * PORT 0 (the default) takes a free port. Debian: libgstrtspserver-1.0-dev. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <glib-unix.h>
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>

#define DEFAULT_PIPELINE "( videotestsrc is-live=true pattern=ball ! video/x-raw,format=I420,width=320,height=240," \
  "framerate=15/1 ! jpegenc quality=85 ! rtpjpegpay name=pay0 pt=26 )"

static gboolean
quit (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

/* Standard input readable: its end (the parent is gone or closed it) ends
 * the server; other input is ignored. */
static gboolean
on_stdin (gint fd, GIOCondition condition, gpointer loop)
{
  char buf[256];

  if ((condition & (G_IO_HUP | G_IO_ERR)) || read (fd, buf, sizeof buf) <= 0) {
    g_main_loop_quit (loop);
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

int
main (int argc, char **argv)
{
  gint port = 0;
  g_autofree char *pipeline = NULL;
  GOptionEntry entries[] = {
    { "port", 'p', 0, G_OPTION_ARG_INT, &port, "Port on 127.0.0.1 (default 0: a free one)", "PORT" },
    { "pipeline", 0, 0, G_OPTION_ARG_STRING, &pipeline, "The media: a launch line in ( ) whose payloader is pay0",
      "LAUNCH" },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- serve a test video at rtsp://127.0.0.1:PORT/test");
  g_autoptr (GError) error = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  GstRTSPServer *server;
  GstRTSPMountPoints *mounts;
  GstRTSPMediaFactory *factory;
  g_autofree char *service = NULL;

  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    fprintf (stderr, "vtp-rtsp-test-server: %s\n", error->message);
    return 2;
  }
  loop = g_main_loop_new (NULL, FALSE);
  server = gst_rtsp_server_new ();
  service = g_strdup_printf ("%d", port);
  gst_rtsp_server_set_address (server, "127.0.0.1");
  gst_rtsp_server_set_service (server, service);
  factory = gst_rtsp_media_factory_new ();
  gst_rtsp_media_factory_set_launch (factory, pipeline ? pipeline : DEFAULT_PIPELINE);
  gst_rtsp_media_factory_set_shared (factory, TRUE);
  mounts = gst_rtsp_server_get_mount_points (server);
  gst_rtsp_mount_points_add_factory (mounts, "/test", factory);
  g_object_unref (mounts);
  if (!gst_rtsp_server_attach (server, NULL)) {
    fprintf (stderr, "vtp-rtsp-test-server: cannot listen on 127.0.0.1:%d\n", port);
    return 1;
  }
  printf ("rtsp://127.0.0.1:%d/test\n", gst_rtsp_server_get_bound_port (server));
  fflush (stdout);
  g_unix_fd_add (STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, loop);
  g_unix_signal_add (SIGINT, quit, loop);
  g_unix_signal_add (SIGTERM, quit, loop);
  g_main_loop_run (loop);
  g_object_unref (server);
  return 0;
}
