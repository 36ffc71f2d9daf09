"""Side-by-side speed, size, FLOPs and memory of FeatherFace V1 and V2 Ultra (and a Haar-cascade peer).

Used by ``featherface bench``; also a library:

    >>> from featherface.tools.bench.report import format_markdown
    >>> from featherface.tools.bench.run import run_benchmark
    >>> from featherface.tools.bench.settings import BenchSettings
    >>> print(format_markdown(run_benchmark(BenchSettings.quick())))

Modules: :mod:`~featherface.tools.bench.settings` (the grid), :mod:`~featherface.tools.bench.run`
(running it), :mod:`~featherface.tools.bench.inputs` (pictures, batches, the Haar cascade),
:mod:`~featherface.tools.bench.memory` with :mod:`~featherface.tools.bench.memory_probe` (peak
memory in a fresh process), :mod:`~featherface.tools.bench.profile` (time per block),
:mod:`~featherface.tools.bench.ratios` (V2 / V1) and :mod:`~featherface.tools.bench.report`
(markdown, JSON); the timing is :func:`featherface.tools.timing.time_calls`.

What is measured, and how (so the numbers can be read without the code):

* **parameters**: ``sum(p.numel())``; fp32 weights MB = 4 bytes each.
* **FLOPs**: :class:`torch.utils.flop_counter.FlopCounterMode` on one image. It counts
  convolutions and matrix products only, as FLOPs = 2 x multiply-accumulates (MACs); element-wise
  work (activations, attention products, pooling, resizing, BatchNorm in eval) is not counted.
  Papers that say "FLOPs" for mobile detectors usually mean MACs: we report both.
* **file sizes**: the ONNX files written by :func:`featherface.export.export_onnx` (fp32) and
  :func:`featherface.export.quantize_onnx_int8` (INT8 QDQ, fp32 head output convs), on disk.
* **latency**: wall time of the network call only, on an input already in memory
  (preprocessing, decoding and NMS excluded), ``warmup`` untimed calls then ``repeats`` timed ones;
  median and 90th percentile. torch: eager, ``torch.inference_mode``, ``torch.set_num_threads(t)``;
  torch-opt: the same after :func:`featherface.inference.backends.optimize_for_inference`;
  onnxruntime: CPU provider, ``intra_op_num_threads=t``, ``inter_op_num_threads=1``, all graph
  optimisations. The Haar cascade row runs OpenCV's ``detectMultiScale`` (scale 1.1, 5 neighbours,
  ``cv2.setNumThreads(t)``) on the same images in the same process, grayscale conversion included:
  for it that *is* the whole detection.
* **peak memory**: each (model, runtime) is run in a fresh Python process
  (``python -m featherface.tools.bench.memory_probe``); after the model or session is loaded the
  kernel's RSS high-water mark is reset (``/proc/self/clear_refs`` = 5), one image at the given
  size is run three times, and ``VmHWM - VmRSS(before)`` is reported: the extra resident memory
  inference needs on top of the loaded model (arenas, activations). Falls back to ``ru_maxrss``
  deltas where ``clear_refs`` is not writable.

Weights are random (fixed seed) unless given: speed and size do not depend on weight values.
"""
