"""The certificate controllers of kube-controller-manager: ``csrsigning``."""
