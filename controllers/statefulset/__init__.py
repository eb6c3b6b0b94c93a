"""The statefulset controller of kube-controller-manager (``--controllers=statefulset``)."""
