"""Developer laptop: the embedded default, no servers needed."""

from .base import *  # noqa: F403

DEBUG = True
