"""``python -m controllers.node``: a node agent (kubelet) that runs pods with real sockets."""
