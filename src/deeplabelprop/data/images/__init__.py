"""The image pipeline: the data-set type with unknown labels (``dataset``), listing a folder
(``listing``), decoding files (``files``), keeping decoded images (``cache``), augmenting
(``augment``), batching (``sampling``) and streaming them to a network (``stream``)."""
