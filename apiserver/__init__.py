"""kubemu's apiserver (``python -m apiserver``)."""

import os

# gRPC (the etcd client) must not restart its pollers in a forked child: every fork
# here is followed by an exec (subprocesses, some with a ``preexec_fn``), and a poller
# started in the child can abort it before the exec, when the child's descriptors close.
# Set before any module of this package imports grpc, which reads it when it starts.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
