"""The content-addressed artifact store: ``<store>/sha256/<hex>/<files>``.

One Protocol (:mod:`adapterctl.store.base`), one module per backend (``file://`` in
:mod:`adapterctl.store.filestore`, ``s3://`` in :mod:`adapterctl.store.s3store`), and the
digests that name what is stored (:mod:`adapterctl.store.digests`).
"""
