"""``python -m controllers.scheduler``: binds pending pods to Ready nodes (kube-scheduler)."""
