"""kube-controller-manager's ``namespace`` controller: empty and finalize terminating namespaces."""
