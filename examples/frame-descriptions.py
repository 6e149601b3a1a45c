#!/usr/bin/python3
"""Read vtp's descriptions off the video frames, in Python, with nothing but
GStreamer's own bindings (Debian: python3-gi; the Gst and GstVideo typelibs
come with GStreamer's -dev packages).

    GST_PLUGIN_PATH=build/plugins examples/frame-descriptions.py MODEL [VIDEO] [--regions] [--prompt=TEXT]

vtpattach, on the video branch, puts on each frame the description in force
at its time: a "vtp-description" meta (a GstCustomMeta) whose structure has
text, prompt, pts (of the frame described), duration, tokens, latency-ms...
Without VIDEO: 3 seconds of videotestsrc. --regions: vtpregions marks the
left and right halves of each frame as regions of interest, vtpencoder
roi=true describes each, and each ROI meta of the described frame gets its
region's description as a "vtp-description" parameter.
"""
import sys
import warnings

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstVideo", "1.0")
from gi.repository import GLib, Gst, GstVideo  # noqa: E402


def seconds(ns):
    return f"{ns // 3600_000_000_000}:{ns // 60_000_000_000 % 60:02}:{ns % 60_000_000_000 / 1e9:06.3f}"


def regions_of(description):
    """The "regions" array of a frame described region by region."""
    ok, array = description.get_array("regions")
    if not ok:
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # GValueArray: PyGObject's only way in
        # copies: the array's own go with it
        return [array.get_nth(i).copy() for i in range(array.n_values)]


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    regions = "--regions" in argv
    prompts = [a.split("=", 1)[1] for a in argv[1:] if a.startswith("--prompt=")]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    model = args[0]
    Gst.init(None)
    source = ("filesrc name=file ! decodebin ! videoconvert" if len(args) > 1 else
              "videotestsrc num-buffers=30 pattern=ball ! video/x-raw,width=320,height=240,framerate=10/1 ! "
              "videoconvert")
    zones = ' ! vtpregions regions="0,0,160,240:left;160,0,160,240:right"' if regions else ""
    pipeline = Gst.parse_launch(
        f"{source} ! video/x-raw,format=RGB{zones} ! tee name=t "
        "t. ! queue max-size-buffers=0 max-size-bytes=0 max-size-time=0 ! vtpattach name=a ! "
        "appsink name=frames sync=false "
        "t. ! vtpencoder name=encoder frame-interval=10 ! vtpprojector name=projector ! "
        "vtpllm name=llm timestamps=frame max-new-tokens=24 ! a.text_sink")
    if len(args) > 1:
        pipeline.get_by_name("file").set_property("location", args[1])
    for name in ("encoder", "projector", "llm"):
        pipeline.get_by_name(name).set_property("model", model)
    pipeline.get_by_name("encoder").set_property("roi", regions)
    if prompts:
        pipeline.get_by_name("llm").set_property("prompt", prompts[-1])

    def on_frame(sink):
        buf = sink.emit("pull-sample").get_buffer()
        meta = buf.get_custom_meta("vtp-description")
        if not meta:
            print(f"{seconds(buf.pts)}  (no description yet)")
            return Gst.FlowReturn.OK
        d = meta.get_structure()
        _, described = d.get_uint64("pts")
        mark = "*" if described == buf.pts else " "
        print(f"{seconds(buf.pts)} {mark} of {seconds(described)}: {d.get_string('text')!r}", flush=True)
        if described == buf.pts:
            for r in regions_of(d):
                _, roi_id = r.get_int("roi-id")
                roi = GstVideo.buffer_get_video_region_of_interest_meta_id(buf, roi_id)
                param = roi.get_param("vtp-description") if roi else None
                print(f"    region {roi_id} ({GLib.quark_to_string(roi.roi_type)}, {roi.w}x{roi.h} at "
                      f"{roi.x},{roi.y}): {param.get_string('text') if param else None!r}")
        return Gst.FlowReturn.OK

    sink = pipeline.get_by_name("frames")
    sink.set_property("emit-signals", True)
    sink.connect("new-sample", on_frame)
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(Gst.CLOCK_TIME_NONE, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if msg.type == Gst.MessageType.ERROR:
        print(msg.parse_error()[0].message, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
