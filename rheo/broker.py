"""The Celery broker transport for Redis: kombu's own, keeping one redis-py client per
channel instead of building one for every command.

kombu's Redis channel creates a new `redis.Redis` (on the channel's shared connection
pool) for each command it sends, every publish included. Building one copies redis-py's
table of ~170 response callbacks: about twice the CPU of the LPUSH itself, on every PUT that
enqueues an image job. A client holds no state of its own beyond its pool, so one client
per pool does the same work. settings.py selects this transport for redis:// and
rediss:// brokers.
"""

from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    _sync_client = None

    def _create_client(self, asynchronous=False):
        if asynchronous:
            return super()._create_client(asynchronous=True)
        # kombu replaces the pool after a fork or a disconnect; a client follows it.
        if self._sync_client is None or self._sync_client.connection_pool is not self.pool:
            self._sync_client = super()._create_client()
        return self._sync_client


class RedisTransport(kombu_redis.Transport):
    Channel = Channel
