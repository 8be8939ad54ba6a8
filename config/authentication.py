"""Token authentication that remembers a valid token in the process for AUTH_TOKEN_CACHE_SECONDS.

DRF's TokenAuthentication reads the token and its user on every request; a
status poller sends one a second (docs/performance.md, "Why the code is as it
is"). The cost: a token deleted or a user deactivated in another process
still works in this one for at most that long (0 turns this off); in the
process where it happens the signals below drop the entry at once.
"""

import copy
import threading
import time
from collections import OrderedDict
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

# Tokens remembered per process; the least recently used goes first.
MAX_REMEMBERED = 1000

_remembered: OrderedDict[str, tuple[float, Any, Token]] = OrderedDict()
_lock = threading.Lock()


class CachedTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key):
        seconds = settings.AUTH_TOKEN_CACHE_SECONDS
        if seconds <= 0:
            return super().authenticate_credentials(key)
        now = time.monotonic()
        with _lock:
            entry = _remembered.get(key)
            if entry is not None and entry[0] > now:
                _remembered.move_to_end(key)
                # A copy: a request may set attributes on its user; the next one starts clean.
                return copy.copy(entry[1]), entry[2]
        user, token = super().authenticate_credentials(key)  # raises for a bad or inactive one
        with _lock:
            _remembered[key] = (now + seconds, user, token)
            _remembered.move_to_end(key)
            while len(_remembered) > MAX_REMEMBERED:
                _remembered.popitem(last=False)
        return copy.copy(user), token


def forget(*, user_id=None, key=None) -> None:
    """Drop remembered tokens: one by key, or all of a user's."""
    with _lock:
        for remembered, (_, user, _) in list(_remembered.items()):
            if remembered == key or user.pk == user_id:
                del _remembered[remembered]


@receiver(post_delete, sender=Token, dispatch_uid="authentication.token_deleted")
def _token_deleted(sender, instance, **kwargs):
    forget(key=instance.key)


@receiver(post_save, sender=get_user_model(), dispatch_uid="authentication.user_saved")
def _user_saved(sender, instance, **kwargs):
    # Deactivated, made staff or not, a new password: the next request reads the user afresh.
    forget(user_id=instance.pk)
