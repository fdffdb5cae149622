"""A read-only SPARQL 1.1 Protocol endpoint (``/sparql``) with HTML pages (``/``, ``/entity``).

One module a job: :mod:`~kg.server.app` (routes, middleware, ``create_app``, ``serve``),
:mod:`~kg.server.protocol` (parameters, content negotiation, service description),
:mod:`~kg.server.pool` (worker processes and fair scheduling), :mod:`~kg.server.worker`
(the process that runs queries without network access), :mod:`~kg.server.pages` (HTML),
:mod:`~kg.server.options` (settings and their defaults).
"""

from kg.server.options import PoolLimits, ServeOptions

__all__ = ["PoolLimits", "ServeOptions"]
