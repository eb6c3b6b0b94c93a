"""The deployment controller: Deployments rolled out through ReplicaSets."""
