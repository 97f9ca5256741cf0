"""The shop's session store: PostgreSQL, like Django's ``db`` backend, with each session save committed without
waiting for the WAL flush.

Every product page saves the session (the shopper's recently viewed products, which the home page's suggestions
read), and that durable COMMIT was the slowest step of a product page (bench/profile_requests.py: 4 ms of fsync
for a 28 ms page). ``synchronous_commit = off`` for the session's own transaction can lose the last fraction of a
second of session changes if the database server crashes, never corrupt them or anything else; orders and
payments are written by their own transactions, which keep the server's setting. What a crash could undo is a
session's last change: a product in the recently viewed list, a cart line. The checkout sets ``commit_durably``
on the session: the order is durable, so its emptied cart and its reference in the session must be too (else a
crash could bring the cart back and hide the order's confirmation page). Inside a caller's transaction the save is
left alone: SET LOCAL would reach the caller's writes too.
"""

from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import DatabaseError, IntegrityError, connections, router, transaction


class SessionStore(DatabaseSessionStore):
    commit_durably = False
    """Set on a request's session when its change must survive a crash (the checkout): a normal commit then."""

    def save(self, must_create: bool = False) -> None:
        """Django's ``db`` save (5.2) with the SET LOCAL inside its transaction: one BEGIN and COMMIT, no savepoint."""
        if self.session_key is None:
            return self.create()
        data = self._get_session(no_load=must_create)
        obj = self.create_model_instance(data)
        using = router.db_for_write(self.model, instance=obj)
        outer = connections[using].in_atomic_block
        try:
            with transaction.atomic(using=using):
                if not outer and not self.commit_durably:
                    with connections[using].cursor() as cursor:
                        cursor.execute("SET LOCAL synchronous_commit TO OFF")
                obj.save(force_insert=must_create, force_update=not must_create, using=using)
        except IntegrityError:
            if must_create:
                raise CreateError
            raise
        except DatabaseError:
            if not must_create:
                raise UpdateError
            raise
