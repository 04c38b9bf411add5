"""One exception type for user-facing problems: the CLI prints its message on one line and exits 2."""


class LicBenchError(Exception):
    """A problem with the user's input or environment, with a message that says what to do."""


def did_you_mean(name: str, choices) -> str:
    """' (did you mean X?)' for the closest of `choices`, or '' when nothing is close."""
    import difflib

    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""
