"""Files in and out: the lowest floor of the package, one home for each I/O job.

* :mod:`featherface.io.images`: reading any image input as HxWx3 uint8 BGR behind the
  decompression-bomb / special-file guards (the one image reader), encoding, muting OpenCV's
  log lines, resizing and letterboxing, expanding folders into image and video files;
* :mod:`featherface.io.image_header`: the width and height an encoded file declares, without
  decoding it (the bomb guard);
* :mod:`featherface.io.video`: reading video frames (every source kind, within timeouts) and
  opening a video writer that checks what it wrote;
* :mod:`featherface.io.sources`: those timeouts (no OpenCV, for the command line's defaults);
* :mod:`featherface.io.files`: whether a path named as an input file is a readable regular file;
* :mod:`featherface.io.outputs`: output paths checked before the work (``--force``, never an
  input), atomic writes.

Modules here import only the standard library, numpy, OpenCV and :mod:`featherface.errors`
(never torch, never another featherface module). Nothing is re-exported here, so
``import featherface.io.outputs`` does not load OpenCV.
"""
