"""Errors and warnings a user sees."""


def did_you_mean(name: str, choices) -> str:
    """`` (did you mean 'piqa'?)`` for a misspelt or miscased name, else ``""``.  A task named
    in its RC format (``piqa_rc``) is matched without the suffix: RC is every task's default."""
    import difflib

    choices = [str(c) for c in choices]
    folded = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(str(name).lower().removesuffix("_rc"), list(folded), n=1, cutoff=0.75)
    return f" (did you mean {folded[close[0]]!r}?)" if close else ""


def listed(items, k: int = 4, quote: bool = False) -> str:
    """The first ``k`` of ``items`` and how many more, for a one-line message (a file's 100 column
    names, a ladder's 40 runs)."""
    items = [repr(str(x)) if quote else str(x) for x in items]
    return ", ".join(items[:k]) + (f" and {len(items) - k} more" if len(items) > k else "")


def cause(e: BaseException, named: bool = True, limit: int = 300) -> str:
    """An exception from a library (pandas, pyarrow, transformers), its lines joined into one and
    cut at ``limit`` characters, for a message that wraps it in parentheses: such messages run over
    several lines (transformers lists what it tried), and cutting the whole wrapped message at its
    first line dropped the closing parenthesis and what followed."""
    line = " ".join(x.strip() for x in str(e).splitlines() if x.strip())
    line = line if len(line) <= limit else line[:limit - 3].rstrip() + "..."
    if not named:
        return line or type(e).__name__
    return f"{type(e).__name__}: {line}" if line else type(e).__name__


class TaskladderError(ValueError):
    """Bad input. The CLI prints the message as one line and exits with status 2."""


class FitWarning(UserWarning):
    """A fit hit a parameter bound, did not converge, or is otherwise suspect."""


class InputWarning(UserWarning):
    """Input taken as asked but worth a second look (e.g. metric conventions mixed on request).

    The CLI prints it as one line, ``taskladder: warning: ...``."""


def recording_input_warnings(fn, *args, **kwargs):
    """``(fn(*args, **kwargs), messages of the InputWarnings it issued)``: the caller says them
    (again, when the result comes from a cache later); other warnings go on as issued."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", InputWarning)
        result = fn(*args, **kwargs)
    said = tuple(str(w.message) for w in caught if issubclass(w.category, InputWarning))
    for w in caught:
        if not issubclass(w.category, InputWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return result, said
