"""Service semantics: defaults, validation, ClusterIP/NodePort allocation, repair.

:class:`~apiserver.registry.service.rest.ServiceREST` wires it together for
the registry; the other modules each do one job (``defaults``,
``validation``, ``bitmap``, ``allocator``, ``alloc``, ``strategy``,
``store``, ``repair``).
"""
