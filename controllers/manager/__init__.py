"""``python -m controllers.manager``: kubemu's kube-controller-manager."""
