"""The one exception type that entry scripts turn into a one-line error message."""


class FuteError(Exception):
    """Bad input from the user: the message says what is wrong and how to fix it.

    Entry scripts catch it, log the message on one line and exit with status 2,
    so a bash sweep stops on the first broken step instead of writing a bad file.
    """
