"""kubemu's controllers, node agents, kube-proxy, DNS and console: separate processes."""

import os

# gRPC (the node agent's grpc probes) must not restart its pollers in a forked child:
# host processes start with a ``preexec_fn`` (mount namespaces) and then exec, and a
# poller started in the child can abort it before the exec, when its descriptors close.
# Set before any module of this package imports grpc, which reads it when it starts.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
