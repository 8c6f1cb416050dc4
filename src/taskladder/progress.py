"""Progress bars on stderr (rich), silent where stderr is not a terminal."""

from __future__ import annotations

from rich.progress import Progress as _RichProgress


class Progress(_RichProgress):
    """rich's ``Progress``, without the empty line its ``stop`` prints on a console that is
    not interactive even when the bar is disabled: piped or captured stderr then holds only
    warnings and errors, and an error is one line, not a blank line and the error."""

    def stop(self) -> None:
        if not self.disable:
            super().stop()
