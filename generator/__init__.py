"""factsite: a static-site generator for fact-checking newsrooms."""

from pathlib import Path

__version__ = "0.1.0"


def default_theme_dir() -> Path:
    """The default theme: inside the installed package, or the source tree's templates/."""
    here = Path(__file__).resolve().parent
    packaged = here / "_theme"
    return packaged if packaged.is_dir() else here.parent / "templates"
