"""``featherface serve``: the detector as a small, safe HTTP service with a browser page.

Optional extra (``pip install featherface[serve]``): Starlette + uvicorn. The service owns no
detection logic: it decodes uploads with the package's guarded image decoder and calls the
library (:class:`~featherface.FaceDetector`, :func:`~featherface.inference.anonymize.anonymize_image`,
:meth:`~featherface.types.Face.align`), so it finds exactly the faces the library finds.
"""

from featherface.serve.settings import ServeSettings

__all__ = ["ServeSettings", "create_app"]


def __getattr__(name: str):  # create_app needs starlette: imported on use, not with the settings
    if name == "create_app":
        from featherface.serve.app import create_app

        return create_app
    raise AttributeError(name)
