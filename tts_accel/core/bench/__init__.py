"""`tts bench`: execution modes side by side, the acoustic engines side by side, and the measuring both share."""

from __future__ import annotations

from typing import Any


def save_figure(fig: Any, path: Any) -> None:
    """Write the matplotlib figure ``fig`` to ``path`` and close it; an error naming the path when
    it cannot be written (the plots of `tts bench` and `tts bench --serve`)."""
    import matplotlib.pyplot as plt

    from tts_accel.core.errors import output_error

    try:
        fig.savefig(path)
    except OSError as err:
        raise output_error(path, err) from None
    finally:
        plt.close(fig)
