"""One exception type for user-facing problems: the CLI prints its message on one line and exits 2."""


class LicBenchError(Exception):
    """A problem with the user's input or environment, with a message that says what to do."""


def did_you_mean(name: str, choices) -> str:
    """' (did you mean X?)' for the closest of `choices`, or '' when nothing is close."""
    import difflib

    choices = list(choices)
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    if not close and name:
        close = sorted(c for c in choices if c.startswith(name) or name.startswith(c))[:1]  # clic2020 -> clic2020-...
    return f" (did you mean {close[0]!r}?)" if close else ""


class OptionError(LicBenchError):
    """A bad option value (a choice, a number, a format): the CLI answers it as a usage error (exit 2)."""
