"""The kubelet API the node agent serves on its node address."""
