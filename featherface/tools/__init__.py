"""Tools: the measurements the ``featherface`` verbs print, built on the library below them.

* :mod:`featherface.tools.compare` - detectors side by side (``featherface compare``);
* :mod:`featherface.tools.bench` - V1 vs V2 Ultra speed, size, FLOPs, memory (``featherface bench``);
* :mod:`featherface.tools.timing`, :mod:`featherface.tools.machine` - how both time things and
  record the machine.

Floors: the tools import the library (io, ops, models, data, inference, training, evaluation,
export, peers); only :mod:`featherface.commands` imports the tools, never the library
(``tests/test_layers.py`` checks both).
"""
