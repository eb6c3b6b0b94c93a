"""The daemonset controller: one pod per eligible node (upstream ``pkg/controller/daemon``)."""
