"""The kubelet API of the node agent: the server (:mod:`.server`) and what it serves."""
