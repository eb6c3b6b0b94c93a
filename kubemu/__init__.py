"""kubemu's launcher: ``kubemu up`` runs every process of the control plane.

See :mod:`kubemu.cli` (command line), :mod:`kubemu.up` and :mod:`kubemu.up_flags`
(``kubemu up`` and its flags), :mod:`kubemu.components` (the process
table), :mod:`kubemu.supervisor` (process supervision),
:mod:`kubemu.instance` (one ``kubemu up`` per data directory),
:mod:`kubemu.addresses`, :mod:`kubemu.blocks` and :mod:`kubemu.address_flags`
(each instance its own loopback addresses), :mod:`kubemu.etcd` (the etcd of ``--storage etcd``),
:mod:`kubemu.stored_nodes` (nodes of an earlier run) and
:mod:`kubemu.kubeconfig` (kubeconfig files).
"""
