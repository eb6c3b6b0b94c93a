"""Workload controllers of kube-controller-manager: ``replicaset`` and
``replicationcontroller`` (one implementation, :mod:`controllers.workloads.replicaset`)."""
