"""Request-chain filters that are not about identity: max-in-flight, request timeout,
and the connection-level read deadlines of the HTTP server (as kube-apiserver's
``pkg/server/filters`` and its ``http.Server`` settings)."""
