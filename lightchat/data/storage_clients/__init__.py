"""Chainlit's ``chainlit.data.storage_clients`` under its lightchat path: the storage
clients a data layer takes as ``storage_provider=``, one module per service as in Chainlit
(``s3``, ``gcs``, ``azure_blob``). They are lightchat's bucket storages
(``lightchat.storage``), so the same object also serves as an app's ``files=``.
"""
