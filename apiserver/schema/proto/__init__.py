"""Protobuf field tables of the served kinds, one module per family of API groups.

Each module holds ``TABLES``: protobuf package (``core.v1``, ``apps.v1``,
``meta.v1``, ``resource``…) to message name to entry string. The entry format and
the lookup are in :mod:`apiserver.schema.proto_messages`.
"""
