"""kubemu's launcher: ``kubemu up`` runs every process of the control plane.

See :mod:`kubemu.cli` (command line), :mod:`kubemu.components` (the process
table), :mod:`kubemu.supervisor` (process supervision),
:mod:`kubemu.instance` (one ``kubemu up`` per data directory) and
:mod:`kubemu.kubeconfig` (kubeconfig files).
"""
