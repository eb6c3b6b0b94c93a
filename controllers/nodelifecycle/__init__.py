"""Node lifecycle controllers of kube-controller-manager: ``nodelifecycle`` (node health,
conditions and taints), ``taint-eviction-controller`` (NoExecute evictions) and
``pod-garbage-collector`` (orphaned, unscheduled-terminating and surplus terminated pods)."""
