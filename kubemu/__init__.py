"""kubemu's launcher: ``kubemu up`` runs every process of the control plane.

See :mod:`kubemu.cli` (command line), :mod:`kubemu.components` (the process
table), :mod:`kubemu.supervisor` (process supervision) and
:mod:`kubemu.kubeconfig` (kubeconfig files).
"""
