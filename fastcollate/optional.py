"""Optional dependencies: import them with one message that names the extra to install."""

import importlib

# The extras of pyproject.toml and what each one installs.
REFERENCE_EXTRA = "reference"  # OpenCV and shapely, for the reference path and `fastcollate bench`
IMAGES_EXTRA = "images"  # OpenCV, for decoding images and `fastcollate render`


class MissingDependencyError(ImportError):
    """Error for an optional dependency that is not installed. The message names the extra that installs it."""


def import_optional(module, purpose, extra=REFERENCE_EXTRA):
    """Import ``module`` or raise `MissingDependencyError` saying that ``purpose`` needs ``extra``.

    ``purpose`` completes the sentence "... needs <package>", such as
    ``"the reference path"``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        package = "OpenCV (cv2)" if module == "cv2" else module.split(".")[0]
        raise MissingDependencyError(
            f"{purpose} needs {package}, which is not installed ({error}): "
            f"pip install 'fastcollate[{extra}]'"
        ) from None


def require_reference_dependencies(purpose="the reference path"):
    """Import OpenCV and shapely, which the reference path needs, or raise `MissingDependencyError`."""
    import_optional("cv2", purpose)
    import_optional("shapely.geometry", purpose)
