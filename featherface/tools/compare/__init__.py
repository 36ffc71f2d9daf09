"""Side-by-side comparison of face detectors: speed, agreement, pictures, and WIDER AP.

Used by ``featherface compare``; also a library:

    >>> from featherface.peers import build_peer
    >>> from featherface.tools.compare.report import format_markdown
    >>> from featherface.tools.compare.run import compare_detectors
    >>> dets = [build_peer("yunet"), build_peer("ultraface-rfb320")]
    >>> result = compare_detectors(dets, ["a.jpg", "b.jpg"], reference="yunet")
    >>> print(format_markdown(result))

Modules: :mod:`~featherface.tools.compare.run` (running and the result),
:mod:`~featherface.tools.compare.agreement` (agreement with a reference detector),
:mod:`~featherface.tools.compare.report` (markdown tables), :mod:`~featherface.tools.compare.grid`
(the picture grid), :mod:`~featherface.tools.compare.wider` (WIDER FACE AP of every detector);
the timing is :func:`featherface.tools.timing.run_detectors`, the line-up
:func:`featherface.peers.factory.build_lineup`.

Why these measures. Unlabelled photos have no ground truth, so detectors are compared with one
chosen *reference* detector: precision = share of a detector's faces that the reference also
found, recall = share of the reference's faces it found (both at IoU >= 0.5, one-to-one greedy
matching by IoU), and, where both give landmarks, the mean landmark distance normalised by the
size of the reference box (``sqrt(w*h)``). This is agreement, not accuracy: the reference has
misses and false alarms of its own. Accuracy comes from
:func:`~featherface.tools.compare.wider.evaluate_on_wider` (the official WIDER FACE protocol) when
the WIDER val images are at hand.

Latency: all detectors run in the same process on the same decoded images. One untimed pass
(warm-up; its detections are the ones reported) is followed by ``repeats`` timed rounds: in each,
every detector runs over all the images back to back (as a user runs one), after a short pause
and one untimed call, the detectors taking turns and rotating who goes first so that background
load hits all of them alike. An image's latency is the median of its repeats; the table gives the
median and the 90th percentile of those over the images. Decoding the file is not timed; each detector's own
resizing/pre-processing, inference and post-processing are.
"""
