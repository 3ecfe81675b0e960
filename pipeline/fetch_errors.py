"""The base of the fetch stage's errors, in a module of its own.

Downloading and layout checks (`pipeline.fetch`) and archive extraction (`pipeline.archives`)
raise errors of one family, so a caller can catch `FetchError` for any of them; the base lives
here so that `pipeline.fetch` can import `pipeline.archives` without a circular import.
"""


class FetchError(RuntimeError):
    """Base of the fetch stage's errors; messages name the URL/path and the way out."""
